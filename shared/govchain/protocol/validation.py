"""Deterministic validation of an event against the chain state before it.

Whether an event is valid depends only on the chain before it, so the orderer and any
auditor re-checking a block reach the same verdict.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from govchain.protocol import events as ev
from govchain.protocol.envelope import Envelope
from govchain.protocol.errors import EventRejected, RejectionReason
from govchain.protocol.keys import PublicKey
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.state import ChainState

Rule = Callable[[ChainState, Envelope, BaseModel], None]


def validate_event(state: ChainState, envelope: Envelope) -> BaseModel:
    """Return the parsed payload of a valid event, or raise :class:`EventRejected`."""
    payload = EVENT_TYPES.parse_data(envelope.type, envelope.schemaversion, envelope.data)
    check_signer(state, envelope)
    rule = _RULES.get(type(payload))
    if rule is not None:
        rule(state, envelope, payload)
    return payload


def check_signer(state: ChainState, envelope: Envelope) -> None:
    """The signer must be a known, unrevoked key of the event's source, and the signature good."""
    record = state.keys.get(envelope.signer)
    if record is None:
        raise EventRejected(RejectionReason.UNKNOWN_KEY, f"key {envelope.signer} is not on chain")
    if record.owner != envelope.source:
        raise EventRejected(
            RejectionReason.SIGNER_NOT_OF_SOURCE,
            f"key {envelope.signer} belongs to {record.owner}, not to {envelope.source}",
        )
    if not envelope.has_valid_signature(record.public_key):
        raise EventRejected(RejectionReason.BAD_SIGNATURE, "signature does not verify")
    if record.revoked:
        raise EventRejected(RejectionReason.KEY_REVOKED, f"key {envelope.signer} is revoked")


def _unauthorized(detail: str) -> EventRejected:
    return EventRejected(RejectionReason.UNAUTHORIZED, detail)


def _conflict(detail: str) -> EventRejected:
    return EventRejected(RejectionReason.STATE_CONFLICT, detail)


def _require_new_key(state: ChainState, public_hex: str) -> None:
    if PublicKey.from_hex(public_hex).key_id in state.keys:
        raise _conflict("this public key is already registered")


def _genesis(state: ChainState, envelope: Envelope, payload: BaseModel) -> None:
    raise _unauthorized("chain.genesis is only valid as the genesis block")


def _department_registered(state: ChainState, envelope: Envelope, payload: BaseModel) -> None:
    assert isinstance(payload, ev.DepartmentRegistered)
    if envelope.source != ev.ROOT:
        raise _unauthorized("only the root authority registers departments")
    if payload.department_id in state.principals:
        raise _conflict(f"principal {payload.department_id} already exists")
    _require_new_key(state, payload.public_key)


def _key_added(state: ChainState, envelope: Envelope, payload: BaseModel) -> None:
    assert isinstance(payload, ev.KeyAdded)
    if envelope.source not in (ev.ROOT, payload.owner):
        raise _unauthorized("a key is added by the root authority or by its owner")
    if payload.owner not in state.principals:
        raise _conflict(f"principal {payload.owner} does not exist")
    _require_new_key(state, payload.public_key)


def _key_revoked(state: ChainState, envelope: Envelope, payload: BaseModel) -> None:
    assert isinstance(payload, ev.KeyRevoked)
    record = state.keys.get(payload.key_id)
    if record is None:
        raise _conflict(f"key {payload.key_id} is not on chain")
    if envelope.source not in (ev.ROOT, record.owner):
        raise _unauthorized("a key is revoked by the root authority or by its owner")
    if record.revoked:
        raise _conflict(f"key {payload.key_id} is already revoked")


def _department_only(state: ChainState, envelope: Envelope, payload: BaseModel) -> None:
    if not state.is_department(envelope.source):
        raise _unauthorized(f"{envelope.type} is published by a department")


_RULES: dict[type[BaseModel], Rule] = {
    ev.ChainGenesis: _genesis,
    ev.DepartmentRegistered: _department_registered,
    ev.KeyAdded: _key_added,
    ev.KeyRevoked: _key_revoked,
    ev.DocumentRegistered: _department_only,
}
