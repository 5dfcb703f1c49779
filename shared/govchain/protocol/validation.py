"""Deterministic validation of an event against the chain state before it.

Whether an event is valid depends only on the chain before it, so the orderer and any
auditor re-checking a block reach the same verdict. Identity events follow the structural
rules below; every other type must be allowed by the on-chain policy.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from govchain.crypto import CREDENTIAL_SUITE, CryptoSuite, keeps_sha256_tree
from govchain.protocol import catalog  # noqa: F401  (registers every event type)
from govchain.protocol import events as ev
from govchain.protocol.contracts import ContractDeployed
from govchain.protocol.envelope import Envelope
from govchain.protocol.errors import EventRejected, RejectionReason
from govchain.protocol.eventtime import check_event_time
from govchain.protocol.keys import PublicKey
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.state import ChainState, KeyRecord

Rule = Callable[[ChainState, Envelope, BaseModel, str], None]
"""A structural rule: (state, envelope, payload, signing principal) → raise if not allowed."""


def validate_event(
    state: ChainState,
    envelope: Envelope,
    signing_bytes: bytes | None = None,
    *,
    batch_root: bytes | None = None,
    block_time: str | None = None,
) -> BaseModel:
    """Return the parsed payload of a valid event, or raise :class:`EventRejected`.

    ``signing_bytes`` (and ``batch_root``) are the envelope's own, when the caller has
    already derived them (see :meth:`Envelope.has_valid_signature`). ``block_time`` is the
    time of the block being judged: the orderer and every verifier pass it, and the event's
    time is judged against it by the chain's :class:`EventTimeRule` (``None``: a check of the
    event alone, outside any block, as tools and tests make)."""
    payload = EVENT_TYPES.parse_data(envelope.type, envelope.schemaversion, envelope.data)
    signer = check_signer(state, envelope, signing_bytes, batch_root=batch_root)
    if block_time is not None:
        check_time(state, envelope, signer, block_time)
    rule = _RULES.get(type(payload))
    if rule is not None:
        rule(state, envelope, payload, signer)
    else:
        check_policy(state, envelope, signer)
    return payload


def check_signer(
    state: ChainState, envelope: Envelope, signing_bytes: bytes | None = None, *, batch_root: bytes | None = None
) -> str:
    """The signer must be a usable key of the source (or of an official of the source
    department), and the signature good. Returns the principal owning the key."""
    record = state.keys.get(envelope.signer)
    if record is None:
        raise EventRejected(RejectionReason.UNKNOWN_KEY, f"key {envelope.signer} is not on chain")
    if record.owner != envelope.source and state.department_of(record.owner) != envelope.source:
        raise EventRejected(
            RejectionReason.SIGNER_NOT_OF_SOURCE,
            f"key {envelope.signer} belongs to {record.owner}, who does not act for {envelope.source}",
        )
    if record.purpose is not None:
        raise EventRejected(
            RejectionReason.UNAUTHORIZED, f"key {envelope.signer} is for {record.purpose} only; it signs no events"
        )
    if not envelope.has_valid_signature(record.public_key, signing_bytes, batch_root=batch_root):
        raise EventRejected(RejectionReason.BAD_SIGNATURE, "signature does not verify")
    _check_usable(state, record)
    return record.owner


def check_time(state: ChainState, envelope: Envelope, signer: str, block_time: str) -> None:
    """The event's time must lie within the chain's window around its block's time."""
    rule = state.policy.event_time
    if rule is None:  # a chain made before the rule: nothing to judge by
        return
    late_ok = signer in rule.derived_by
    check_event_time(
        envelope.time, block_time, max_ahead_s=rule.max_ahead_s, max_behind_s=None if late_ok else rule.max_behind_s
    )


def _check_usable(state: ChainState, record: KeyRecord) -> None:
    if record.revoked:
        raise EventRejected(
            RejectionReason.KEY_REVOKED, f"key {record.key_id} was revoked at height {record.revoked_height}"
        )
    if not record.usable_at(state.height):
        raise EventRejected(
            RejectionReason.KEY_REVOKED, f"key {record.key_id} was rotated out after height {record.valid_until}"
        )


def check_policy(state: ChainState, envelope: Envelope, signer: str) -> None:
    """The on-chain policy must grant the signer this event type in the source department."""
    grants = state.policy.publish.get(envelope.type)
    if not grants:
        raise _unauthorized(f"the policy allows nobody to publish {envelope.type}")
    principal = state.principals[signer]
    department = principal.department
    for grant in grants:
        if grant.principals is not None and signer not in grant.principals:
            continue
        if grant.kind is not None and grant.kind != principal.kind:
            continue
        if grant.role is not None and not state.has_role(signer, grant.role):
            continue
        if grant.covers_department(department):
            return
    raise _unauthorized(f"{signer} ({principal.kind}) holds no grant for {envelope.type}")


def _unauthorized(detail: str) -> EventRejected:
    return EventRejected(RejectionReason.UNAUTHORIZED, detail)


def _conflict(detail: str) -> EventRejected:
    return EventRejected(RejectionReason.STATE_CONFLICT, detail)


def _require_root(envelope: Envelope, what: str) -> None:
    if envelope.source != ev.ROOT:
        raise _unauthorized(f"only the root authority {what}")


def _require_new_principal(state: ChainState, principal_id: str) -> None:
    if principal_id in state.principals:
        raise _conflict(f"principal {principal_id} already exists")


CREDENTIALS = "credentials"
"""The ``purpose`` of a key that signs credentials only (``key.added``)."""


def _require_new_key(state: ChainState, public_hex: str, suite: CryptoSuite | None = None) -> None:
    """A key new to the chain, of ``suite`` (default: the chain's own), and a valid one of it."""
    wanted = state.suite if suite is None else suite
    try:
        key = PublicKey.from_hex(public_hex)
    except ValueError as exc:  # e.g. an SM2 point off the curve
        raise EventRejected(RejectionReason.INVALID_PAYLOAD, f"public_key: {exc}") from exc
    if key.suite is not wanted:
        raise EventRejected(
            RejectionReason.INVALID_PAYLOAD,
            f"public_key: a {key.suite.signature_name} key where a {wanted.signature_name} key is needed "
            f"(a {state.suite.name} chain)",
        )
    if key.key_id in state.keys:
        raise _conflict("this public key is already registered")


def _require_authority_over(state: ChainState, signer: str, subject: str, what: str) -> None:
    """Root, the subject itself, or an admin of the subject's department may act on it."""
    if signer == ev.ROOT or signer == subject:
        return
    if state.kind_of(subject) in ("official", "citizen") and state.is_admin_of(signer, state.department_of(subject)):
        return
    raise _unauthorized(f"{signer} may not {what} for {subject}")


def _genesis(state: ChainState, envelope: Envelope, payload: BaseModel, signer: str) -> None:
    raise _unauthorized("chain.genesis is only valid as the genesis block")


def _department_registered(state: ChainState, envelope: Envelope, payload: BaseModel, signer: str) -> None:
    assert isinstance(payload, ev.DepartmentRegistered)
    _require_root(envelope, "registers departments")
    _require_new_principal(state, payload.department_id)
    _require_new_key(state, payload.public_key)


def _service_registered(state: ChainState, envelope: Envelope, payload: BaseModel, signer: str) -> None:
    assert isinstance(payload, ev.ServiceRegistered)
    _require_root(envelope, "registers services")
    _require_new_principal(state, payload.service_id)
    _require_new_key(state, payload.public_key)


def _official_registered(state: ChainState, envelope: Envelope, payload: BaseModel, signer: str) -> None:
    assert isinstance(payload, ev.OfficialRegistered)
    if envelope.source != payload.department_id or not state.is_admin_of(signer, payload.department_id):
        raise _unauthorized(f"officials of {payload.department_id} are registered by its admin")
    _require_new_principal(state, payload.official_id)
    _require_new_key(state, payload.public_key)


def _citizen_enrolled(state: ChainState, envelope: Envelope, payload: BaseModel, signer: str) -> None:
    assert isinstance(payload, ev.CitizenEnrolled)
    if not state.is_department(envelope.source) or not (
        state.has_role(signer, "enrollment") or state.is_admin_of(signer, envelope.source)
    ):
        raise _unauthorized("citizens are enrolled by a department's admin or enrollment officer")
    _require_new_principal(state, payload.citizen_id)
    if payload.public_key is not None:
        _require_new_key(state, payload.public_key)


def _key_added(state: ChainState, envelope: Envelope, payload: BaseModel, signer: str) -> None:
    assert isinstance(payload, ev.KeyAdded)
    if payload.owner not in state.principals:
        raise _conflict(f"principal {payload.owner} does not exist")
    _require_authority_over(state, signer, payload.owner, "add a key")
    _require_new_key(state, payload.public_key, CREDENTIAL_SUITE if payload.purpose == CREDENTIALS else None)


def _key_rotated(state: ChainState, envelope: Envelope, payload: BaseModel, signer: str) -> None:
    assert isinstance(payload, ev.KeyRotated)
    old = state.keys.get(payload.old_key_id)
    if old is None or old.owner != payload.owner:
        raise _conflict(f"key {payload.old_key_id} is not a key of {payload.owner}")
    if not old.usable_at(state.height):
        raise _conflict(f"key {payload.old_key_id} is already revoked or rotated out")
    _require_authority_over(state, signer, payload.owner, "rotate a key")
    _require_new_key(state, payload.public_key)


def _key_revoked(state: ChainState, envelope: Envelope, payload: BaseModel, signer: str) -> None:
    assert isinstance(payload, ev.KeyRevoked)
    record = state.keys.get(payload.key_id)
    if record is None:
        raise _conflict(f"key {payload.key_id} is not on chain")
    _require_authority_over(state, signer, record.owner, "revoke a key")
    if record.revoked:
        raise _conflict(f"key {payload.key_id} is already revoked")


def _role_changed(state: ChainState, envelope: Envelope, payload: BaseModel, signer: str) -> None:
    assert isinstance(payload, ev.RoleGranted | ev.RoleRevoked)
    if payload.principal not in state.principals:
        raise _conflict(f"principal {payload.principal} does not exist")
    if signer == ev.ROOT:
        return
    if state.kind_of(payload.principal) == "official" and state.is_admin_of(
        signer, state.department_of(payload.principal)
    ):
        return
    raise _unauthorized(f"{signer} may not change the roles of {payload.principal}")


def _policy_rule_set(state: ChainState, envelope: Envelope, payload: BaseModel, signer: str) -> None:
    _require_root(envelope, "changes the policy")


def _witness_policy_set(state: ChainState, envelope: Envelope, payload: BaseModel, signer: str) -> None:
    """Which witnesses count is a trust anchor of the chain, like the policy: the root's alone.
    Witnesses of SHA-256 checkpoints are named only on a chain that keeps that tree (gm)."""
    _require_root(envelope, "names the checkpoint witnesses")
    assert isinstance(payload, ev.WitnessPolicySet)
    if payload.sha256 is not None and not keeps_sha256_tree(state.suite):
        raise EventRejected(
            RejectionReason.INVALID_PAYLOAD,
            f"sha256: a {state.suite.name} chain's own checkpoints are SHA-256; name their witnesses in witnesses",
        )


def _contract_deployed(state: ChainState, envelope: Envelope, payload: BaseModel, signer: str) -> None:
    """Who may deploy is the policy's call; which version may be deployed is the chain's.

    Versions of a contract strictly increase: a (contract id, version) is deployed once, and a
    version at or below the latest deployed one is refused. New cases start under the newest
    version and a running case keeps the version it started with, so an older version deployed
    later would never run; and one (id, version) naming two definitions would let a re-executing
    auditor and the engine disagree on which one a case ran under. Gaps are allowed (v1, then v3).
    """
    assert isinstance(payload, ContractDeployed)
    check_policy(state, envelope, signer)
    contract_id, version = payload.definition.contract_id, payload.definition.version
    deployed = state.deployed_versions(contract_id)
    if version in deployed:
        raise _conflict(f"contract {contract_id} version {version} is already deployed")
    if deployed and version < deployed[-1]:
        raise _conflict(
            f"contract {contract_id} version {version} is below its latest deployed version {deployed[-1]}; "
            f"versions must increase"
        )


_RULES: dict[type[BaseModel], Rule] = {
    ev.ChainGenesis: _genesis,
    ev.DepartmentRegistered: _department_registered,
    ev.ServiceRegistered: _service_registered,
    ev.OfficialRegistered: _official_registered,
    ev.CitizenEnrolled: _citizen_enrolled,
    ev.KeyAdded: _key_added,
    ev.KeyRotated: _key_rotated,
    ev.KeyRevoked: _key_revoked,
    ev.RoleGranted: _role_changed,
    ev.RoleRevoked: _role_changed,
    ev.PolicyRuleSet: _policy_rule_set,
    ev.WitnessPolicySet: _witness_policy_set,
    ContractDeployed: _contract_deployed,
}
