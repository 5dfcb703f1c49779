"""Shared unit-test fixtures: keys and a small in-memory chain builder."""

from __future__ import annotations

from typing import Any

import pytest

from govchain.crypto import INTL, CryptoSuite, keeps_sha256_tree, suite_by_name
from govchain.protocol.block import Block, seal_block
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.envelope import Envelope, make_event, utc_now
from govchain.protocol.genesis import genesis_payload, make_genesis_block, make_genesis_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import Frontier, leaf_hash
from govchain.protocol.state import ChainState
from tests.conftest import CRYPTO_PROFILES

CHAIN_ID = "testchain"


class ChainBuilder:
    """Seals blocks the way the orderer does: genesis, then blocks that carry a Frontier along."""

    def __init__(self, chain_id: str = CHAIN_ID, suite: CryptoSuite = INTL) -> None:
        self.chain_id = chain_id
        self.suite = suite
        self.root = SigningKey.generate(suite)
        self.orderer = SigningKey.generate(suite)
        self.genesis_event = make_genesis_event(chain_id, [self.root], [self.orderer])
        self.blocks: list[Block] = [make_genesis_block(self.genesis_event, self.orderer)]
        self.log = Frontier(suite=suite)
        self.log.append(suite.leaf_hash(self.genesis_event.to_bytes()))
        self.sha256_log = Frontier() if keeps_sha256_tree(suite) else None
        """A gm chain's SHA-256 tree over the same leaves (its headers carry both roots)."""
        if self.sha256_log is not None:
            self.sha256_log.append(leaf_hash(self.genesis_event.to_bytes()))
        self.dept_keys: dict[str, SigningKey] = {}
        self._doc = 0

    def new_key(self) -> SigningKey:
        """A fresh key of the chain's suite."""
        return SigningKey.generate(self.suite)

    def genesis_state(self) -> ChainState:
        return ChainState.from_genesis(genesis_payload(self.genesis_event))

    def register(self, dept: str, key: SigningKey | None = None, *, time: str | None = None) -> Envelope:
        key = key or self.new_key()
        self.dept_keys[dept] = key
        return make_event(
            self.root,
            source="root",
            type="department.registered",
            data={"department_id": dept, "name": dept.title(), "public_key": key.public.hex},
            time=time,
        )

    def document(self, dept: str, key: SigningKey | None = None, **overrides: Any) -> Envelope:
        self._doc += 1
        data = {"document_id": f"doc-{self._doc}", "sha256": "ab" * 32, "title": f"Doc {self._doc}"}
        return make_event(
            key or self.dept_keys[dept],
            source=dept,
            type="document.registered",
            data={**data, **overrides},
        )

    def seal(
        self,
        events: list[Envelope | dict[str, Any]],
        *,
        key: SigningKey | None = None,
        height: int | None = None,
        prev_hash: str | None = None,
        commit: bool = True,
    ) -> Block:
        """Seal the next block; with ``commit=False`` the builder's chain and log stay as they were."""
        dicts = [e.to_dict() if isinstance(e, Envelope) else e for e in events]
        leaves = [self.suite.leaf_hash(canonical_bytes(d)) for d in dicts]
        log = self.log if commit else self.log.copy()
        for leaf in leaves:
            log.append(leaf)
        sha256_log = self.sha256_log if commit or self.sha256_log is None else self.sha256_log.copy()
        for d in dicts if sha256_log is not None else []:
            sha256_log.append(leaf_hash(canonical_bytes(d)))  # type: ignore[union-attr]
        block = seal_block(
            chain_id=self.chain_id,
            height=len(self.blocks) if height is None else height,
            prev_hash=self.blocks[-1].hash if prev_hash is None else prev_hash,
            events=dicts,
            leaf_hashes=leaves,
            log_after=log,
            time=utc_now(),  # as the orderer does; the events it seals were made just now
            orderer_key=key or self.orderer,
            sha256_log_after=sha256_log,
        )
        if commit:
            self.blocks.append(block)
        return block


@pytest.fixture(scope="session")
def chain_factory() -> type[ChainBuilder]:
    """The builder class itself, for tests that need a second, independent chain."""
    return ChainBuilder


@pytest.fixture(params=CRYPTO_PROFILES)
def builder(request: pytest.FixtureRequest) -> ChainBuilder:
    """A chain of each crypto profile (the tests that build one run under both)."""
    return ChainBuilder(suite=suite_by_name(request.param))


@pytest.fixture
def chain(builder: ChainBuilder) -> ChainBuilder:
    """Genesis; block 1 registers departments tax and land; block 2 holds their documents."""
    builder.seal([builder.register("tax"), builder.register("land")])
    builder.seal([builder.document("tax"), builder.document("land"), builder.document("tax")])
    return builder
