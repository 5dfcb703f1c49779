"""Who sees which fields of a registry record: public, auditors, officers, the person themself.

Fields are public, internal (pseudonymous ids, chain positions: officers and auditors) or
personal (sealed on chain: the person themself, or an officer of the record's department
who states a purpose, and whose read is then recorded on chain before the data is shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from govchain.protocol.requests import AccessDenied
from govchain.protocol.state import ChainState

AUDITOR_ROLE = "auditor"


class Level(Enum):
    PUBLIC = "public"
    INTERNAL = "internal"
    PERSONAL = "personal"


P, I, S = Level.PUBLIC, Level.INTERNAL, Level.PERSONAL  # noqa: E741 - one letter per level keeps the table below readable

FIELDS: dict[str, dict[str, Level]] = {
    "business": {
        "business_id": P,
        "name": P,
        "registration_no": P,
        "address": P,
        "activity": P,
        "department": P,
        "owner": I,
        "height": I,
        "event_ids": I,
        "owner_details": S,
    },
    "license": {
        "license_id": P,
        "business_id": P,
        "kind": P,
        "valid_from": P,
        "valid_until": P,
        "status": P,
        "revocation_reason": P,
        "department": P,
        "height": I,
        "event_ids": I,
    },
    "parcel": {
        "parcel_id": P,
        "location": P,
        "area_m2": P,
        "land_use": P,
        "department": P,
        "owner": I,
        "height": I,
        "event_ids": I,
        "owner_details": S,
    },
    "transaction": {
        "transfer_id": P,
        "parcel_id": P,
        "consideration": P,
        "contract_sha256": P,
        "height": P,
        "position": P,
        "event_id": P,
        "from_owner": I,
        "to_owner": I,
    },
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """The asking principal, as the chain knows it (``principal`` None: the public)."""

    principal: str | None = None
    kind: str | None = None
    department: str | None = None
    auditor: bool = False

    @classmethod
    def of(cls, state: ChainState, principal: str | None) -> Viewer:
        if principal is None:
            return cls()
        found = state.principals.get(principal)
        if found is None:
            raise AccessDenied("unauthenticated", f"{principal} is not a principal on chain")
        return cls(principal, found.kind, found.department, state.has_role(principal, AUDITOR_ROLE))

    @property
    def is_officer(self) -> bool:
        return self.kind in ("department", "official")

    @property
    def label(self) -> str:
        if self.principal is None:
            return "public"
        if self.auditor:
            return "auditor"
        return "officer" if self.is_officer else self.kind or "principal"

    def sees_internal(self) -> bool:
        return self.auditor or self.is_officer


def view(record_type: str, row: dict[str, Any], viewer: Viewer, *, subject: str | None = None) -> dict[str, Any]:
    """The record with only the fields ``viewer`` may see (personal fields are handled apart)."""
    levels = FIELDS[record_type]
    own = subject is not None and viewer.principal == subject
    shown = {Level.PUBLIC} | ({Level.INTERNAL} if viewer.sees_internal() or own else set())
    return {name: value for name, value in row.items() if levels.get(name) in shown}


def personal_access(viewer: Viewer, *, subject: str, department: str, purpose: str | None) -> bool:
    """Whether ``viewer`` may read ``subject``'s personal fields held by ``department``.

    Returns True when the read must be recorded on chain (an officer's read); False for the
    person themself. Raises :class:`AccessDenied` with the reason otherwise.
    """
    if viewer.principal is not None and viewer.principal == subject:
        return False
    if viewer.principal is None:
        raise AccessDenied("forbidden", "personal data needs a signed request from the person or an officer")
    if not viewer.is_officer or viewer.department != department:
        raise AccessDenied("forbidden", f"only officers of {department} may read personal data it holds")
    if not purpose or len(purpose.strip()) < 3:
        raise AccessDenied("purpose_required", "state the purpose of reading personal data (it is recorded)")
    return True


def may_read_access_log(viewer: Viewer, subject: str) -> None:
    if viewer.principal == subject or viewer.auditor:
        return
    raise AccessDenied("forbidden", "an access log is shown to its subject and to auditors only")
