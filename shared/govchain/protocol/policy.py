"""Who may publish which event type: the authorization policy, kept on chain.

The policy starts in genesis and changes only by ``policy.rule_set`` events from the root
authority, so whether an event was authorized is decided by the chain before it alone.
Identity events (principals, keys, roles) follow fixed structural rules in
:mod:`govchain.protocol.validation`; every other type needs a grant here. The trust anchors
are the root authority's alone, whatever this policy says: ``policy.rule_set`` (this policy)
and ``witness.policy_set`` (which checkpoint witnesses count, and how many must cosign).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PrincipalKind = Literal["root", "service", "department", "official", "citizen"]
ROLE_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"
ADMIN_ROLE = "admin"
"""A department's own keys act with this role inside the department."""


CONTRACT_ENGINE = "contract-engine"


class Grant(BaseModel):
    """One way to be allowed: by named principals, by kind and/or by role, within some departments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    principals: list[str] | None = Field(default=None, description="only these principal ids")
    kind: PrincipalKind | None = None
    role: str | None = Field(default=None, pattern=ROLE_PATTERN)
    departments: list[str] = Field(default_factory=lambda: ["*"], min_length=1)

    def covers_department(self, department: str | None) -> bool:
        return "*" in self.departments or department in self.departments


class EventTimeRule(BaseModel):
    """How far an event's ``time`` may lie from the time of the block that orders it.

    Fixed in genesis, so every verifier judges with the same window. Principals named in
    ``derived_by`` publish results of earlier blocks (the contract engine dates each result
    with the time of the block that caused it) and may publish them late, never early."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_ahead_s: int = Field(default=300, ge=0, le=86_400)
    max_behind_s: int = Field(default=300, ge=0, le=31 * 86_400)
    derived_by: list[str] = Field(default_factory=lambda: [CONTRACT_ENGINE])


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    publish: dict[str, list[Grant]] = Field(default_factory=dict)
    """event type → the grants that allow publishing it; a type with no entry is refused."""
    event_time: EventTimeRule | None = None
    """``None`` only on chains made before the rule existed: their events' times are not judged."""


_REGISTRARS = [Grant(kind="department"), Grant(role="registrar")]
_ENGINE = Grant(principals=[CONTRACT_ENGINE])

DEFAULT_POLICY = Policy(
    publish={
        "document.registered": _REGISTRARS,
        "credential.revoked": [Grant(kind="department"), Grant(role="issuer")],
        "business.registered": _REGISTRARS,
        "license.issued": [*_REGISTRARS, _ENGINE],
        "license.revoked": _REGISTRARS,
        "land.parcel_registered": _REGISTRARS,
        "land.transferred": [*_REGISTRARS, _ENGINE],
        "dataset.published": [Grant(kind="department"), Grant(role="data-steward")],
        "personal_data.accessed": [Grant(kind="service")],
        "personal_data.erased": [Grant(kind="citizen"), Grant(kind="root")],
        "contract.deployed": [Grant(kind="root"), Grant(role="contract-admin")],
        "license.applied": [Grant(kind="citizen")],
        "license.application_rejected": [_ENGINE],
        "land.transfer_requested": _REGISTRARS,
        "land.transfer_approved": [Grant(kind="department"), Grant(role="approver")],
        "land.transfer_declined": [Grant(kind="department"), Grant(role="approver")],
        "land.transfer_expired": [_ENGINE],
        "land.transfer_refused": [_ENGINE],
        "clock.tick": [_ENGINE],
        "case.rated": [Grant(kind="citizen")],
        "dataset.access_requested": [Grant(kind="department"), Grant(role="data-steward")],
        "dataset.access_approved": [Grant(kind="department"), Grant(role="data-steward")],
        "dataset.access_declined": [Grant(kind="department"), Grant(role="data-steward")],
        "dataset.access_granted": [_ENGINE],
        "dataset.access_refused": [_ENGINE],
        "dataset.read": [Grant(kind="service")],
    },
    event_time=EventTimeRule(),
)
"""What ``govchain init`` writes into genesis; later changed on chain by the root authority."""
