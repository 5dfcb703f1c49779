"""The analytics projection: service cases and event counts, timed by block time.

Block time (the header's ``time``) is what every replica and auditor sees, so the figures
are reproducible from the chain; an event's own ``time`` is its publisher's clock and is
not trusted for measurement. What opens and decides a case comes from the catalogue in
:mod:`govchain.services.analytics.cases`; this module only follows it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from govchain.protocol.envelope import Envelope
from govchain.protocol.verify import VerifiedBlock
from govchain.services.analytics import tables as t
from govchain.services.analytics.cases import SERVICE_TYPES, Catalogue, Decision, ServiceType
from govchain.storage.migrations import upgrade_to_head

MIGRATIONS = Path(__file__).with_name("migrations")

BUSINESS_REGISTERED = "business.registered"
CASE_RATED = "case.rated"
MAX_REASON = 500


def parse_time(value: str) -> datetime:
    """An RFC 3339 UTC timestamp (as in block headers) as an aware datetime."""
    return datetime.fromisoformat(value).astimezone(UTC)


def hour_of(value: str) -> str:
    """The start of the UTC hour ``value`` falls in, in one fixed format (so SQL can group by it)."""
    return parse_time(value).strftime("%Y-%m-%dT%H:00:00Z")


class AnalyticsProjection:
    name = "analytics"

    def __init__(self, catalogue: Catalogue = SERVICE_TYPES) -> None:
        self.catalogue = catalogue

    def prepare(self, engine: Engine) -> None:
        upgrade_to_head(engine, MIGRATIONS)

    def apply(self, conn: Connection, block: VerifiedBlock) -> None:
        header = block.block.header
        per_source = Counter(e.source for e in block.envelopes)
        if per_source:
            conn.execute(
                insert(t.block_events),
                [
                    {"height": header.height, "source": source, "hour": hour_of(header.time), "events": n}
                    for source, n in per_source.items()
                ],
            )
        for envelope in block.envelopes:
            if envelope.type == BUSINESS_REGISTERED:
                self._business(conn, envelope, header.height)
            elif envelope.type == CASE_RATED:
                self._rated(conn, envelope, header.height, header.time)
            service = self.catalogue.opened_by(envelope.type)
            if service is not None:
                self._open(conn, service, envelope, header.height, header.time)
            for service, decision in self.catalogue.decided_by(envelope.type):
                self._decide(conn, service, decision, envelope, header.height, header.time)
        moved = conn.execute(update(t.head).where(t.head.c.id == 1).values(height=header.height, time=header.time))
        if moved.rowcount == 0:
            conn.execute(insert(t.head).values(id=1, height=header.height, time=header.time))

    def _business(self, conn: Connection, e: Envelope, height: int) -> None:
        """Remember who registered a business; the first registration stands (as in the registry)."""
        business_id = _text(e.data, "business_id")
        if business_id is None or _row(conn, t.businesses, business_id=business_id) is not None:
            return
        conn.execute(insert(t.businesses).values(business_id=business_id, department=e.source, height=height))

    def _open(self, conn: Connection, service: ServiceType, e: Envelope, height: int, time: str) -> None:
        """A new case; a second opening with the same id is ignored, as the contracts ignore it."""
        case_id = _text(e.data, service.key_field)
        if case_id is None or _row(conn, t.cases, service_type=service.name, case_id=case_id) is not None:
            return
        conn.execute(
            insert(t.cases).values(
                service_type=service.name,
                case_id=case_id,
                department=self._department(conn, service, e),
                opened_at=time,
                opened_height=height,
                opened_event_id=e.id,
                applicant=None if service.applicant_field is None else _text(e.data, service.applicant_field),
            )
        )

    def _decide(
        self, conn: Connection, service: ServiceType, decision: Decision, e: Envelope, height: int, time: str
    ) -> None:
        """The first decision of an open case stands; decisions of unknown cases (say, a licence
        issued by hand, without an application) are not service cases and are skipped."""
        case_id = _text(e.data, service.key_field)
        if case_id is None:
            return
        row = _row(conn, t.cases, service_type=service.name, case_id=case_id)
        if row is None or row.decided_at is not None:
            return
        reason = None if decision.reason_field is None else _text(e.data, decision.reason_field)
        conn.execute(
            update(t.cases)
            .where(
                t.cases.c.service_type == service.name,
                t.cases.c.case_id == case_id,
            )
            .values(
                decided_at=time,
                decided_height=height,
                decided_event_id=e.id,
                outcome=decision.outcome,
                reason=None if reason is None else reason[:MAX_REASON],
            )
        )

    def _rated(self, conn: Connection, e: Envelope, height: int, time: str) -> None:
        """Record a rating, counted or void with its reason (see :func:`rating_problem`)."""
        service_type, case_id = _text(e.data, "service_type") or "", _text(e.data, "case_id") or ""
        case = _row(conn, t.cases, service_type=service_type, case_id=case_id) if service_type and case_id else None
        counted = (
            None
            if case is None
            else conn.execute(
                select(t.ratings.c.event_id)
                .where(
                    t.ratings.c.service_type == service_type,
                    t.ratings.c.case_id == case_id,
                    t.ratings.c.void_reason.is_(None),
                )
                .limit(1)
            ).first()
        )
        comment = e.data.get("comment")
        problem = rating_problem(
            rater=e.source,
            case=case,
            already_rated=counted is not None,
            comment_subject=comment.get("subject") if isinstance(comment, dict) else None,
        )
        score = e.data.get("score")
        conn.execute(
            insert(t.ratings).values(
                event_id=e.ref,
                service_type=service_type[:64],
                case_id=case_id[:128],
                department=None if case is None else case.department,
                score=score if isinstance(score, int) else 0,
                has_comment=isinstance(comment, dict),
                rated_at=time,
                height=height,
                void_reason=None if problem is None else problem[:300],
            )
        )

    def _department(self, conn: Connection, service: ServiceType, e: Envelope) -> str | None:
        if service.department_of_business is None:
            return e.source
        business_id = _text(e.data, service.department_of_business)
        business = None if business_id is None else _row(conn, t.businesses, business_id=business_id)
        return None if business is None else str(business.department)


def rating_problem(*, rater: str, case: Any, already_rated: bool, comment_subject: str | None) -> str | None:
    """Why a rating does not count (``code: details``), or None when it does.

    Decided here, in the projection, because it needs case state the ledger does not keep
    (who applied, whether the case is decided): the ledger has already checked that a
    citizen signed it; this check reads only earlier blocks, so every replica agrees."""
    if case is None:
        return "unknown_case: no such case of this service"
    if case.applicant is None:
        return "unknown_applicant: the case does not name whom it is for"
    if case.applicant != rater:
        return "not_applicant: only the applicant may rate a case"
    if case.decided_at is None:
        return "not_decided: a case can be rated once it is decided"
    if already_rated:
        return "already_rated: the case has been rated"
    if comment_subject is not None and comment_subject != rater:
        return "comment_not_rater: the comment must be sealed for the rater"
    return None


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if isinstance(value, str) and value:
        return value
    return None


def _row(conn: Connection, table: Any, **key: str) -> Any:
    return conn.execute(select(table).where(*(table.c[k] == v for k, v in key.items()))).one_or_none()
