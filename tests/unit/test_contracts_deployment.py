"""Deployed contract versions are chain state: a (contract id, version) is deployed once, and
versions only increase, decided by the shared reducer, so the ledger and every auditor agree."""

from __future__ import annotations

import json
from typing import Any

import pytest

from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.errors import BlockVerificationError, EventRejected, RejectionReason
from govchain.protocol.keys import SigningKey
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.state import ChainState, apply_event
from govchain.protocol.validation import validate_event
from govchain.protocol.verify import ChainVerifier
from govchain.services.contract import BUILTIN_CONTRACTS

from .conftest import ChainBuilder


def definition(name: str = "business-license", **changes: Any) -> dict[str, Any]:
    found = json.loads(BUILTIN_CONTRACTS[name].read_text())
    found.update(changes)
    return found


class World:
    def __init__(self) -> None:
        self.builder = ChainBuilder()
        self.state = self.builder.genesis_state()
        self.market = SigningKey.generate()
        self.ok(
            make_event(
                self.builder.root,
                source="root",
                type="department.registered",
                data={"department_id": "market", "name": "Market", "public_key": self.market.public.hex},
            )
        )

    def deploy(self, *, by: str = "root", **changes: Any) -> Envelope:
        key = self.builder.root if by == "root" else self.market
        return make_event(key, source=by, type="contract.deployed", data={"definition": definition(**changes)})

    def ok(self, envelope: Envelope) -> None:
        payload = validate_event(self.state, envelope)
        if EVENT_TYPES.changes_state(envelope.type, envelope.schemaversion):
            apply_event(self.state, envelope, payload)

    def refused(self, envelope: Envelope) -> EventRejected:
        with pytest.raises(EventRejected) as caught:
            validate_event(self.state, envelope)
        return caught.value


@pytest.fixture
def world() -> World:
    return World()


def test_a_deployment_changes_the_chain_state() -> None:
    assert EVENT_TYPES.changes_state("contract.deployed", 1)
    assert EVENT_TYPES.any_version_changes_state("contract.deployed")  # the block cutter flushes before it


def test_a_contract_version_is_deployed_once(world: World) -> None:
    world.ok(world.deploy(version=1))
    assert world.state.deployed_versions("business-license") == [1]
    again = world.refused(world.deploy(version=1))
    assert again.reason == RejectionReason.STATE_CONFLICT
    assert again.detail == "contract business-license version 1 is already deployed"


def test_versions_must_increase_but_may_skip(world: World) -> None:
    world.ok(world.deploy(version=1))
    world.ok(world.deploy(version=3))
    older = world.refused(world.deploy(version=2))
    assert older.reason == RejectionReason.STATE_CONFLICT
    assert "version 2 is below its latest deployed version 3" in older.detail
    assert world.refused(world.deploy(version=1)).detail.endswith("version 1 is already deployed")
    world.ok(world.deploy(version=4))
    assert world.state.deployed_versions("business-license") == [1, 3, 4]


def test_versions_are_counted_per_contract(world: World) -> None:
    world.ok(world.deploy(version=5))
    world.ok(world.deploy(contract_id="other-license", version=1))
    assert world.state.contracts == {"business-license": [5], "other-license": [1]}


def test_who_may_deploy_is_judged_before_the_version(world: World) -> None:
    world.ok(world.deploy(version=1))
    assert world.refused(world.deploy(by="market", version=1)).reason == RejectionReason.UNAUTHORIZED
    assert world.refused(world.deploy(by="market", version=2)).reason == RejectionReason.UNAUTHORIZED


def test_a_snapshot_keeps_the_deployed_versions_and_an_older_one_still_loads(world: World) -> None:
    world.ok(world.deploy(version=1))
    world.ok(world.deploy(name="land-transfer", version=2))
    snapshot = world.state.to_json()
    restored = ChainState.from_json(snapshot)
    assert restored.to_json() == snapshot
    assert restored.contracts == {"business-license": [1], "land-transfer": [2]}
    world.state = restored
    assert world.refused(world.deploy(version=1)).reason == RejectionReason.STATE_CONFLICT

    before_contracts = {k: v for k, v in snapshot.items() if k != "contracts"}  # written by an older release
    legacy = ChainState.from_json(before_contracts)
    assert legacy.contracts == {} and legacy.principals.keys() == restored.principals.keys()


@pytest.mark.parametrize("check_events", [True, False])
def test_a_verifier_refuses_a_block_that_deploys_a_version_again(check_events: bool) -> None:
    """Even a projection that checks only state-changing events (check_events=False) catches it."""
    builder = ChainBuilder()
    verifier = ChainVerifier(check_events=check_events)
    verifier.verify(builder.blocks[0])
    first = make_event(builder.root, source="root", type="contract.deployed", data={"definition": definition()})
    verifier.verify(builder.seal([first]))
    second = make_event(builder.root, source="root", type="contract.deployed", data={"definition": definition()})
    with pytest.raises(BlockVerificationError, match="version 1 is already deployed"):
        verifier.verify(builder.seal([second]))
