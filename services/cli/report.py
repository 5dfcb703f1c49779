"""``govchain report``: how fast the services decide, how satisfied applicants are and what it
saves: tables and PNG charts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from nats.aio.client import Client
from nats.errors import NoRespondersError
from rich.console import Console
from rich.table import Table

from govchain.client import GovChainClient
from govchain.protocol.errors import GovChainError
from govchain.services.analytics.cases import OUTCOMES
from govchain.services.analytics.costs import ServiceCostModel
from govchain.services.analytics.durations import format_duration
from govchain.services.analytics.metrics import Summary
from govchain.services.cli.common import (
    DATA_OPTION,
    JSON_OPTION,
    NATS_OPTION,
    emit,
    fail,
    run,
    settings_from,
    with_connection,
)

OUT_OPTION = typer.Option(Path("report"), "--out", "-o", help="Folder for the PNG charts (created if missing).")

console = Console()


def report(
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    out: Path = OUT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Service efficiency: time to decision per service and department, SLA breaches, before/after
    the manual process, rejections and ledger refusals; public satisfaction (ratings, refused
    ratings) and cost savings with the cost model's assumptions; charts are written to --out."""
    settings = settings_from(data, nats_url)

    async def fetch(nc: Client) -> dict[str, Any]:
        client = GovChainClient(nc, names=settings.chain_names)
        try:  # as of the newest block, so the report includes everything committed so far
            return await client.request(client.names.analytics_summary, {"min_height": await client.head_height()})
        except (NoRespondersError, TimeoutError) as exc:
            raise GovChainError(f"the analytics service does not answer ({exc}): is the platform running?") from exc

    answer = run(with_connection(settings, fetch))
    summary = Summary.model_validate(answer)
    charts = _write_charts(summary, out)
    if as_json:
        emit({**answer, "charts": {name: str(path) for name, path in charts.items()}}, True)
        return
    _print_tables(summary)
    console.print(f"\nCharts written to [bold]{out}[/]: " + ", ".join(path.name for path in charts.values()))


def _write_charts(summary: Summary, out: Path) -> dict[str, Path]:
    """Draw every chart from the one summary (so tables and charts agree) into ``out``."""
    from govchain.services.analytics.charts import CHARTS  # matplotlib: loaded only to draw

    try:
        out.mkdir(parents=True, exist_ok=True)
        written = {}
        for name, draw in CHARTS.items():
            path = out / f"{name}.png"
            path.write_bytes(draw(summary))
            written[name] = path
    except OSError as exc:
        fail(f"cannot write the charts to {out}: {exc}")
    return written


def _print_tables(s: Summary) -> None:
    as_of = "no blocks yet" if s.as_of_time is None else f"block {s.as_of_height}, {s.as_of_time:%Y-%m-%d %H:%M:%S} UTC"
    console.print(f"[bold]Service efficiency[/] as of {as_of} (times are block times)\n")

    cases = _table(
        "Service cases",
        "service",
        "cases",
        "open",
        " / ".join(OUTCOMES),
        "median",
        "p90",
        "mean",
        "SLA",
        "SLA breaches",
    )
    for t in s.service_types:
        outcomes = " / ".join(str(t.outcomes.get(o, 0)) for o in OUTCOMES)
        times = (t.median_s, t.p90_s, t.mean_s, t.sla_s)
        cases.add_row(t.title, *_ints(t.count, t.open), outcomes, *map(format_duration, times), str(t.sla_breaches))
    console.print(cases)

    departments = _table(
        "By department", "service", "department", "cases", "decided", "open", "median", "p90", "SLA breaches"
    )
    titles = {t.service_type: t.title for t in s.service_types}
    for d in s.departments:
        departments.add_row(
            titles.get(d.service_type, d.service_type),
            d.department or "(unknown)",
            *_ints(d.count, d.decided, d.open),
            format_duration(d.median_s),
            format_duration(d.p90_s),
            str(d.sla_breaches),
        )
    console.print(departments)

    compared = _table(
        "Before / after (median time to decision)",
        "service",
        "manual process",
        "on chain",
        "time saved",
        "improvement",
        "decided cases",
    )
    for c in s.comparison:
        compared.add_row(
            c.title,
            format_duration(c.baseline_median_s),
            format_duration(c.measured_median_s),
            format_duration(c.time_saved_s),
            "—" if c.improvement_pct is None else f"{c.improvement_pct:.1f} %",
            str(c.decided),
        )
    console.print(compared)

    against = _table("Decided against on chain", "service", "outcome", "reason", "cases")
    for r in s.rejections:
        against.add_row(titles.get(r.service_type, r.service_type), r.outcome, r.reason or "—", str(r.count))
    console.print(against)

    refused = _table(f"Refused by the ledger, not on chain ({s.refusals.total})", "department", "reason", "events")
    for row in s.refusals.by_department_and_reason:
        refused.add_row(row.department, row.reason, str(row.count))
    console.print(refused)

    tp = s.throughput
    mean = "—" if tp.mean_per_hour is None else f"{tp.mean_per_hour:.1f}"
    sources = ", ".join(f"{source} {n}" for source, n in list(tp.by_source.items())[:5]) or "none"
    console.print(
        f"Throughput: {tp.total_events} events over {tp.span_hours} h of block time "
        f"(mean {mean}/h, peak {tp.peak_per_hour}/h); busiest sources: {sources}"
    )
    _print_satisfaction(s, titles)
    _print_costs(s, titles)


def _print_satisfaction(s: Summary, titles: dict[str, str]) -> None:
    console.print("\n[bold]Public satisfaction[/] (ratings signed by the applicant, once per decided case)\n")
    scores = ("1", "2", "3", "4", "5")
    rated = _table(
        "Ratings by service",
        "service",
        "department",
        "ratings",
        "decided",
        "response rate",
        "mean score",
        " / ".join(scores),
        "comments",
    )
    for r in [*s.satisfaction.by_service_type, *s.satisfaction.by_department]:
        rated.add_row(
            titles.get(r.service_type, r.service_type),
            r.department or "(all)",
            *_ints(r.ratings, r.decided),
            _pct(r.response_rate),
            "—" if r.mean_score is None else f"{r.mean_score:.2f}",
            " / ".join(str(r.distribution.get(k, 0)) for k in scores),
            str(r.comments),
        )
    console.print(rated)
    trend = _table("Trend (block-time day)", "day", "service", "ratings", "mean score")
    for p in s.satisfaction.trend:
        trend.add_row(p.day, titles.get(p.service_type, p.service_type), str(p.ratings), f"{p.mean_score:.2f}")
    console.print(trend)
    void = _table(f"Ratings that do not count ({len(s.satisfaction.void)})", "event", "service", "case", "reason")
    for v in s.satisfaction.void:
        void.add_row(v.event_id, titles.get(v.service_type, v.service_type), v.case_id, v.reason)
    console.print(void)


def _print_costs(s: Summary, titles: dict[str, str]) -> None:
    c = s.costs
    console.print("\n[bold]Cost savings[/] (a cost model applied to the decided cases measured on chain; CNY)\n")
    per_case = _table("Cost per case", "service", "by hand (before)", "on the platform (after)", "saving per case")
    for row in c.per_case:
        per_case.add_row(
            titles.get(row.service_type, row.service_type),
            _cny(row.cost_before),
            _cny(row.cost_after),
            _cny(row.saving),
        )
    console.print(per_case)
    periods = _table("Savings per month (of the decision)", "service", "month", "cases", "before", "after", "saved")
    for saved in c.by_period:
        periods.add_row(
            titles.get(saved.service_type, saved.service_type),
            saved.period or "—",
            str(saved.cases),
            _cny(saved.cost_before),
            _cny(saved.cost_after),
            _cny(saved.saving),
        )
    console.print(periods)
    departments = _table("Savings per department", "service", "department", "cases", "before", "after", "saved")
    for saved in c.by_department:
        departments.add_row(
            titles.get(saved.service_type, saved.service_type),
            saved.department or "(unknown)",
            str(saved.cases),
            _cny(saved.cost_before),
            _cny(saved.cost_after),
            _cny(saved.saving),
        )
    console.print(departments)
    console.print(
        f"Total: {c.total_cases} decided cases, {_cny(c.total_before)} by hand, {_cny(c.total_after)} "
        f"on the platform, [bold]{_cny(c.total_saving)} saved[/]"
        + (f"; no cost model for {', '.join(c.unmodelled)}" if c.unmodelled else "")
    )
    assumptions = _table(
        'Assumptions of the cost model (set them in GOVCHAIN_ANALYTICS_CONFIG, key "costs")',
        "assumption",
        *(titles.get(row.service_type, row.service_type) for row in c.per_case),
    )
    for field, info in ServiceCostModel.model_fields.items():
        assumptions.add_row(
            f"{field}: {info.description}", *(f"{getattr(row.assumptions, field):g}" for row in c.per_case)
        )
    console.print(assumptions)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _cny(value: float) -> str:
    return f"{value:,.2f}"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for n, column in enumerate(columns):
        text = n == 0 or column in ("department", "outcome", "reason", "service", "case", "month", "day")
        table.add_column(column, justify="left" if text else "right")
    return table


def _ints(*values: int) -> list[str]:
    return [str(v) for v in values]
