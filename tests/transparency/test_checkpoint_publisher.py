"""The ledger's checkpoint publisher against in-process witnesses (the pure decision of
govchain.transparency.witness), a real ledger store (SQLite) and a stand-in for the stream:
what it signs, how it talks to witnesses (409, down, lying), and when it publishes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from nats.js.errors import NotFoundError

from govchain.bus import subjects
from govchain.protocol import events as ev
from govchain.protocol.block import seal_block
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.genesis import make_genesis_block, make_genesis_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import leaf_hash
from govchain.protocol.verify import ChainVerifier
from govchain.services.ledger.checkpoints import CheckpointPublisher
from govchain.services.ledger.store import LedgerStore
from govchain.storage.engine import make_engine
from govchain.transparency.cosignature import CosignatureSigner
from govchain.transparency.errors import QuorumNotMet
from govchain.transparency.policy import verify_cosigned
from govchain.transparency.vkeys import Ed25519Signer
from govchain.transparency.witness import TrustedLog, Witness

from .conftest import Clock, MemoryState

CHAIN = "publisher-test"
ORIGIN = ev.default_log_origin(CHAIN)


class FakeStream:
    """Stream CHECKPOINTS as the publisher uses it: publish, and the newest message."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def publish(self, subject: str, data: bytes, *, stream: str, headers: dict[str, str]) -> None:
        assert (subject, stream) == (subjects.CHECKPOINTS_SUBJECT, subjects.CHECKPOINTS_STREAM)
        assert headers["Nats-Msg-Id"].startswith("checkpoint-")
        self.records.append(json.loads(data))

    async def get_last_msg(self, stream: str, subject: str) -> Any:
        if not self.records:
            raise NotFoundError
        return SimpleNamespace(data=json.dumps(self.records[-1]).encode())


@dataclass
class Net:
    """Witnesses by URL; a witness in ``down`` does not answer; ``answers`` replaces one's answer."""

    witnesses: dict[str, Witness] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    answers: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    requests: list[tuple[str, int]] = field(default_factory=list)

    def post(self, url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        base = url.removesuffix("/add-checkpoint")
        self.requests.append((base, int(body.split(b"\n", 1)[0].split()[1])))
        if base in self.down:
            raise ConnectionRefusedError(f"{base} is down")
        if base in self.answers:
            return self.answers[base]
        answer = self.witnesses[base].add_checkpoint(body)
        return answer.status, answer.body


@dataclass
class Chain:
    store: LedgerStore
    verifier: ChainVerifier
    root: SigningKey
    orderer: SigningKey
    genesis: Envelope
    time: str

    def append(self, envelopes: list[Envelope]) -> None:
        checkpoint = self.verifier.checkpoint
        assert checkpoint is not None
        leaves = [leaf_hash(e.to_bytes()) for e in envelopes]
        log = checkpoint.log.copy()
        for leaf in leaves:
            log.append(leaf)
        block = seal_block(
            chain_id=CHAIN,
            height=checkpoint.height + 1,
            prev_hash=checkpoint.block_hash,
            events=[e.to_dict() for e in envelopes],
            leaf_hashes=leaves,
            log_after=log,
            time=self.time,
            orderer_key=self.orderer,
        )
        applied = self.verifier.verify(block)
        assert self.verifier.checkpoint is not None
        self.store.record(applied, self.verifier.checkpoint)

    def ticks(self, count: int, start: int = 0) -> None:
        self.append(
            [
                make_event(
                    self.root, source=ev.ROOT, type="clock.tick", data={}, event_id=f"t-{start + n}", time=self.time
                )
                for n in range(count)
            ]
        )

    def set_policy(self, witnesses: list[tuple[str, str, str]], quorum: int, origin: str | None = None) -> None:
        data: dict[str, Any] = {
            "witnesses": [{"name": n, "vkey": v, "url": u} for n, v, u in witnesses],
            "quorum": quorum,
        }
        if origin is not None:
            data["origin"] = origin
        self.append([make_event(self.root, source=ev.ROOT, type=ev.WITNESS_POLICY_TYPE, data=data, time=self.time)])

    @property
    def size(self) -> int:
        assert self.verifier.checkpoint is not None
        return self.verifier.checkpoint.log.size

    @property
    def log_vkey(self) -> str:
        return Ed25519Signer(ORIGIN, self.orderer).verifier.vkey


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    root, orderer = SigningKey.generate(), SigningKey.generate()
    genesis = make_genesis_event(CHAIN, [root], [orderer])
    store = LedgerStore(make_engine(f"sqlite:///{tmp_path / 'ledger.db'}"))
    verifier = ChainVerifier()
    applied = verifier.verify(make_genesis_block(genesis, orderer))
    assert verifier.checkpoint is not None
    store.record(applied, verifier.checkpoint)
    return Chain(store, verifier, root, orderer, genesis, genesis.time)


def witness_for(chain: Chain, name: str, clock: Clock | None = None) -> Witness:
    signer = CosignatureSigner(name, SigningKey.generate(), clock or Clock())
    return Witness(signer, [TrustedLog.from_vkeys(ORIGIN, [chain.log_vkey])], MemoryState())


def setup(chain: Chain, names: list[str], quorum: int) -> tuple[Net, list[str], FakeStream, CheckpointPublisher]:
    net = Net()
    entries = []
    for name in names:
        url = f"http://{name.split('/')[0]}:8790"
        net.witnesses[url] = witness_for(chain, name)
        entries.append((name, net.witnesses[url].signer.verifier.vkey, url))
    chain.set_policy(entries, quorum)
    stream = FakeStream()
    publisher = CheckpointPublisher(
        stream,
        chain.store,
        chain.orderer,
        interval_s=0.01,
        timeout_s=1.0,  # type: ignore[arg-type]
        post=net.post,
    )
    return net, [vkey for _, vkey, _ in entries], stream, publisher


async def test_without_a_policy_the_log_signs_alone(chain: Chain) -> None:
    chain.ticks(4)
    stream = FakeStream()
    publisher = CheckpointPublisher(stream, chain.store, chain.orderer, post=Net().post)  # type: ignore[arg-type]
    await publisher.step()
    [record] = stream.records
    assert (record["origin"], record["size"], record["height"], record["cosigners"]) == (ORIGIN, 5, 1, [])
    assert record["policy"] is None
    checked = verify_cosigned(record["note"].encode(), chain.log_vkey, [], 0)
    assert checked.checkpoint.root == chain.verifier.checkpoint.log.root()  # type: ignore[union-attr]
    await publisher.step()
    assert len(stream.records) == 1  # nothing new: nothing published


async def test_two_witnesses_cosign_and_the_quorum_holds(chain: Chain) -> None:
    net, vkeys, stream, publisher = setup(chain, ["court.example/w", "audit.example/w"], 2)
    chain.ticks(3)
    await publisher.step()
    [record] = stream.records
    assert record["size"] == chain.size == 5 and sorted(record["cosigners"]) == ["audit.example/w", "court.example/w"]
    assert record["policy"]["quorum"] == 2
    assert len(verify_cosigned(record["note"].encode(), chain.log_vkey, vkeys, 2).witnesses) == 2

    chain.ticks(10, start=3)
    await publisher.step()
    assert stream.records[-1]["size"] == chain.size
    # The second round sent each witness the size it holds and a consistency proof from there.
    assert sorted(net.requests[-2:]) == sorted((url, 5) for url in net.witnesses)


async def test_a_witness_down_holds_the_published_size_back_until_it_returns(chain: Chain) -> None:
    net, vkeys, stream, publisher = setup(chain, ["court.example/w", "audit.example/w"], 2)
    await publisher.step()
    first = stream.records[-1]["size"]
    audit = next(url for url in net.witnesses if "audit" in url)
    net.down.add(audit)
    chain.ticks(5)
    await publisher.step()
    assert stream.records[-1]["size"] == first  # quorum of 2 not met: the cosigned size lags
    court_link = next(link for link in publisher.links.values() if link.name == "court.example/w")
    assert court_link.cosignature_for(publisher.target) is not None  # type: ignore[arg-type]
    audit_link = next(link for link in publisher.links.values() if link.name == "audit.example/w")
    assert audit_link.failures == 1 and audit_link.retry_at > 0

    net.down.discard(audit)
    audit_link.retry_at = 0  # skip the backoff's wait
    await publisher.step()
    assert stream.records[-1]["size"] == chain.size and len(stream.records[-1]["cosigners"]) == 2


async def test_quorum_one_publishes_without_the_missing_witness_and_adds_it_later(chain: Chain) -> None:
    net, vkeys, stream, publisher = setup(chain, ["court.example/w", "audit.example/w"], 1)
    audit = next(url for url in net.witnesses if "audit" in url)
    net.down.add(audit)
    chain.ticks(2)
    await publisher.step()
    assert stream.records[-1]["cosigners"] == ["court.example/w"]
    net.down.discard(audit)
    for link in publisher.links.values():
        link.retry_at = 0
    await publisher.step()
    assert stream.records[-1]["size"] == chain.size and len(stream.records[-1]["cosigners"]) == 2
    assert len(stream.records) == 2  # same size, one more witness: published again


async def test_a_409_names_the_witnesss_size_and_the_request_is_made_again_from_it(chain: Chain) -> None:
    net, vkeys, stream, publisher = setup(chain, ["court.example/w"], 1)
    chain.ticks(3)
    await publisher.step()
    size = stream.records[-1]["size"]
    # A fresh publisher (a restart that lost its memory) starts from size 0: the witness says 409.
    chain.ticks(4, start=3)
    fresh = CheckpointPublisher(FakeStream(), chain.store, chain.orderer, post=net.post)  # type: ignore[arg-type]
    await fresh.step()
    assert [old for _, old in net.requests[-2:]] == [0, size]
    assert fresh.js.records[-1]["size"] == chain.size  # type: ignore[attr-defined]


async def test_a_lying_witness_is_not_counted_and_cannot_spoil_the_note(chain: Chain) -> None:
    net, vkeys, stream, publisher = setup(chain, ["court.example/w", "audit.example/w"], 1)
    audit = next(url for url in net.witnesses if "audit" in url)
    impostor = CosignatureSigner("audit.example/w", SigningKey.generate(), Clock())  # same name, another key
    chain.ticks(2)
    target_text = None

    def forged(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        nonlocal target_text
        if url.startswith(audit):
            note = body.split(b"\n\n", 1)[1]
            target_text = note[: note.rfind(b"\n\n") + 1].decode()
            return 200, impostor.cosign(target_text, 1_760_000_000).line().encode()
        return net.post(url, body, timeout)

    publisher.post = forged
    await publisher.step()
    record = stream.records[-1]
    assert record["cosigners"] == ["court.example/w"]
    verify_cosigned(record["note"].encode(), chain.log_vkey, vkeys, 1)  # still verifies: the lie was dropped
    with pytest.raises(QuorumNotMet):
        verify_cosigned(record["note"].encode(), chain.log_vkey, vkeys, 2)
    link = next(link for link in publisher.links.values() if link.name == "audit.example/w")
    assert link.failures == 1 and "no valid cosignature" in (link.last_problem or "")


async def test_a_refusing_witness_is_backed_off_never_worked_around(chain: Chain) -> None:
    net, vkeys, stream, publisher = setup(chain, ["court.example/w"], 1)
    [url] = net.witnesses
    net.answers[url] = (422, b"the consistency proof does not verify from the cosigned checkpoint\n")
    chain.ticks(2)
    for _ in range(3):
        await publisher.step()
    assert stream.records == []  # never published below the quorum
    [link] = publisher.links.values()
    assert link.failures == 1 and link.last_problem.startswith("HTTP 422")  # type: ignore[union-attr]
    assert len(net.requests) == 1  # backed off: not asked again at once


async def test_only_the_lease_holder_publishes(chain: Chain) -> None:
    stream = FakeStream()
    lease = SimpleNamespace(held=False)
    publisher = CheckpointPublisher(stream, chain.store, chain.orderer, lease=lease, post=Net().post)  # type: ignore[arg-type]
    await publisher.step()
    assert stream.records == []
    lease.held = True
    await publisher.step()
    assert len(stream.records) == 1


async def test_a_new_origin_in_the_policy_renames_the_log(chain: Chain) -> None:
    stream = FakeStream()
    publisher = CheckpointPublisher(stream, chain.store, chain.orderer, post=Net().post)  # type: ignore[arg-type]
    chain.set_policy([], 0, origin="gov.example.cn/govchain/main")
    await publisher.step()
    record = stream.records[-1]
    assert record["origin"] == "gov.example.cn/govchain/main"
    assert record["note"].startswith("gov.example.cn/govchain/main\n")
    vkey = Ed25519Signer("gov.example.cn/govchain/main", chain.orderer).verifier.vkey
    verify_cosigned(record["note"].encode(), vkey, [], 0)


def test_the_store_reads_tiles_and_leaves_in_ranges(chain: Chain) -> None:
    chain.ticks(300)
    chain.ticks(20, start=300)
    size = chain.size
    hashes = chain.store.with_nodes(lambda nodes: nodes.perfect_nodes(0, 0, 256))
    one_by_one = chain.store.with_nodes(lambda nodes: [nodes.perfect_node(0, i) for i in range(256)])
    assert hashes == one_by_one
    assert chain.store.with_nodes(lambda nodes: nodes.perfect_nodes(8, 0, 1)) == [
        chain.store.with_nodes(lambda nodes: nodes.perfect_node(8, 0))
    ]
    with pytest.raises(KeyError):
        chain.store.with_nodes(lambda nodes: nodes.perfect_nodes(0, 256, 256))  # beyond the log
    assert chain.store.leaf_locations(0, 3) == [(0, 0), (1, 0), (1, 1)]
    assert chain.store.leaf_locations(size - 2, size + 5) == [(2, 18), (2, 19)]
    assert chain.store.event_types_between(0, 2) == {"clock.tick"}
    assert chain.store.event_types_between(-1, 0) == {"chain.genesis"}
    assert chain.store.event_types_between(2, 9) == set()


async def test_the_newest_published_checkpoint_never_goes_back(chain: Chain) -> None:
    """After a lease changed hands, the other orderer may have published a larger size: this
    one, still catching up, publishes nothing smaller."""
    chain.ticks(3)
    stream = FakeStream()
    lease = SimpleNamespace(held=True)
    publisher = CheckpointPublisher(stream, chain.store, chain.orderer, lease=lease, post=Net().post)  # type: ignore[arg-type]
    await publisher.step()
    assert [r["size"] for r in stream.records] == [4]
    lease.held = False
    await publisher.step()
    stream.records.append({**stream.records[-1], "size": 50, "cosigners": []})  # the other orderer's
    chain.ticks(3, start=3)
    lease.held = True
    await publisher.step()
    assert [r["size"] for r in stream.records] == [4, 50]  # 7 < 50: not published
