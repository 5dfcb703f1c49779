"""Public satisfaction from signed ratings: pure functions, no I/O.

Which ratings count is decided by the projection (:mod:`~govchain.services.analytics.projection`)
from the chain; here counted ratings are summarised per service type and department (mean,
distribution 1–5, response rate = counted ratings / decided cases) and over block time (per
UTC day), and void ratings are listed with their reasons.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from govchain.services.analytics.cases import DecidedCase

SCORES = (1, 2, 3, 4, 5)


@dataclass(frozen=True, slots=True)
class RatingRow:
    """One rating event as the projection judged it: ``void_reason`` None when it counts."""

    event_id: str
    service_type: str
    case_id: str
    department: str | None
    score: int
    rated_at: datetime
    void_reason: str | None = None
    has_comment: bool = False


class SatisfactionStats(BaseModel):
    service_type: str
    department: str | None = Field(default=None, description="None in the per-service rows")
    ratings: int = Field(description="counted ratings")
    decided: int = Field(description="decided cases (the ones that may be rated)")
    response_rate: float | None = Field(description="ratings / decided cases")
    mean_score: float | None
    distribution: dict[str, int] = Field(description="score (1–5) → ratings")
    comments: int = Field(default=0, description="ratings with a (sealed) comment")


class TrendPoint(BaseModel):
    day: str = Field(description="UTC day of block time, YYYY-MM-DD")
    service_type: str
    ratings: int
    mean_score: float


class VoidRating(BaseModel):
    event_id: str
    service_type: str
    case_id: str
    reason: str
    rated_at: datetime


class Satisfaction(BaseModel):
    by_service_type: list[SatisfactionStats] = Field(default_factory=list)
    by_department: list[SatisfactionStats] = Field(default_factory=list)
    trend: list[TrendPoint] = Field(default_factory=list)
    void: list[VoidRating] = Field(default_factory=list, description="ratings that do not count, with why")
    void_by_reason: dict[str, int] = Field(default_factory=dict)


def stats(service_type: str, department: str | None, ratings: Sequence[RatingRow], decided: int) -> SatisfactionStats:
    scores = Counter(r.score for r in ratings)
    return SatisfactionStats(
        service_type=service_type,
        department=department,
        ratings=len(ratings),
        decided=decided,
        response_rate=len(ratings) / decided if decided else None,
        mean_score=sum(r.score for r in ratings) / len(ratings) if ratings else None,
        distribution={str(s): scores.get(s, 0) for s in SCORES},
        comments=sum(r.has_comment for r in ratings),
    )


def satisfaction(
    ratings: Iterable[RatingRow], cases: Iterable[DecidedCase], service_types: Sequence[str]
) -> Satisfaction:
    ratings = list(ratings)
    counted = [r for r in ratings if r.void_reason is None]
    decided_type: Counter[str] = Counter()
    decided_dept: Counter[tuple[str, str | None]] = Counter()
    for case in cases:
        if case.decided_at is not None:
            decided_type[case.service_type] += 1
            decided_dept[(case.service_type, case.department)] += 1
    by_type: dict[str, list[RatingRow]] = defaultdict(list)
    by_dept: dict[tuple[str, str | None], list[RatingRow]] = defaultdict(list)
    by_day: dict[tuple[str, str], list[RatingRow]] = defaultdict(list)
    for r in counted:
        by_type[r.service_type].append(r)
        by_dept[(r.service_type, r.department)].append(r)
        by_day[(r.rated_at.strftime("%Y-%m-%d"), r.service_type)].append(r)
    names = list(service_types) + sorted(set(by_type) - set(service_types))
    departments = sorted(set(by_dept) | set(decided_dept), key=lambda k: (k[0], k[1] or ""))
    void = [r for r in ratings if r.void_reason is not None]
    return Satisfaction(
        by_service_type=[stats(n, None, by_type.get(n, []), decided_type.get(n, 0)) for n in names],
        by_department=[stats(s, d, by_dept.get((s, d), []), decided_dept.get((s, d), 0)) for s, d in departments],
        trend=[
            TrendPoint(day=day, service_type=s, ratings=len(rows), mean_score=sum(r.score for r in rows) / len(rows))
            for (day, s), rows in sorted(by_day.items())
        ],
        void=[
            VoidRating(
                event_id=r.event_id,
                service_type=r.service_type,
                case_id=r.case_id,
                reason=r.void_reason or "",
                rated_at=r.rated_at,
            )
            for r in sorted(void, key=lambda r: r.rated_at)
        ],
        void_by_reason=dict(
            sorted(Counter(_code(r.void_reason or "") for r in void).items(), key=lambda kv: (-kv[1], kv[0]))
        ),
    )


def _code(reason: str) -> str:
    """A void reason reads ``code: details``; tallies are by code."""
    return reason.split(":", 1)[0]
