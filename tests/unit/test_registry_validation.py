"""Event type registry, chain state reducer and deterministic event validation."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from pydantic import BaseModel

from govchain.protocol import events as ev
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.errors import EventRejected, RejectionReason
from govchain.protocol.registry import EVENT_TYPES, EventTypeRegistry
from govchain.protocol.state import ChainState, apply_event
from govchain.protocol.validation import validate_event

if TYPE_CHECKING:
    from .conftest import ChainBuilder

R = RejectionReason


def reason(state: ChainState, event: Envelope) -> RejectionReason:
    with pytest.raises(EventRejected) as info:
        validate_event(state, event)
    return info.value.reason


def accept(state: ChainState, event: Envelope) -> BaseModel:
    """Validate and apply, as the orderer does."""
    payload = validate_event(state, event)
    apply_event(state, event, payload)
    return payload


def root_event(b: ChainBuilder, type: str, data: dict[str, object]) -> Envelope:
    return make_event(b.root, source="root", type=type, data=data)


@pytest.fixture
def state(builder: ChainBuilder) -> ChainState:
    """Genesis state plus departments tax and land."""
    s = builder.genesis_state()
    accept(s, builder.register("tax"))
    accept(s, builder.register("land"))
    return s


# -- registry


def test_registry_resolves_kernel_types() -> None:
    names = {(t.name, t.version) for t in EVENT_TYPES}
    assert {
        ("chain.genesis", 1),
        ("department.registered", 1),
        ("key.added", 1),
        ("key.revoked", 1),
        ("document.registered", 1),
    } <= names
    assert EVENT_TYPES.resolve("document.registered", 1).model is ev.DocumentRegistered
    assert EVENT_TYPES.changes_state("key.revoked", 1)
    assert not EVENT_TYPES.changes_state("document.registered", 1)
    assert not EVENT_TYPES.changes_state("no.such", 1)
    assert "document.registered/v1" in EVENT_TYPES.json_schemas()


def test_registry_unknown_type_and_version() -> None:
    with pytest.raises(EventRejected) as info:
        EVENT_TYPES.resolve("no.such", 1)
    assert info.value.reason is R.UNKNOWN_TYPE
    with pytest.raises(EventRejected, match=r"known versions: \[1\]") as info:
        EVENT_TYPES.resolve("document.registered", 2)
    assert info.value.reason is R.UNKNOWN_TYPE


def test_registry_refuses_a_second_registration() -> None:
    registry = EventTypeRegistry()

    @registry.register("a.b", 1, changes_state=True)
    class AB(BaseModel):
        """First line.

        More."""

        x: int

    assert registry.resolve("a.b", 1).description == "First line."
    assert registry.changes_state("a.b", 1)
    with pytest.raises(ValueError, match="twice"):
        registry.register("a.b", 1)(AB)
    registry.register("a.b", 2)(AB)  # another version is fine
    assert [t.version for t in registry] == [1, 2]


def test_registry_parse_data() -> None:
    payload = EVENT_TYPES.parse_data("document.registered", 1, {"document_id": "d", "sha256": "0" * 64, "title": "t"})
    assert isinstance(payload, ev.DocumentRegistered) and payload.kind == "document"
    with pytest.raises(EventRejected, match="sha256") as info:
        EVENT_TYPES.parse_data("document.registered", 1, {"document_id": "d", "sha256": "x", "title": "t"})
    assert info.value.reason is R.INVALID_PAYLOAD


# -- state from genesis


def test_state_from_genesis(builder: ChainBuilder) -> None:
    s = builder.genesis_state()
    assert s.chain_id == "testchain"
    assert set(s.principals) == {"root", "ledger"}
    assert s.keys[builder.root.key_id].owner == "root"
    assert s.keys[builder.orderer.key_id].owner == "ledger"
    assert not s.is_department("root") and not s.is_department("ledger")
    assert s.active_keys_of("root") == [builder.root.public]


# -- validation


def test_department_registered_by_root(builder: ChainBuilder) -> None:
    s = builder.genesis_state()
    event = builder.register("tax")
    payload = accept(s, event)
    assert isinstance(payload, ev.DepartmentRegistered)
    assert s.is_department("tax")
    assert s.keys[builder.dept_keys["tax"].key_id].owner == "tax"


def test_department_registered_by_a_department_is_unauthorized(builder: ChainBuilder, state: ChainState) -> None:
    fresh = builder.new_key()
    event = make_event(
        builder.dept_keys["tax"],
        source="tax",
        type="department.registered",
        data={"department_id": "health", "name": "Health", "public_key": fresh.public.hex},
    )
    assert reason(state, event) is R.UNAUTHORIZED
    assert "health" not in state.principals


def test_document_registered_by_a_department(builder: ChainBuilder, state: ChainState) -> None:
    payload = validate_event(state, builder.document("tax"))
    assert isinstance(payload, ev.DocumentRegistered)


def test_document_registered_by_root_is_unauthorized(builder: ChainBuilder, state: ChainState) -> None:
    event = make_event(
        builder.root,
        source="root",
        type="document.registered",
        data={"document_id": "d", "sha256": "0" * 64, "title": "t"},
    )
    assert reason(state, event) is R.UNAUTHORIZED


def test_document_before_the_department_exists(builder: ChainBuilder) -> None:
    s = builder.genesis_state()
    builder.register("tax")  # made, never applied
    assert reason(s, builder.document("tax")) is R.UNKNOWN_KEY


def test_unknown_key(builder: ChainBuilder, state: ChainState) -> None:
    assert reason(state, builder.document("tax", key=builder.new_key())) is R.UNKNOWN_KEY


def test_key_of_another_principal(builder: ChainBuilder, state: ChainState) -> None:
    # land's key signing an event that claims to come from tax
    assert reason(state, builder.document("tax", key=builder.dept_keys["land"])) is R.SIGNER_NOT_OF_SOURCE
    # root's key claiming to be tax
    assert reason(state, builder.document("tax", key=builder.root)) is R.SIGNER_NOT_OF_SOURCE


def test_bad_signature(builder: ChainBuilder, state: ChainState) -> None:
    event = builder.document("tax")
    forged = event.model_copy(update={"data": {**event.data, "title": "forged"}})
    assert reason(state, forged) is R.BAD_SIGNATURE
    flipped = event.model_copy(update={"signature": ("0" if event.signature[0] != "0" else "1") + event.signature[1:]})
    assert reason(state, flipped) is R.BAD_SIGNATURE


def test_revoked_key(builder: ChainBuilder, state: ChainState) -> None:
    tax_key = builder.dept_keys["tax"].key_id
    assert validate_event(state, builder.document("tax"))
    accept(state, root_event(builder, "key.revoked", {"key_id": tax_key, "reason": "lost laptop"}))
    assert state.keys[tax_key].revoked
    assert state.active_keys_of("tax") == []
    assert reason(state, builder.document("tax")) is R.KEY_REVOKED
    # revoking it twice is a state conflict
    again = root_event(builder, "key.revoked", {"key_id": tax_key, "reason": "again"})
    assert reason(state, again) is R.STATE_CONFLICT


def test_owner_revokes_own_key_but_not_another_principals(builder: ChainBuilder, state: ChainState) -> None:
    land_key = builder.dept_keys["land"].key_id
    by_tax = make_event(
        builder.dept_keys["tax"], source="tax", type="key.revoked", data={"key_id": land_key, "reason": "hostile"}
    )
    assert reason(state, by_tax) is R.UNAUTHORIZED
    by_root_unknown = root_event(builder, "key.revoked", {"key_id": "0" * 64, "reason": "x"})
    assert reason(state, by_root_unknown) is R.STATE_CONFLICT
    by_land = make_event(
        builder.dept_keys["land"], source="land", type="key.revoked", data={"key_id": land_key, "reason": "rotated"}
    )
    accept(state, by_land)
    assert reason(state, builder.document("land")) is R.KEY_REVOKED


def test_key_added_by_owner_then_usable(builder: ChainBuilder, state: ChainState) -> None:
    new = builder.new_key()
    assert reason(state, builder.document("tax", key=new)) is R.UNKNOWN_KEY
    added = make_event(
        builder.dept_keys["tax"], source="tax", type="key.added", data={"owner": "tax", "public_key": new.public.hex}
    )
    accept(state, added)
    assert state.keys[new.key_id].owner == "tax"
    assert isinstance(validate_event(state, builder.document("tax", key=new)), ev.DocumentRegistered)
    # the old key keeps working too
    assert validate_event(state, builder.document("tax"))


def test_key_added_rules(builder: ChainBuilder, state: ChainState) -> None:
    new = builder.new_key()
    for_land_by_tax = make_event(
        builder.dept_keys["tax"], source="tax", type="key.added", data={"owner": "land", "public_key": new.public.hex}
    )
    assert reason(state, for_land_by_tax) is R.UNAUTHORIZED
    for_nobody = root_event(builder, "key.added", {"owner": "health", "public_key": new.public.hex})
    assert reason(state, for_nobody) is R.STATE_CONFLICT
    reused = root_event(builder, "key.added", {"owner": "tax", "public_key": builder.dept_keys["land"].public.hex})
    assert reason(state, reused) is R.STATE_CONFLICT
    by_root = root_event(builder, "key.added", {"owner": "land", "public_key": new.public.hex})
    accept(state, by_root)
    assert validate_event(state, builder.document("land", key=new))


def test_duplicate_department_is_a_state_conflict(builder: ChainBuilder, state: ChainState) -> None:
    again = builder.register("tax")
    assert reason(state, again) is R.STATE_CONFLICT
    for reserved in ("root", "ledger"):
        assert reason(state, builder.register(reserved)) is R.STATE_CONFLICT
    # a new department with a key that is already on chain
    reused = root_event(
        builder,
        "department.registered",
        {"department_id": "health", "name": "Health", "public_key": builder.dept_keys["land"].public.hex},
    )
    assert reason(state, reused) is R.STATE_CONFLICT


def test_unknown_type_version_and_invalid_payload(builder: ChainBuilder, state: ChainState) -> None:
    key = builder.dept_keys["tax"]
    unknown = make_event(key, source="tax", type="document.shredded", data={})
    assert reason(state, unknown) is R.UNKNOWN_TYPE
    version = make_event(
        key,
        source="tax",
        type="document.registered",
        schemaversion=2,
        data={"document_id": "d", "sha256": "0" * 64, "title": "t"},
    )
    assert reason(state, version) is R.UNKNOWN_TYPE
    assert reason(state, builder.document("tax", sha256="not-hex")) is R.INVALID_PAYLOAD
    assert reason(state, builder.document("tax", extra="field")) is R.INVALID_PAYLOAD
    missing = make_event(key, source="tax", type="document.registered", data={"document_id": "d"})
    assert reason(state, missing) is R.INVALID_PAYLOAD


def test_chain_genesis_after_genesis_is_unauthorized(builder: ChainBuilder, state: ChainState) -> None:
    again = root_event(
        builder,
        "chain.genesis",
        {
            "chain_id": "testchain",
            "root_keys": [builder.root.public.hex],
            "orderer_keys": [builder.root.public.hex],
            "crypto_profile": builder.suite.name,
        },
    )
    assert reason(state, again) is R.UNAUTHORIZED
    assert reason(state, builder.genesis_event) is R.UNAUTHORIZED


# -- snapshots


def _probe_events(builder: ChainBuilder) -> list[Envelope]:
    new = builder.new_key()
    tax_key = builder.dept_keys["tax"].key_id
    return [
        root_event(builder, "key.revoked", {"key_id": tax_key, "reason": "x"}),
        builder.document("tax"),
        builder.document("land"),
        builder.document("tax", key=builder.dept_keys["land"]),
        builder.document("tax", key=new),
        builder.register("tax"),
        builder.register("health"),
        root_event(builder, "key.added", {"owner": "land", "public_key": new.public.hex}),
    ]


def _outcome(state: ChainState, event: Envelope) -> str:
    try:
        return type(validate_event(state, event)).__name__
    except EventRejected as exc:
        return exc.reason.value


def test_state_json_roundtrip_preserves_validation(builder: ChainBuilder, state: ChainState) -> None:
    accept(state, root_event(builder, "key.revoked", {"key_id": builder.dept_keys["land"].key_id, "reason": "lost"}))
    snapshot = json.loads(json.dumps(state.to_json()))
    restored = ChainState.from_json(snapshot)
    assert restored.to_json() == state.to_json()
    assert restored.keys[builder.dept_keys["land"].key_id].revoked
    probes = _probe_events(builder)
    outcomes = [_outcome(state, e) for e in probes]
    assert outcomes == [_outcome(restored, e) for e in probes]
    assert outcomes == [
        "KeyRevoked",
        "DocumentRegistered",
        "key_revoked",
        "signer_not_of_source",
        "unknown_key",
        "state_conflict",
        "DepartmentRegistered",
        "KeyAdded",
    ]


def test_state_snapshot_is_not_changed_by_later_events(builder: ChainBuilder, state: ChainState) -> None:
    snapshot = state.to_json()
    before = json.dumps(snapshot, sort_keys=True)
    accept(state, builder.register("health"))
    assert json.dumps(snapshot, sort_keys=True) == before
    assert "health" not in ChainState.from_json(snapshot).principals
