"""The cost model: per-case costs and savings, checked against figures worked out by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from govchain.services.analytics.costs import DEFAULT_COSTS, ServiceCostModel, cost_report, merge_costs
from govchain.services.analytics.metrics import AnalyticsConfig, CaseRow


def at(month: int, day: int = 1) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


def test_the_default_assumptions_by_hand() -> None:
    licence = DEFAULT_COSTS["business-license"]
    # before: 6 × (20/60 × 120 = 40) = 240, + 15 paper + 25 courier + 2 visits × 80 = 440
    # after:  1 × 40 + 8 platform = 48; saving 392
    assert (licence.cost_before, licence.cost_after, licence.saving) == (440, 48, 392)
    land = DEFAULT_COSTS["land-transfer"]
    # before: 10 × (30/60 × 150 = 75) = 750, + 40 + 50 + 3 × 100 = 1140; after: 2 × 75 + 12 = 162
    assert (land.cost_before, land.cost_after, land.saving) == (1140, 162, 978)


def test_savings_per_period_and_department() -> None:
    models = {
        "svc": ServiceCostModel(
            manual_steps_before=4,
            manual_steps_after=1,
            staff_minutes_per_step=30,
            staff_hourly_cost=100,
            paper_cost=10,
            courier_cost=20,
            visits_avoided=1,
            cost_per_visit=50,
            platform_cost_per_case=5,
        )
    }
    # a step costs 50; before = 200 + 10 + 20 + 50 = 280; after = 50 + 5 = 55; saving 225
    cases = [
        CaseRow("svc", "1", "a", at(1), at(1, 3), "approved"),
        CaseRow("svc", "2", "a", at(1), at(2, 1), "rejected"),
        CaseRow("svc", "3", "b", at(2), at(2, 9), "approved"),
        CaseRow("svc", "4", "b", at(2)),  # open: not counted
        CaseRow("other", "5", "b", at(2), at(2, 9), "approved"),  # no model: named, not counted
    ]
    report = cost_report(cases, models)
    assert [(r.period, r.cases, r.cost_before, r.cost_after, r.saving) for r in report.by_period] == [
        ("2026-01", 1, 280, 55, 225),
        ("2026-02", 2, 560, 110, 450),
    ]
    assert [(r.department, r.cases, r.saving) for r in report.by_department] == [("a", 2, 450), ("b", 1, 225)]
    assert (report.total_cases, report.total_before, report.total_after, report.total_saving) == (3, 840, 165, 675)
    assert report.unmodelled == ["other"]
    assert report.per_case[0].cost_before == 280 and report.per_case[0].assumptions == models["svc"]


def test_no_decided_cases_save_nothing() -> None:
    report = cost_report([CaseRow("business-license", "1", "a", at(1))], DEFAULT_COSTS)
    assert report.total_saving == 0 and report.by_period == [] and len(report.per_case) == 2


def test_the_configuration_file_overrides_field_by_field(tmp_path: Path) -> None:
    path = tmp_path / "analytics.json"
    path.write_text(
        json.dumps(
            {
                "business-license": {"sla_s": 86400},
                "costs": {
                    "business-license": {"staff_hourly_cost": 60},
                    "permit": {
                        "manual_steps_before": 2,
                        "manual_steps_after": 0,
                        "staff_minutes_per_step": 60,
                        "staff_hourly_cost": 90,
                    },
                },
            }
        )
    )
    config = AnalyticsConfig.load(path)
    assert config.targets["business-license"].sla_s == 86400
    # a step now costs 20/60 × 60 = 20: before 6 × 20 + 15 + 25 + 160 = 320; after 20 + 8 = 28
    assert (config.costs["business-license"].cost_before, config.costs["business-license"].cost_after) == (320, 28)
    assert config.costs["permit"].saving == 180
    assert config.costs["land-transfer"] == DEFAULT_COSTS["land-transfer"]


def test_a_bad_assumption_is_refused() -> None:
    with pytest.raises(ValidationError):
        merge_costs({"business-license": {"staff_hourly_cost": -1}})
    with pytest.raises(ValidationError):
        merge_costs({"permit": {"staff_hourly_cost": 90}})  # a new service states every required field
    with pytest.raises(ValidationError):
        merge_costs({"business-license": {"coffee": 3}})
