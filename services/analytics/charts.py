"""The summary as charts: PNG bytes, for the CLI report and the web portal alike.

Figures are drawn on matplotlib's Agg canvas directly, without pyplot: no display, no GUI
backend and no global figure state, so charts can be drawn in worker threads of a service.
Each is 800 px wide (450 px high; 600 for the two-panel rejections chart), to be read at that width.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from io import BytesIO

import matplotlib.dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from govchain.services.analytics.durations import duration_unit, format_duration  # noqa: F401 (re-exported)
from govchain.services.analytics.metrics import Comparison, Summary

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.5, 100
BASELINE_COLOR, MEASURED_COLOR, P90_COLOR, REFUSAL_COLOR = "#9e9e9e", "#1f77b4", "#ff7f0e", "#d62728"
TOP_SOURCES = 5
DAILY_AFTER_HOURS = 96
LABEL_MAX = 48


def processing_chart(summary: Summary) -> bytes:
    """Median and 90th percentile of applied → decided time per service type."""
    fig, ax = _figure("Processing time per service type (applied → decided, block time)")
    stats = [s for s in summary.service_types if s.median_s is not None]
    if not stats:
        return _empty(fig, ax, "No decided cases yet")
    name, _, size = duration_unit(max(s.p90_s or 0.0 for s in stats))
    positions = list(range(len(stats)))
    width = 0.38
    for offset, label, color, values in (
        (-width / 2, "median", MEASURED_COLOR, [s.median_s or 0.0 for s in stats]),
        (width / 2, "90th percentile", P90_COLOR, [s.p90_s or 0.0 for s in stats]),
    ):
        bars = ax.bar([p + offset for p in positions], [v / size for v in values], width, label=label, color=color)
        ax.bar_label(bars, [format_duration(v) for v in values], padding=3, fontsize="small")
    ax.set_xticks(positions, [f"{s.title}\n({s.decided} decided)" for s in stats])
    ax.set_xlim(-1, len(stats))
    ax.set_ylim(0, max(s.p90_s or 0.0 for s in stats) / size * 1.2 or 1)
    ax.set_ylabel(f"Time to decision ({name})")
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def throughput_chart(summary: Summary) -> bytes:
    """Events on chain per block-time hour (per day over long spans, so bars stay visible),
    stacked by the busiest sources."""
    hourly = summary.throughput.hourly
    per_day = summary.throughput.span_hours > DAILY_AFTER_HOURS
    period = "day" if per_day else "hour"
    fig, ax = _figure(f"Throughput: events on chain per block-time {period}")
    if not hourly:
        return _empty(fig, ax, "No events yet")
    buckets: dict[datetime, Counter[str]] = defaultdict(Counter)
    for h in hourly:
        start = h.hour.replace(hour=0) if per_day else h.hour
        buckets[start].update(h.by_source)
    starts = sorted(buckets)
    top = list(summary.throughput.by_source)[:TOP_SOURCES]
    series = {source: [buckets[b][source] for b in starts] for source in top}
    rest = [sum(buckets[b].values()) - sum(buckets[b][s] for s in top) for b in starts]
    if any(rest):
        series["other sources"] = rest
    bottom = [0] * len(starts)
    for source, counts in series.items():
        ax.bar(starts, counts, width=0.9 if per_day else 0.9 / 24, bottom=bottom, align="edge", label=source)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("Block time (UTC)")
    ax.set_ylabel(f"Events per {period}")
    ax.legend(title="source", loc="upper left", bbox_to_anchor=(1, 1), fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def rejections_chart(summary: Summary) -> bytes:
    """Why cases were decided against (on chain) and why the ledger refused events (off chain)."""
    fig = _canvas(height_in=6.0)
    fig.suptitle("Rejections and refusals by reason")
    decided_ax, refused_ax = fig.subplots(2, 1)
    decided = [(f"{_title(summary, r.service_type)}: {r.reason or r.outcome}", r.count) for r in summary.rejections]
    _hbars(decided_ax, decided, "Cases decided against (on chain)", "Cases", MEASURED_COLOR)
    refused = list(summary.refusals.by_reason.items())
    _hbars(refused_ax, refused, "Events refused by the ledger (not on chain)", "Events", REFUSAL_COLOR)
    return _png(fig)


def comparison_chart(summary: Summary) -> bytes:
    """Median time to decision before (manual process) and after (on chain), per service type."""
    fig, ax = _figure("Before and after: median time to decision")
    rows = [c for c in summary.comparison if c.baseline_median_s is not None or c.measured_median_s is not None]
    if not rows:
        return _empty(fig, ax, "No baselines configured")
    name, _, size = duration_unit(max(max(c.baseline_median_s or 0.0, c.measured_median_s or 0.0) for c in rows))
    positions = list(range(len(rows)))
    width = 0.38
    baseline = [(c.baseline_median_s or 0.0) / size for c in rows]
    measured = [(c.measured_median_s or 0.0) / size for c in rows]
    before = ax.bar(
        [p - width / 2 for p in positions], baseline, width, label="before: manual process", color=BASELINE_COLOR
    )
    after = ax.bar([p + width / 2 for p in positions], measured, width, label="after: GovChain", color=MEASURED_COLOR)
    ax.bar_label(after, [_after_label(c) for c in rows], padding=3, fontsize="small")
    ax.bar_label(before, [format_duration(c.baseline_median_s) for c in rows], padding=3, fontsize="small")
    ax.set_xticks(positions, [c.title for c in rows])
    ax.set_ylabel(f"Median time to decision ({name})")
    ax.set_ylim(0, max(baseline + measured + [1e-9]) * 1.25)
    ax.legend(loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


SCORE_COLORS = ("#d62728", "#ff7f0e", "#bcbd22", "#8fbc8f", "#2ca02c")


def satisfaction_chart(summary: Summary) -> bytes:
    """Counted ratings per service type by score (stacked), with mean score and response rate."""
    fig, ax = _figure("Public satisfaction: ratings by score (signed by the applicant)")
    stats = [s for s in summary.satisfaction.by_service_type if s.ratings]
    if not stats:
        return _empty(fig, ax, "No ratings yet")
    labels = [
        f"{_title(summary, s.service_type)}\nmean {s.mean_score:.2f}, response {100 * (s.response_rate or 0):.0f} %"
        for s in stats
    ]
    positions = list(range(len(stats)))
    left = [0] * len(stats)
    for score, color in zip(("1", "2", "3", "4", "5"), SCORE_COLORS, strict=True):
        counts = [s.distribution.get(score, 0) for s in stats]
        ax.barh(positions, counts, left=left, color=color, label=f"{score} ★")
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_yticks(positions, [_short(label) for label in labels])
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("ratings")
    ax.legend(loc="lower right", ncols=5, fontsize="small")
    return _png(fig)


def satisfaction_trend_chart(summary: Summary) -> bytes:
    """Mean score per block-time day and service type."""
    fig, ax = _figure("Mean satisfaction score per day (block time)")
    trend = summary.satisfaction.trend
    if not trend:
        return _empty(fig, ax, "No ratings yet")
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for point in trend:
        series[point.service_type].append((datetime.strptime(point.day, "%Y-%m-%d"), point.mean_score))
    for service_type, points in series.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=_title(summary, service_type))
    ax.set_ylim(0.5, 5.5)
    ax.set_ylabel("mean score (1–5)")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    ax.legend(loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def costs_chart(summary: Summary) -> bytes:
    """Cost of the decided cases per month: by hand (the model's assumption) and on the platform."""
    fig, ax = _figure("Cost of decided cases per month, CNY (cost model: see the report's assumptions)")
    periods = sorted({r.period or "" for r in summary.costs.by_period})
    if not periods:
        return _empty(fig, ax, "No decided cases yet")
    before = Counter[str]()
    after = Counter[str]()
    for r in summary.costs.by_period:
        before[r.period or ""] += round(r.cost_before)
        after[r.period or ""] += round(r.cost_after)
    positions = list(range(len(periods)))
    width = 0.38
    ax.bar(
        [p - width / 2 for p in positions],
        [before[p] for p in periods],
        width,
        color=BASELINE_COLOR,
        label="by hand (before)",
    )
    ax.bar(
        [p + width / 2 for p in positions],
        [after[p] for p in periods],
        width,
        color=MEASURED_COLOR,
        label="on the platform (after)",
    )
    for p, period in zip(positions, periods, strict=True):
        ax.annotate(
            f"saved {before[period] - after[period]:,}", (p, before[period]), ha="center", va="bottom", fontsize="small"
        )
    ax.set_xticks(positions, periods)
    ax.set_xlim(-1, len(periods))
    ax.set_ylim(0, 1.2 * max(before.values(), default=1))
    ax.set_ylabel("CNY")
    ax.legend(loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


CHARTS: dict[str, Callable[[Summary], bytes]] = {
    "processing": processing_chart,
    "throughput": throughput_chart,
    "rejections": rejections_chart,
    "comparison": comparison_chart,
    "satisfaction": satisfaction_chart,
    "satisfaction_trend": satisfaction_trend_chart,
    "costs": costs_chart,
}
"""Every chart by the name the API and the report use."""


def _canvas(height_in: float = HEIGHT_IN) -> Figure:
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _figure(title: str) -> tuple[Figure, Axes]:
    fig = _canvas()
    ax = fig.add_subplot()
    ax.set_title(title)
    return fig, ax


def _hbars(ax: Axes, rows: Sequence[tuple[str, int]], title: str, unit: str, color: str) -> None:
    ax.set_title(title, fontsize="medium")
    if not rows:
        ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes, color="grey")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    labels = [_short(label) for label, _ in rows]
    counts = [count for _, count in rows]
    bars = ax.barh(labels, counts, height=0.6, color=color)
    ax.set_ylim(max(len(rows), 3) - 0.5, -0.5)  # most frequent on top; a lone bar stays a bar
    ax.bar_label(bars, padding=2, fontsize="small")
    ax.set_xlabel(unit)
    ax.set_xlim(0, max(counts) * 1.2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="y", labelsize="small")


def _empty(fig: Figure, ax: Axes, message: str) -> bytes:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize="large", color="grey")
    ax.set_xticks([])
    ax.set_yticks([])
    return _png(fig)


def _png(fig: Figure) -> bytes:
    buffer = BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _after_label(c: Comparison) -> str:
    if c.measured_median_s is None:
        return "no decided cases"
    label = format_duration(c.measured_median_s)
    if c.improvement_pct is not None:
        label += f"\n{abs(c.improvement_pct):.1f}% {'faster' if c.improvement_pct >= 0 else 'slower'}"
    return label


def _title(summary: Summary, service_type: str) -> str:
    return next((s.title for s in summary.service_types if s.service_type == service_type), service_type)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_MAX else label[: LABEL_MAX - 1] + "…"
