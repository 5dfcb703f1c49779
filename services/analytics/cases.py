"""Which events open and which decide a *service case*: a table, so a new service is a data change.

A case is one request to the administration (a licence application, a land transfer
request). It opens with one event type and is decided by the first of its decision event
types that names the same key; each decision carries an outcome. The table is the only
place that knows event types: the projection and the metrics just follow it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

Outcome = Literal["approved", "rejected", "expired"]
OUTCOMES: tuple[Outcome, ...] = ("approved", "rejected", "expired")


class DecidedCase(Protocol):
    """What the satisfaction and cost measures read of a case (read-only, so a frozen row such
    as metrics.CaseRow is one)."""

    @property
    def service_type(self) -> str: ...
    @property
    def department(self) -> str | None: ...
    @property
    def decided_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Decision:
    """What a decision event means for its case."""

    outcome: Outcome
    reason_field: str | None = None
    """The data field that says why (e.g. the failed condition of a rejection)."""


@dataclass(frozen=True, slots=True)
class ServiceType:
    name: str
    title: str
    opened_by: str
    """The event type that opens a case."""
    key_field: str
    """The data field carrying the case id, in the opening event and in every decision."""
    decided_by: Mapping[str, Decision]
    """Decision event type → what it decides."""
    department_of_business: str | None = None
    """When set, the data field naming a business: the case belongs to the department that
    registered that business (the applicant is a citizen, not a department). Otherwise the
    case belongs to the opening event's source."""
    applicant_field: str | None = None
    """The data field of the opening event naming the person the case is for (a citizen's
    pseudonym): the only one whose rating of the case counts."""


@dataclass(frozen=True)
class Catalogue:
    """The service types, indexed by the event types that matter to them."""

    service_types: tuple[ServiceType, ...]
    _openers: dict[str, ServiceType] = field(init=False, repr=False)
    _deciders: dict[str, list[tuple[ServiceType, Decision]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        openers: dict[str, ServiceType] = {}
        deciders: dict[str, list[tuple[ServiceType, Decision]]] = {}
        names: set[str] = set()
        for service in self.service_types:
            if service.name in names:
                raise ValueError(f"service type {service.name!r} is defined twice")
            if service.opened_by in openers:
                raise ValueError(f"{service.opened_by!r} already opens {openers[service.opened_by].name!r} cases")
            names.add(service.name)
            openers[service.opened_by] = service
            for event_type, decision in service.decided_by.items():
                deciders.setdefault(event_type, []).append((service, decision))
        object.__setattr__(self, "_openers", openers)
        object.__setattr__(self, "_deciders", deciders)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.service_types]

    def title(self, name: str) -> str:
        return next((s.title for s in self.service_types if s.name == name), name)

    def opened_by(self, event_type: str) -> ServiceType | None:
        return self._openers.get(event_type)

    def decided_by(self, event_type: str) -> Iterable[tuple[ServiceType, Decision]]:
        return self._deciders.get(event_type, ())


SERVICE_TYPES = Catalogue(
    (
        ServiceType(
            name="business-license",
            title="Business licence",
            opened_by="license.applied",
            key_field="application_id",
            decided_by={
                "license.issued": Decision("approved"),
                "license.application_rejected": Decision("rejected", reason_field="failed_condition"),
            },
            department_of_business="business_id",
            applicant_field="applicant",
        ),
        ServiceType(
            name="land-transfer",
            title="Land transfer",
            opened_by="land.transfer_requested",
            key_field="request_id",
            decided_by={
                "land.transferred": Decision("approved"),
                "land.transfer_expired": Decision("expired"),
                "land.transfer_refused": Decision("rejected", reason_field="reason"),
            },
            applicant_field="from_owner",
        ),
    )
)
"""The services GovChain measures (their contracts ship in ``services/contract/definitions``)."""
