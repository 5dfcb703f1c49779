"""Service efficiency, computed from case rows: pure functions, no I/O.

Everything here is a function of its inputs (cases timed in block time, hourly event counts,
refusal tallies, the configured targets), so the figures are reproducible from the chain
and testable with hand-made rows. Durations are seconds. Percentiles interpolate linearly
between closest ranks (Hyndman–Fan type 7, numpy's default), so the median of an even
count is the mean of the middle two.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from govchain.services.analytics.cases import OUTCOMES, SERVICE_TYPES, Catalogue, Outcome
from govchain.services.analytics.costs import DEFAULT_COSTS, CostReport, ServiceCostModel, cost_report, merge_costs
from govchain.services.analytics.satisfaction import RatingRow, Satisfaction, satisfaction

DAY_S = 86_400.0
HOUR = timedelta(hours=1)


# --- configuration -------------------------------------------------------------------------


class ServiceTargets(BaseModel):
    """What a service type is held to: its SLA and the manual process it replaced."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sla_s: float | None = Field(default=None, gt=0, description="a case decided later than this breaches the SLA")
    baseline_median_s: float | None = Field(
        default=None, gt=0, description="median time to decision of the manual process (before GovChain)"
    )


DEFAULT_TARGETS: dict[str, ServiceTargets] = {
    "business-license": ServiceTargets(sla_s=3 * DAY_S, baseline_median_s=15 * DAY_S),
    "land-transfer": ServiceTargets(sla_s=7 * DAY_S, baseline_median_s=30 * DAY_S),
}


COSTS_KEY = "costs"
"""The key of the cost model in the configuration file (every other key names a service type)."""


class AnalyticsConfig(BaseModel):
    """Targets and cost model per service type. Overrides merge field by field over the
    defaults, so a file may change one SLA or one cost without restating the rest."""

    model_config = ConfigDict(frozen=True)

    targets: dict[str, ServiceTargets] = Field(default_factory=lambda: dict(DEFAULT_TARGETS))
    costs: dict[str, ServiceCostModel] = Field(default_factory=lambda: dict(DEFAULT_COSTS))

    @classmethod
    def from_mapping(cls, overrides: Mapping[str, Mapping[str, Any]]) -> AnalyticsConfig:
        """``{"business-license": {"sla_s": 86400, "baseline_median_s": 1296000}, ...,
        "costs": {"business-license": {"staff_hourly_cost": 150}, ...}}``"""
        targets = dict(DEFAULT_TARGETS)
        costs = dict(DEFAULT_COSTS)
        for service_type, values in overrides.items():
            if service_type == COSTS_KEY:
                if not isinstance(values, Mapping):
                    raise ValueError(f"{COSTS_KEY!r}: expected an object of service type → cost model")
                costs = merge_costs(values)
                continue
            base = targets.get(service_type, ServiceTargets())
            targets[service_type] = ServiceTargets.model_validate({**base.model_dump(), **values})
        return cls(targets=targets, costs=costs)

    @classmethod
    def load(cls, path: Path | None) -> AnalyticsConfig:
        """The defaults, overridden by the JSON file at ``path`` when one is given."""
        if path is None:
            return cls()
        overrides = json.loads(Path(path).read_text())
        if not isinstance(overrides, dict):
            raise ValueError(f"{path}: expected a JSON object of service type → targets")
        return cls.from_mapping(overrides)

    def for_type(self, service_type: str) -> ServiceTargets:
        return self.targets.get(service_type, ServiceTargets())


# --- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One service case, timed in block time."""

    service_type: str
    case_id: str
    department: str | None
    opened_at: datetime
    decided_at: datetime | None = None
    outcome: Outcome | None = None
    reason: str | None = None

    @property
    def processing_s(self) -> float | None:
        """Applied → decided, in seconds; None while the case is open."""
        return None if self.decided_at is None else (self.decided_at - self.opened_at).total_seconds()

    def breaches(self, sla_s: float | None, as_of: datetime | None) -> bool:
        """Decided later than the SLA, or still open past it as of the newest block."""
        if sla_s is None:
            return False
        if self.decided_at is not None:
            return (self.decided_at - self.opened_at).total_seconds() > sla_s
        return as_of is not None and (as_of - self.opened_at).total_seconds() > sla_s


@dataclass(frozen=True, slots=True)
class EventCount:
    """Events one source put on chain within one block-time hour."""

    hour: datetime
    source: str
    events: int


@dataclass(frozen=True, slots=True)
class RefusalCount:
    """Events of one department the ledger refused for one reason (they never reached the chain)."""

    department: str
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class MetricsInput:
    """A consistent snapshot: the chain up to ``as_of_height``, REJECTED up to ``refusals_as_of_seq``."""

    as_of_height: int
    as_of_time: datetime | None
    cases: Sequence[CaseRow] = ()
    events: Sequence[EventCount] = ()
    refusals: Sequence[RefusalCount] = ()
    refusals_as_of_seq: int = 0
    ratings: Sequence[RatingRow] = ()


# --- outputs ---------------------------------------------------------------------------------


class CaseStats(BaseModel):
    count: int
    decided: int
    open: int
    outcomes: dict[str, int] = Field(description="decided cases by outcome: approved, rejected, expired")
    median_s: float | None = Field(description="median applied → decided time of decided cases")
    p90_s: float | None
    mean_s: float | None
    sla_s: float | None
    sla_breaches: int = Field(description="decided later than the SLA, or open past it as of the newest block")


class ServiceTypeStats(CaseStats):
    service_type: str
    title: str


class DepartmentStats(CaseStats):
    service_type: str
    department: str | None = Field(description="None when the case's department is not known on chain")


class Comparison(BaseModel):
    """Before (the manual process) and after (on chain): median time to decision."""

    service_type: str
    title: str
    decided: int = Field(description="decided cases the measured median rests on")
    baseline_median_s: float | None
    measured_median_s: float | None
    time_saved_s: float | None = Field(description="baseline median − measured median")
    improvement_pct: float | None = Field(description="time saved as a share of the baseline median")


class RejectionCount(BaseModel):
    """Cases decided against the applicant on chain, by why."""

    service_type: str
    outcome: str
    reason: str | None
    count: int


class HourCount(BaseModel):
    hour: datetime = Field(description="start of the block-time hour (UTC)")
    events: int
    by_source: dict[str, int]


class Throughput(BaseModel):
    total_events: int
    span_hours: int = Field(description="hours from the first to the last hour with events, inclusive")
    mean_per_hour: float | None
    peak_per_hour: int
    by_source: dict[str, int]
    hourly: list[HourCount] = Field(description="hours with events, oldest first")


class Refusals(BaseModel):
    """Events the ledger refused (stream REJECTED): they never reached the chain."""

    total: int
    by_reason: dict[str, int]
    by_department: dict[str, int]
    by_department_and_reason: list[RefusalCount]
    as_of_seq: int = Field(description="the REJECTED stream sequence these counts include")


class Summary(BaseModel):
    as_of_height: int
    as_of_time: datetime | None = Field(description="time of the newest block applied: the clock SLAs are read by")
    service_types: list[ServiceTypeStats]
    departments: list[DepartmentStats]
    comparison: list[Comparison]
    rejections: list[RejectionCount]
    throughput: Throughput
    refusals: Refusals
    targets: dict[str, ServiceTargets]
    satisfaction: Satisfaction = Field(default_factory=Satisfaction, description="signed ratings of decided cases")
    costs: CostReport = Field(default_factory=CostReport, description="the cost model applied to decided cases")


# --- computations ----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100), interpolating linearly between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not within 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def case_stats(cases: Sequence[CaseRow], sla_s: float | None, as_of: datetime | None) -> dict[str, Any]:
    """The figures of one group of cases (the fields of :class:`CaseStats`)."""
    times = [t for t in (c.processing_s for c in cases) if t is not None]
    outcomes = Counter(c.outcome for c in cases if c.outcome is not None)
    return {
        "count": len(cases),
        "decided": len(times),
        "open": len(cases) - len(times),
        "outcomes": {outcome: outcomes.get(outcome, 0) for outcome in OUTCOMES},
        "median_s": percentile(times, 50) if times else None,
        "p90_s": percentile(times, 90) if times else None,
        "mean_s": sum(times) / len(times) if times else None,
        "sla_s": sla_s,
        "sla_breaches": sum(c.breaches(sla_s, as_of) for c in cases),
    }


def _ordered_types(cases: Iterable[CaseRow], catalogue: Catalogue, config: AnalyticsConfig) -> list[str]:
    """Every known service type (even without cases, so reports show it), then any others seen."""
    names = list(catalogue.names)
    for name in [*config.targets, *(c.service_type for c in cases)]:
        if name not in names:
            names.append(name)
    return names


def by_service_type(
    cases: Sequence[CaseRow], as_of: datetime | None, config: AnalyticsConfig, catalogue: Catalogue = SERVICE_TYPES
) -> list[ServiceTypeStats]:
    groups = _group(cases, lambda c: c.service_type)
    return [
        ServiceTypeStats(
            service_type=name,
            title=catalogue.title(name),
            **case_stats(groups.get(name, []), config.for_type(name).sla_s, as_of),
        )
        for name in _ordered_types(cases, catalogue, config)
    ]


def by_department(cases: Sequence[CaseRow], as_of: datetime | None, config: AnalyticsConfig) -> list[DepartmentStats]:
    """Per service type and department: times of different services are not comparable."""
    groups = _group(cases, lambda c: (c.service_type, c.department))
    return [
        DepartmentStats(
            service_type=service_type,
            department=department,
            **case_stats(rows, config.for_type(service_type).sla_s, as_of),
        )
        for (service_type, department), rows in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
    ]


def comparison(stats: Sequence[ServiceTypeStats], config: AnalyticsConfig) -> list[Comparison]:
    """Before/after per service type; None where either median is unknown."""
    rows = []
    for s in stats:
        baseline, measured = config.for_type(s.service_type).baseline_median_s, s.median_s
        saved = None if baseline is None or measured is None else baseline - measured
        rows.append(
            Comparison(
                service_type=s.service_type,
                title=s.title,
                decided=s.decided,
                baseline_median_s=baseline,
                measured_median_s=measured,
                time_saved_s=saved,
                improvement_pct=None if saved is None or baseline is None else 100 * saved / baseline,
            )
        )
    return rows


def rejections(cases: Iterable[CaseRow]) -> list[RejectionCount]:
    """Decided cases other than approvals, by service type, outcome and reason; most frequent first."""
    counts = Counter(
        (c.service_type, c.outcome, c.reason) for c in cases if c.outcome is not None and c.outcome != "approved"
    )
    return [
        RejectionCount(service_type=t, outcome=o, reason=r, count=n)
        for (t, o, r), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1], kv[0][2] or ""))
    ]


def throughput(events: Iterable[EventCount]) -> Throughput:
    """Events per block-time hour, overall and per source."""
    hours: dict[datetime, Counter[str]] = defaultdict(Counter)
    for row in events:
        hours[row.hour][row.source] += row.events
    hourly = [HourCount(hour=h, events=sum(c.values()), by_source=_ranked(c)) for h, c in sorted(hours.items())]
    total = sum(h.events for h in hourly)
    span = 0 if not hourly else int((hourly[-1].hour - hourly[0].hour) / HOUR) + 1
    return Throughput(
        total_events=total,
        span_hours=span,
        mean_per_hour=total / span if span else None,
        peak_per_hour=max((h.events for h in hourly), default=0),
        by_source=_ranked(sum((c for c in hours.values()), Counter())),
        hourly=hourly,
    )


def refusals(rows: Iterable[RefusalCount], as_of_seq: int) -> Refusals:
    merged: Counter[tuple[str, str]] = Counter()
    for row in rows:
        merged[(row.department, row.reason)] += row.count
    by_reason: Counter[str] = Counter()
    by_department: Counter[str] = Counter()
    for (department, reason), n in merged.items():
        by_reason[reason] += n
        by_department[department] += n
    return Refusals(
        total=sum(merged.values()),
        by_reason=_ranked(by_reason),
        by_department=_ranked(by_department),
        by_department_and_reason=[
            RefusalCount(department=d, reason=r, count=n)
            for (d, r), n in sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        as_of_seq=as_of_seq,
    )


def summarize(data: MetricsInput, config: AnalyticsConfig, catalogue: Catalogue = SERVICE_TYPES) -> Summary:
    """Everything the report and the portal show, from one snapshot."""
    stats = by_service_type(data.cases, data.as_of_time, config, catalogue)
    return Summary(
        as_of_height=data.as_of_height,
        as_of_time=data.as_of_time,
        service_types=stats,
        departments=by_department(data.cases, data.as_of_time, config),
        comparison=comparison(stats, config),
        rejections=rejections(data.cases),
        throughput=throughput(data.events),
        refusals=refusals(data.refusals, data.refusals_as_of_seq),
        targets=config.targets,
        satisfaction=satisfaction(data.ratings, data.cases, [s.service_type for s in stats]),
        costs=cost_report(data.cases, config.costs),
    )


def _group(cases: Iterable[CaseRow], key: Any) -> dict[Any, list[CaseRow]]:
    groups: dict[Any, list[CaseRow]] = defaultdict(list)
    for case in cases:
        groups[key(case)].append(case)
    return groups


def _ranked(counts: Mapping[str, int]) -> dict[str, int]:
    """Most frequent first, ties by name: stable output for tables and charts."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
