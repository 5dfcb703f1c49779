"""Identity rules of the shared reducer: officials, citizens, roles, rotation, on-chain policy."""

from __future__ import annotations

from typing import Any

import pytest

from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.errors import EventRejected
from govchain.protocol.keys import SigningKey
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.state import ChainState, apply_event
from govchain.protocol.validation import validate_event

from .conftest import ChainBuilder

CITIZEN = "c-" + "ab" * 16


class World:
    """A chain state with departments tax and land, and helpers to sign and apply events."""

    def __init__(self, builder: ChainBuilder) -> None:
        self.builder = builder
        self.state = builder.genesis_state()
        self.keys: dict[str, SigningKey] = {"root": builder.root}
        for dept in ("tax", "land"):
            self.keys[dept] = builder.new_key()
            self.ok(
                self.event(
                    "root",
                    "department.registered",
                    {"department_id": dept, "name": dept.title(), "public_key": self.keys[dept].public.hex},
                )
            )

    def event(self, signer: str, type: str, data: dict[str, Any], *, source: str | None = None) -> Envelope:
        return make_event(self.keys[signer], source=source or signer, type=type, data=data)

    def ok(self, envelope: Envelope) -> None:
        payload = validate_event(self.state, envelope)
        if EVENT_TYPES.changes_state(envelope.type, envelope.schemaversion):
            apply_event(self.state, envelope, payload)

    def refused(self, envelope: Envelope) -> str:
        with pytest.raises(EventRejected) as info:
            validate_event(self.state, envelope)
        return info.value.reason.value

    def official(
        self, official_id: str, dept: str, roles: list[str] | None = None, *, by: str | None = None
    ) -> Envelope:
        self.keys[official_id] = self.builder.new_key()
        return self.event(
            by or dept,
            "official.registered",
            {
                "official_id": official_id,
                "department_id": dept,
                "name": official_id.title(),
                "public_key": self.keys[official_id].public.hex,
                "roles": roles or [],
            },
            source=dept,
        )

    def document(self, signer: str, dept: str) -> Envelope:
        return self.event(
            signer,
            "document.registered",
            {"document_id": f"{signer}-doc", "sha256": "cd" * 32, "title": "A record"},
            source=dept,
        )

    def role(
        self, signer: str, principal: str, role: str, *, granted: bool = True, source: str | None = None
    ) -> Envelope:
        return self.event(
            signer, "role.granted" if granted else "role.revoked", {"principal": principal, "role": role}, source=source
        )


@pytest.fixture
def world(builder: ChainBuilder) -> World:
    return World(builder)


def test_a_department_registers_its_officials_and_only_its_own(world: World) -> None:
    world.ok(world.official("tax-alice", "tax"))
    assert world.state.kind_of("tax-alice") == "official"
    assert world.state.department_of("tax-alice") == "tax"
    assert world.refused(world.official("tax-bob", "tax", by="land")) == "signer_not_of_source"
    forged_scope = world.event(
        "land",
        "official.registered",
        {
            "official_id": "tax-eve",
            "department_id": "tax",
            "name": "Eve",
            "public_key": world.builder.new_key().public.hex,
        },
        source="land",
    )
    assert world.refused(forged_scope) == "unauthorized"


def test_an_official_acts_for_its_department_as_far_as_its_roles_allow(world: World) -> None:
    world.ok(world.official("tax-alice", "tax"))
    assert world.refused(world.document("tax-alice", "tax")) == "unauthorized"
    assert world.refused(world.document("tax-alice", "land")) == "signer_not_of_source"
    world.ok(world.role("tax", "tax-alice", "registrar"))
    world.ok(world.document("tax-alice", "tax"))
    world.ok(world.role("tax", "tax-alice", "registrar", granted=False))
    assert world.refused(world.document("tax-alice", "tax")) == "unauthorized"


def test_roles_are_changed_by_the_root_or_the_officials_own_department_admin(world: World) -> None:
    world.ok(world.official("tax-alice", "tax"))
    world.ok(world.official("land-bob", "land", ["admin"]))
    assert world.refused(world.role("land-bob", "tax-alice", "registrar", source="land")) == "unauthorized"
    assert world.refused(world.role("tax-alice", "tax-alice", "admin", source="tax")) == "unauthorized"
    world.ok(world.role("root", "tax-alice", "admin"))
    # an official holding admin acts as the department's admin
    world.ok(world.official("tax-carol", "tax", by="tax-alice"))
    world.ok(world.role("tax-alice", "tax-carol", "registrar", source="tax"))
    assert world.state.has_role("tax-carol", "registrar")


def test_citizens_are_enrolled_under_a_pseudonym_by_an_enrollment_officer(world: World) -> None:
    citizen_key = world.builder.new_key()
    enrol = {"citizen_id": CITIZEN, "public_key": citizen_key.public.hex}
    world.ok(world.official("tax-clerk", "tax"))
    assert world.refused(world.event("tax-clerk", "citizen.enrolled", enrol, source="tax")) == "unauthorized"
    world.ok(world.role("tax", "tax-clerk", "enrollment"))
    world.ok(world.event("tax-clerk", "citizen.enrolled", enrol, source="tax"))
    assert world.state.kind_of(CITIZEN) == "citizen"
    assert world.refused(world.event("land", "citizen.enrolled", {"citizen_id": CITIZEN})) == "state_conflict"
    assert world.refused(world.event("tax", "citizen.enrolled", {"citizen_id": "3101-1990-0001"})) == "invalid_payload"
    # a citizen holds no grant to publish department records
    world.keys[CITIZEN] = citizen_key
    assert world.refused(world.document(CITIZEN, CITIZEN)) == "unauthorized"


def test_a_rotated_key_keeps_signing_through_its_grace_blocks_only(world: World) -> None:
    old = world.keys["tax"]
    new = world.builder.new_key()
    world.state.height = 5
    world.ok(
        world.event(
            "tax",
            "key.rotated",
            {"owner": "tax", "old_key_id": old.key_id, "public_key": new.public.hex, "grace_blocks": 2},
        )
    )
    assert world.state.keys[old.key_id].valid_until == 7
    world.keys["tax-new"] = new
    world.ok(world.document("tax-new", "tax"))  # the new key signs at once, in the same block
    for height, usable in ((6, True), (7, True), (8, False)):
        world.state.height = height
        if usable:
            world.ok(world.document("tax", "tax"))
        else:
            assert world.refused(world.document("tax", "tax")) == "key_revoked"
    assert world.state.active_keys_of("tax") == [new.public]


def test_keys_of_an_official_are_managed_by_its_department_not_by_another(world: World) -> None:
    world.ok(world.official("tax-alice", "tax"))
    extra = world.builder.new_key()
    add = {"owner": "tax-alice", "public_key": extra.public.hex}
    assert world.refused(world.event("land", "key.added", add)) == "unauthorized"
    world.ok(world.event("tax", "key.added", add))
    revoke = {"key_id": extra.key_id, "reason": "laptop lost"}
    assert world.refused(world.event("land", "key.revoked", revoke)) == "unauthorized"
    world.ok(world.event("tax", "key.revoked", revoke))
    record = world.state.keys[extra.key_id]
    assert record.revoked and record.revocation_reason == "laptop lost"


def test_the_policy_changes_only_by_the_root_and_can_scope_grants_to_departments(world: World) -> None:
    world.ok(world.official("land-bob", "land", ["registrar"]))
    world.ok(world.document("land-bob", "land"))
    only_tax = {
        "event_type": "document.registered",
        "grants": [{"kind": "department"}, {"role": "registrar", "departments": ["tax"]}],
    }
    assert world.refused(world.event("tax", "policy.rule_set", only_tax)) == "unauthorized"
    world.ok(world.event("root", "policy.rule_set", only_tax))
    assert world.refused(world.document("land-bob", "land")) == "unauthorized"
    world.ok(world.document("land", "land"))
    world.ok(world.event("root", "policy.rule_set", {"event_type": "document.registered", "grants": []}))
    assert world.refused(world.document("land", "land")) == "unauthorized"


def test_services_are_registered_by_the_root_alone(world: World) -> None:
    engine = world.builder.new_key()
    data = {"service_id": "contract-engine", "name": "Contract engine", "public_key": engine.public.hex}
    assert world.refused(world.event("tax", "service.registered", data)) == "unauthorized"
    world.ok(world.event("root", "service.registered", data))
    assert world.state.kind_of("contract-engine") == "service"
    world.keys["contract-engine"] = engine
    dept = {"department_id": "rogue", "name": "Rogue", "public_key": world.builder.new_key().public.hex}
    assert world.refused(world.event("contract-engine", "department.registered", dept)) == "unauthorized"


def test_a_snapshot_keeps_roles_rotation_and_policy(world: World) -> None:
    world.ok(world.official("tax-alice", "tax", ["registrar"]))
    world.ok(
        world.event(
            "tax",
            "key.rotated",
            {
                "owner": "tax",
                "old_key_id": world.keys["tax"].key_id,
                "public_key": world.builder.new_key().public.hex,
                "grace_blocks": 0,
            },
        )
    )
    world.ok(
        world.event("root", "policy.rule_set", {"event_type": "document.registered", "grants": [{"role": "registrar"}]})
    )
    restored = ChainState.from_json(world.state.to_json())
    assert restored.to_json() == world.state.to_json()
    assert restored.has_role("tax-alice", "registrar")
    assert restored.keys[world.keys["tax"].key_id].valid_until == world.state.height
