"""Cost savings: a documented cost model applied to measured cases. Pure functions, no I/O.

The model says, per service type, what one case cost by hand (before GovChain) and what it
costs now (after). Every figure in it is an *assumption* an operator states in the analytics
configuration (``GOVCHAIN_ANALYTICS_CONFIG``, key ``"costs"``); the defaults below are
illustrative and are printed next to every table that uses them. The *measured* part is how
many cases were decided, when (block time) and by which department: savings are the per-case
saving times the decided cases, per period (calendar month of the decision, UTC) and
department. Money is in CNY, rounded to cents only when shown.

Per case::

    staff cost of a step = staff_minutes_per_step / 60 × staff_hourly_cost
    before = manual_steps_before × staff cost of a step + paper + courier
             + visits_avoided × cost_per_visit
    after  = manual_steps_after × staff cost of a step + platform_cost_per_case
    saving = before − after
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from govchain.services.analytics.cases import DecidedCase


class ServiceCostModel(BaseModel):
    """The assumptions about one service type's cost per case, before and after (CNY)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    manual_steps_before: int = Field(ge=0, description="steps an official did by hand per case before")
    manual_steps_after: int = Field(ge=0, description="steps still done by hand per case on the platform")
    staff_minutes_per_step: float = Field(ge=0, description="staff minutes one manual step takes")
    staff_hourly_cost: float = Field(ge=0, description="fully loaded staff cost per hour, CNY")
    paper_cost: float = Field(default=0, ge=0, description="paper, printing and filing per case avoided, CNY")
    courier_cost: float = Field(default=0, ge=0, description="couriering files between offices per case avoided, CNY")
    visits_avoided: float = Field(default=0, ge=0, description="office visits by the applicant avoided per case")
    cost_per_visit: float = Field(default=0, ge=0, description="what one visit costs (travel, time off work), CNY")
    platform_cost_per_case: float = Field(
        default=0, ge=0, description="the platform's own running cost (hosting, operations) apportioned per case, CNY"
    )

    @property
    def staff_cost_per_step(self) -> float:
        return self.staff_minutes_per_step / 60 * self.staff_hourly_cost

    @property
    def cost_before(self) -> float:
        """One case by hand."""
        return (
            self.manual_steps_before * self.staff_cost_per_step
            + self.paper_cost
            + self.courier_cost
            + self.visits_avoided * self.cost_per_visit
        )

    @property
    def cost_after(self) -> float:
        """One case on the platform, its running cost included."""
        return self.manual_steps_after * self.staff_cost_per_step + self.platform_cost_per_case

    @property
    def saving(self) -> float:
        return self.cost_before - self.cost_after


DEFAULT_COSTS: dict[str, ServiceCostModel] = {
    # 6 counter and back-office steps of 20 min at 120 CNY/h = 240; + 15 paper + 25 courier +
    # 2 visits × 80 = 440 CNY by hand. On chain one review step (40) + 8 platform = 48 CNY.
    "business-license": ServiceCostModel(
        manual_steps_before=6,
        manual_steps_after=1,
        staff_minutes_per_step=20,
        staff_hourly_cost=120,
        paper_cost=15,
        courier_cost=25,
        visits_avoided=2,
        cost_per_visit=80,
        platform_cost_per_case=8,
    ),
    # 10 steps of 30 min at 150 CNY/h = 750; + 40 paper + 50 courier + 3 visits × 100 = 1140
    # CNY by hand. On chain two approvals (150) + 12 platform = 162 CNY.
    "land-transfer": ServiceCostModel(
        manual_steps_before=10,
        manual_steps_after=2,
        staff_minutes_per_step=30,
        staff_hourly_cost=150,
        paper_cost=40,
        courier_cost=50,
        visits_avoided=3,
        cost_per_visit=100,
        platform_cost_per_case=12,
    ),
}
"""Illustrative defaults, not measurements: replace them with your own figures (README,
"Evaluating the platform")."""


def merge_costs(overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, ServiceCostModel]:
    """The defaults with ``overrides`` merged field by field (a new service type states every field)."""
    models = dict(DEFAULT_COSTS)
    for service_type, values in overrides.items():
        base = models.get(service_type)
        models[service_type] = ServiceCostModel.model_validate({**(base.model_dump() if base else {}), **values})
    return models


class CostPerCase(BaseModel):
    service_type: str
    cost_before: float
    cost_after: float
    saving: float
    assumptions: ServiceCostModel


class Savings(BaseModel):
    """Decided cases of one group, and what they cost before and after."""

    service_type: str
    period: str | None = Field(default=None, description="calendar month of the decisions (UTC block time), YYYY-MM")
    department: str | None = None
    cases: int
    cost_before: float
    cost_after: float
    saving: float


class CostReport(BaseModel):
    per_case: list[CostPerCase] = Field(default_factory=list)
    by_period: list[Savings] = Field(default_factory=list, description="per service type and month")
    by_department: list[Savings] = Field(default_factory=list, description="per service type and department")
    total_cases: int = 0
    total_before: float = 0
    total_after: float = 0
    total_saving: float = 0
    unmodelled: list[str] = Field(
        default_factory=list, description="service types with decided cases but no cost model"
    )


def period_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def _savings(service_type: str, model: ServiceCostModel, n: int, **where: str | None) -> Savings:
    return Savings(
        service_type=service_type,
        cases=n,
        cost_before=n * model.cost_before,
        cost_after=n * model.cost_after,
        saving=n * model.saving,
        **where,
    )


def cost_report(cases: Iterable[DecidedCase], models: Mapping[str, ServiceCostModel]) -> CostReport:
    """Savings from the decided cases (open cases have not cost their full process yet)."""
    periods: dict[tuple[str, str], int] = defaultdict(int)
    departments: dict[tuple[str, str | None], int] = defaultdict(int)
    unmodelled: set[str] = set()
    for case in cases:
        if case.decided_at is None:
            continue
        if case.service_type not in models:
            unmodelled.add(case.service_type)
            continue
        periods[(case.service_type, period_of(case.decided_at))] += 1
        departments[(case.service_type, case.department)] += 1
    by_period = [_savings(s, models[s], n, period=p) for (s, p), n in sorted(periods.items())]
    by_department = [
        _savings(s, models[s], n, department=d)
        for (s, d), n in sorted(departments.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
    ]
    return CostReport(
        per_case=[
            CostPerCase(
                service_type=s, cost_before=m.cost_before, cost_after=m.cost_after, saving=m.saving, assumptions=m
            )
            for s, m in models.items()
        ],
        by_period=by_period,
        by_department=by_department,
        total_cases=sum(r.cases for r in by_period),
        total_before=sum(r.cost_before for r in by_period),
        total_after=sum(r.cost_after for r in by_period),
        total_saving=sum(r.saving for r in by_period),
        unmodelled=sorted(unmodelled),
    )
