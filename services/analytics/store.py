"""Reading the analytics store into the pure inputs of :mod:`~govchain.services.analytics.metrics`.

The projection may commit a block while we read. Rather than rely on the database's
isolation level (SQLite and PostgreSQL differ), the snapshot is cut by value: the head
height and time are read first, then only rows resting on blocks at or below that height
(and refusals at or below the highest stored sequence) are taken.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, func, select

from govchain.services.analytics import tables as t
from govchain.services.analytics.metrics import CaseRow, EventCount, MetricsInput, RefusalCount
from govchain.services.analytics.projection import parse_time
from govchain.services.analytics.satisfaction import RatingRow


def read_snapshot(engine: Engine) -> MetricsInput:
    with engine.connect() as conn:
        head = conn.execute(select(t.head.c.height, t.head.c.time).where(t.head.c.id == 1)).one_or_none()
        height = -1 if head is None else int(head.height)
        refusals_seq = conn.execute(select(func.coalesce(func.max(t.refusals.c.stream_seq), 0))).scalar_one()
        return MetricsInput(
            as_of_height=height,
            as_of_time=None if head is None else parse_time(head.time),
            cases=_cases(conn, height),
            events=_events(conn, height),
            refusals=_refusals(conn, int(refusals_seq)),
            refusals_as_of_seq=int(refusals_seq),
            ratings=_ratings(conn, height),
        )


def _cases(conn: Connection, height: int) -> list[CaseRow]:
    rows = conn.execute(select(t.cases).where(t.cases.c.opened_height <= height)).all()
    return [_case(row, decided=row.decided_height is not None and row.decided_height <= height) for row in rows]


def _case(row: Any, *, decided: bool) -> CaseRow:
    return CaseRow(
        service_type=row.service_type,
        case_id=row.case_id,
        department=row.department,
        opened_at=parse_time(row.opened_at),
        decided_at=parse_time(row.decided_at) if decided else None,
        outcome=row.outcome if decided else None,
        reason=row.reason if decided else None,
    )


def _events(conn: Connection, height: int) -> list[EventCount]:
    e = t.block_events.c
    rows = conn.execute(
        select(e.hour, e.source, func.sum(e.events)).where(e.height <= height).group_by(e.hour, e.source)
    ).all()
    return [EventCount(hour=parse_time(hour), source=source, events=int(n)) for hour, source, n in rows]


def _refusals(conn: Connection, up_to_seq: int) -> list[RefusalCount]:
    r = t.refusals.c
    rows = conn.execute(
        select(r.department, r.reason, func.count()).where(r.stream_seq <= up_to_seq).group_by(r.department, r.reason)
    ).all()
    return [RefusalCount(department=d, reason=reason, count=int(n)) for d, reason, n in rows]


def _ratings(conn: Connection, height: int) -> list[RatingRow]:
    r = t.ratings.c
    rows = conn.execute(select(t.ratings).where(r.height <= height).order_by(r.height, r.event_id)).all()
    return [
        RatingRow(
            event_id=row.event_id,
            service_type=row.service_type,
            case_id=row.case_id,
            department=row.department,
            score=int(row.score),
            rated_at=parse_time(row.rated_at),
            void_reason=row.void_reason,
            has_comment=bool(row.has_comment),
        )
        for row in rows
    ]
