"""Service-efficiency metrics from hand-made case rows: exact figures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from govchain.services.analytics.metrics import (
    DAY_S,
    AnalyticsConfig,
    CaseRow,
    EventCount,
    MetricsInput,
    RefusalCount,
    Summary,
    percentile,
    summarize,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR_S = 3_600.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def licence(
    case_id: str,
    took_s: float | None,
    outcome: str | None = None,
    *,
    department: str | None = "market",
    reason: str | None = None,
    opened_s: float = 0,
) -> CaseRow:
    decided = None if took_s is None else at(opened_s + took_s)
    return CaseRow("business-license", case_id, department, at(opened_s), decided, outcome, reason)


def transfer(case_id: str, took_s: float | None, outcome: str | None = None, *, opened_s: float = 0) -> CaseRow:
    decided = None if took_s is None else at(opened_s + took_s)
    return CaseRow("land-transfer", case_id, "land", at(opened_s), decided, outcome)


def summary_of(*cases: CaseRow, as_of_s: float = 10 * DAY_S, config: AnalyticsConfig | None = None) -> Summary:
    return summarize(MetricsInput(as_of_height=42, as_of_time=at(as_of_s), cases=cases), config or AnalyticsConfig())


def test_percentiles_interpolate_between_closest_ranks() -> None:
    values = [float(v) for v in range(10, 0, -1)]  # unordered on purpose
    assert percentile(values, 50) == 5.5
    assert percentile(values, 90) == pytest.approx(9.1)
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 10.0
    assert percentile([7.0], 90) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_per_service_type_counts_outcomes_and_times() -> None:
    summary = summary_of(
        licence("A-1", 1 * HOUR_S, "approved"),
        licence("A-2", 3 * HOUR_S, "rejected", reason="documents_registered"),
        licence("A-3", 2 * HOUR_S, "approved"),
        licence("A-4", 10 * HOUR_S, "approved"),
        licence("A-5", None),
        transfer("R-1", 2 * DAY_S, "approved"),
        transfer("R-2", 7 * DAY_S, "expired"),
    )
    lic, land = summary.service_types
    assert (lic.service_type, lic.title) == ("business-license", "Business licence")
    assert (lic.count, lic.decided, lic.open) == (5, 4, 1)
    assert lic.outcomes == {"approved": 3, "rejected": 1, "expired": 0}
    assert lic.median_s == 2.5 * HOUR_S  # (2 h + 3 h) / 2
    assert lic.p90_s == pytest.approx(7.9 * HOUR_S)  # 3 h + 0.7 × (10 h − 3 h)
    assert lic.mean_s == 4 * HOUR_S
    assert (land.count, land.decided, land.open, land.outcomes["expired"]) == (2, 2, 0, 1)
    assert land.median_s == 4.5 * DAY_S
    assert summary.as_of_height == 42 and summary.as_of_time == at(10 * DAY_S)


def test_sla_breaches_count_late_decisions_and_cases_open_past_the_sla() -> None:
    sla = 3 * DAY_S  # the default licence SLA
    summary = summary_of(
        licence("on-time", sla, "approved"),  # exactly at the SLA: not a breach
        licence("late", sla + 1, "approved"),  # one second over
        licence("open-overdue", None, opened_s=0),  # open 10 days as of the newest block
        licence("open-young", None, opened_s=8 * DAY_S),  # open 2 days
        as_of_s=10 * DAY_S,
    )
    assert summary.service_types[0].sla_s == sla
    assert summary.service_types[0].sla_breaches == 2


def test_an_open_case_cannot_breach_before_there_is_a_clock() -> None:
    data = MetricsInput(as_of_height=-1, as_of_time=None, cases=[licence("A-1", None)])
    assert summarize(data, AnalyticsConfig()).service_types[0].sla_breaches == 0


def test_per_department_groups_within_each_service_type() -> None:
    summary = summary_of(
        licence("A-1", 100, "approved", department="market"),
        licence("A-2", 300, "approved", department="market"),
        licence("A-3", 50, "approved", department="commerce"),
        licence("A-4", None, department=None),
        transfer("R-1", 60, "approved"),
    )
    rows = {(d.service_type, d.department): (d.count, d.decided, d.median_s) for d in summary.departments}
    assert rows == {
        ("business-license", None): (1, 0, None),
        ("business-license", "commerce"): (1, 1, 50.0),
        ("business-license", "market"): (2, 2, 200.0),
        ("land-transfer", "land"): (1, 1, 60.0),
    }


def test_before_after_compares_medians_with_the_manual_baselines() -> None:
    summary = summary_of(
        licence("A-1", 2 * DAY_S, "approved"),
        licence("A-2", 4 * DAY_S, "rejected", reason="x"),
        licence("A-3", 3 * DAY_S, "approved"),
    )
    lic, land = summary.comparison
    assert (lic.baseline_median_s, lic.measured_median_s) == (15 * DAY_S, 3 * DAY_S)
    assert lic.time_saved_s == 12 * DAY_S
    assert lic.improvement_pct == pytest.approx(80.0)
    assert lic.decided == 3
    assert (land.baseline_median_s, land.measured_median_s, land.improvement_pct) == (30 * DAY_S, None, None)


def test_a_slower_service_shows_a_negative_improvement() -> None:
    config = AnalyticsConfig.from_mapping({"business-license": {"baseline_median_s": 100}})
    (lic, _) = summary_of(licence("A-1", 150, "approved"), config=config).comparison
    assert (lic.time_saved_s, lic.improvement_pct) == (-50.0, -50.0)


def test_rejections_are_grouped_by_reason_most_frequent_first() -> None:
    summary = summary_of(
        licence("A-1", 10, "rejected", reason="documents_registered"),
        licence("A-2", 10, "rejected", reason="applicant_owns_business"),
        licence("A-3", 10, "rejected", reason="documents_registered"),
        licence("A-4", 10, "approved"),
        transfer("R-1", 7 * DAY_S, "expired"),
    )
    assert [(r.service_type, r.outcome, r.reason, r.count) for r in summary.rejections] == [
        ("business-license", "rejected", "documents_registered", 2),
        ("business-license", "rejected", "applicant_owns_business", 1),
        ("land-transfer", "expired", None, 1),
    ]


def test_throughput_counts_events_per_block_time_hour_and_source() -> None:
    h = [T0 + timedelta(hours=n) for n in range(4)]
    data = MetricsInput(
        as_of_height=9,
        as_of_time=h[3],
        events=[
            EventCount(h[0], "market", 4),
            EventCount(h[0], "land", 1),
            EventCount(h[3], "market", 2),
            EventCount(h[3], "contract-engine", 5),
        ],
    )
    throughput = summarize(data, AnalyticsConfig()).throughput
    assert throughput.total_events == 12
    assert throughput.span_hours == 4  # hours 0..3 inclusive, two of them quiet
    assert throughput.mean_per_hour == 3.0
    assert throughput.peak_per_hour == 7
    assert throughput.by_source == {"market": 6, "contract-engine": 5, "land": 1}
    assert list(throughput.by_source) == ["market", "contract-engine", "land"]
    assert [(x.hour, x.events, x.by_source) for x in throughput.hourly] == [
        (h[0], 5, {"market": 4, "land": 1}),
        (h[3], 7, {"contract-engine": 5, "market": 2}),
    ]


def test_no_events_means_no_rates() -> None:
    throughput = summarize(MetricsInput(as_of_height=-1, as_of_time=None), AnalyticsConfig()).throughput
    assert (throughput.total_events, throughput.span_hours, throughput.mean_per_hour, throughput.peak_per_hour) == (
        0,
        0,
        None,
        0,
    )


def test_refusals_are_tallied_by_reason_and_department() -> None:
    data = MetricsInput(
        as_of_height=3,
        as_of_time=T0,
        refusals_as_of_seq=17,
        refusals=[
            RefusalCount("market", "bad_signature", 3),
            RefusalCount("land", "bad_signature", 1),
            RefusalCount("land", "unauthorized", 2),
        ],
    )
    refusals = summarize(data, AnalyticsConfig()).refusals
    assert refusals.total == 6 and refusals.as_of_seq == 17
    assert refusals.by_reason == {"bad_signature": 4, "unauthorized": 2}
    assert refusals.by_department == {"land": 3, "market": 3}
    assert [(r.department, r.reason, r.count) for r in refusals.by_department_and_reason] == [
        ("market", "bad_signature", 3),
        ("land", "unauthorized", 2),
        ("land", "bad_signature", 1),
    ]


def test_every_known_service_type_is_reported_even_without_cases() -> None:
    summary = summary_of()
    assert [(s.service_type, s.count, s.median_s) for s in summary.service_types] == [
        ("business-license", 0, None),
        ("land-transfer", 0, None),
    ]
    assert summary.departments == [] and summary.rejections == []


def test_targets_merge_over_the_defaults_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "targets.json"
    path.write_text(
        json.dumps(
            {
                "business-license": {"sla_s": 86_400},
                "permit-renewal": {"sla_s": 3_600, "baseline_median_s": 7_200},
            }
        )
    )
    config = AnalyticsConfig.load(path)
    assert config.for_type("business-license").sla_s == DAY_S
    assert config.for_type("business-license").baseline_median_s == 15 * DAY_S  # kept
    assert config.for_type("land-transfer").sla_s == 7 * DAY_S
    summary = summary_of(CaseRow("permit-renewal", "P-1", "civil", at(0), at(60), "approved"), config=config)
    assert [s.service_type for s in summary.service_types] == ["business-license", "land-transfer", "permit-renewal"]
    assert summary.comparison[2].improvement_pct == pytest.approx(100 * (7_200 - 60) / 7_200)
    assert AnalyticsConfig.load(None) == AnalyticsConfig()


def test_bad_targets_are_refused() -> None:
    with pytest.raises(ValidationError):
        AnalyticsConfig.from_mapping({"business-license": {"sla_s": -1}})
    with pytest.raises(ValidationError):
        AnalyticsConfig.from_mapping({"business-license": {"sla_days": 3}})


def test_the_summary_survives_its_json_round_trip() -> None:
    summary = summary_of(licence("A-1", 60, "approved"), transfer("R-1", None))
    assert Summary.model_validate(json.loads(summary.model_dump_json())) == summary
