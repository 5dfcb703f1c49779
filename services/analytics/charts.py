"""The summary as charts: PNG bytes, for the CLI report and the web portal alike.

Figures are drawn on matplotlib's Agg canvas directly, without pyplot: no display, no GUI
backend and no global figure state, so charts can be drawn in worker threads of a service.
Each is 800 px wide (450 px high; 600 for the two-panel rejections chart), to be read at that width.

Every chart speaks the portal's languages: ``draw(summary, "zh-CN")`` titles, axes and legends
it in Chinese (:data:`LABELS`), drawn with a CJK font registered explicitly
(:mod:`~govchain.services.analytics.fonts`); without one it is drawn in English rather than as
boxes. Data (department ids, reason codes) is shown as it is on chain, in either language.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from typing import Final, Protocol

import matplotlib.dates as mdates
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from govchain.services.analytics.durations import duration_unit, format_duration  # noqa: F401 (re-exported)
from govchain.services.analytics.fonts import families_for
from govchain.services.analytics.metrics import Comparison, Summary

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.5, 100
BASELINE_COLOR, MEASURED_COLOR, P90_COLOR, REFUSAL_COLOR = "#9e9e9e", "#1f77b4", "#ff7f0e", "#d62728"
TOP_SOURCES = 5
DAILY_AFTER_HOURS = 96
LABEL_MAX = 48

LANGUAGES: Final = ("en", "zh-CN")
"""The languages charts are labelled in (the portal's)."""
LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "processing.title": "Processing time per service type (applied → decided, block time)",
        "processing.tick": "{title}\n({decided} decided)",
        "processing.ylabel": "Time to decision ({unit})",
        "median": "median",
        "p90": "90th percentile",
        "no_decided": "No decided cases yet",
        "throughput.title": "Throughput: events on chain per block-time {period}",
        "throughput.xlabel": "Block time (UTC)",
        "throughput.ylabel": "Events per {period}",
        "throughput.other": "other sources",
        "throughput.source": "source",
        "period.hour": "hour",
        "period.day": "day",
        "no_events": "No events yet",
        "rejections.title": "Rejections and refusals by reason",
        "rejections.decided": "Cases decided against (on chain)",
        "rejections.cases": "Cases",
        "rejections.refused": "Events refused by the ledger (not on chain)",
        "rejections.events": "Events",
        "none": "none",
        "comparison.title": "Before and after: median time to decision",
        "comparison.before": "before: manual process",
        "comparison.after": "after: GovChain",
        "comparison.ylabel": "Median time to decision ({unit})",
        "comparison.faster": "{pct:.1f}% faster",
        "comparison.slower": "{pct:.1f}% slower",
        "no_baselines": "No baselines configured",
        "no_decided_cases": "no decided cases",
        "satisfaction.title": "Public satisfaction: ratings by score (signed by the applicant)",
        "satisfaction.row": "{title}\nmean {mean:.2f}, response {rate:.0f} %",
        "satisfaction.xlabel": "ratings",
        "no_ratings": "No ratings yet",
        "trend.title": "Mean satisfaction score per day (block time)",
        "trend.ylabel": "mean score (1–5)",
        "costs.title": "Cost of decided cases per month, CNY (cost model: see its assumptions)",
        "costs.before": "by hand (before)",
        "costs.after": "on the platform (after)",
        "costs.saved": "saved {amount:,}",
        "costs.ylabel": "CNY",
        "unit.days": "days",
        "unit.hours": "hours",
        "unit.minutes": "minutes",
        "unit.seconds": "seconds",
        "outcome.rejected": "rejected",
        "outcome.expired": "expired",
    },
    "zh-CN": {
        "processing.title": "各类服务办理时长（申请 → 办结，区块时间）",
        "processing.tick": "{title}\n（已办结 {decided} 件）",
        "processing.ylabel": "办结时长（{unit}）",
        "median": "中位数",
        "p90": "第 90 百分位",
        "no_decided": "尚无办结的案件",
        "throughput.title": "吞吐量：每{period}上链事件数（区块时间）",
        "throughput.xlabel": "区块时间（UTC）",
        "throughput.ylabel": "每{period}事件数",
        "throughput.other": "其他来源",
        "throughput.source": "来源",
        "period.hour": "小时",
        "period.day": "天",
        "no_events": "尚无事件",
        "rejections.title": "驳回与拒收（按原因）",
        "rejections.decided": "未获批准的案件（链上）",
        "rejections.cases": "案件数",
        "rejections.refused": "账本拒收的事件（未上链）",
        "rejections.events": "事件数",
        "none": "无",
        "comparison.title": "上链前后：办结时长中位数",
        "comparison.before": "之前：人工办理",
        "comparison.after": "之后：GovChain",
        "comparison.ylabel": "办结时长中位数（{unit}）",
        "comparison.faster": "快 {pct:.1f}%",
        "comparison.slower": "慢 {pct:.1f}%",
        "no_baselines": "尚未配置基线",
        "no_decided_cases": "尚无办结案件",
        "satisfaction.title": "公众满意度：各评分的评价数（申请人签名）",
        "satisfaction.row": "{title}\n平均 {mean:.2f} 分，评价率 {rate:.0f}%",
        "satisfaction.xlabel": "评价数",
        "no_ratings": "尚无评价",
        "trend.title": "每日平均满意度评分（区块时间）",
        "trend.ylabel": "平均评分（1–5）",
        "costs.title": "每月已办结案件的成本（元；成本模型：见其假设）",
        "costs.before": "人工办理（之前）",
        "costs.after": "平台办理（之后）",
        "costs.saved": "节省 {amount:,}",
        "costs.ylabel": "元（人民币）",
        "unit.days": "天",
        "unit.hours": "小时",
        "unit.minutes": "分钟",
        "unit.seconds": "秒",
        "outcome.rejected": "驳回",
        "outcome.expired": "过期",
    },
}
"""Every word a chart draws, per language; both languages hold the same keys (a unit test checks)."""
SERVICE_TITLES: Final[dict[str, dict[str, str]]] = {
    "zh-CN": {"business-license": "营业执照", "land-transfer": "土地转让"},
}
"""Service types' titles other than the English ones the summary carries; others keep those."""
DURATION_SYMBOLS: Final[dict[str, dict[str, str]]] = {"zh-CN": {"d": "天", "h": "小时", "min": "分钟", "s": "秒"}}

_DRAWING = threading.Lock()
"""Charts set their fonts through matplotlib's (process-wide) rcParams: one chart at a time."""


class UnknownLanguage(ValueError):
    """A chart was asked for in a language it has no labels for."""


@dataclass(frozen=True)
class Labels:
    """A chart's words in one language."""

    language: str
    messages: Mapping[str, str]

    def __call__(self, key: str, **params: object) -> str:
        text = self.messages[key]
        return text.format(**params) if params else text

    def service(self, summary: Summary, service_type: str) -> str:
        own = SERVICE_TITLES.get(self.language, {}).get(service_type)
        return own or next((s.title for s in summary.service_types if s.service_type == service_type), service_type)

    def duration(self, seconds: float | None) -> str:
        text = format_duration(seconds)
        symbols = DURATION_SYMBOLS.get(self.language)
        if seconds is None or symbols is None:
            return text
        value, _, symbol = text.partition(" ")
        return f"{value} {symbols.get(symbol, symbol)}"

    def unit(self, name: str) -> str:
        return self(f"unit.{name}")

    def outcome(self, name: str) -> str:
        """A case's outcome in words; an outcome the labels do not know, as it is."""
        return self.messages.get(f"outcome.{name}", name)


class Chart(Protocol):
    def __call__(self, summary: Summary, language: str = "en") -> bytes: ...


def labels_for(language: str) -> tuple[Labels, list[str]]:
    """The labels to draw a chart asked for in ``language`` with, and the font families: English
    ones when a Chinese chart has no CJK font to draw with."""
    if language not in LANGUAGES:
        raise UnknownLanguage(f"no chart labels in {language!r}; there are {', '.join(LANGUAGES)}")
    families = families_for(language)
    if families is None:
        return Labels("en", LABELS["en"]), families_for("en") or []
    return Labels(language, LABELS[language]), families


def _localized(draw: Callable[[Summary, Labels], bytes]) -> Chart:
    """``draw`` as a chart of ``(summary, language)``: the language's labels, in its fonts."""

    @functools.wraps(draw)
    def chart(summary: Summary, language: str = "en") -> bytes:
        labels, families = labels_for(language)
        with _DRAWING, rc_context({"font.family": families}):
            return draw(summary, labels)

    return chart


@_localized
def processing_chart(summary: Summary, t: Labels) -> bytes:
    """Median and 90th percentile of applied → decided time per service type."""
    fig, ax = _figure(t("processing.title"))
    stats = [s for s in summary.service_types if s.median_s is not None]
    if not stats:
        return _empty(fig, ax, t("no_decided"))
    name, _, size = duration_unit(max(s.p90_s or 0.0 for s in stats))
    positions = list(range(len(stats)))
    width = 0.38
    for offset, label, color, values in (
        (-width / 2, t("median"), MEASURED_COLOR, [s.median_s or 0.0 for s in stats]),
        (width / 2, t("p90"), P90_COLOR, [s.p90_s or 0.0 for s in stats]),
    ):
        bars = ax.bar([p + offset for p in positions], [v / size for v in values], width, label=label, color=color)
        ax.bar_label(bars, [t.duration(v) for v in values], padding=3, fontsize="small")
    ax.set_xticks(
        positions,
        [t("processing.tick", title=t.service(summary, s.service_type), decided=s.decided) for s in stats],
    )
    ax.set_xlim(-1, len(stats))
    ax.set_ylim(0, max(s.p90_s or 0.0 for s in stats) / size * 1.2 or 1)
    ax.set_ylabel(t("processing.ylabel", unit=t.unit(name)))
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


@_localized
def throughput_chart(summary: Summary, t: Labels) -> bytes:
    """Events on chain per block-time hour (per day over long spans, so bars stay visible),
    stacked by the busiest sources."""
    hourly = summary.throughput.hourly
    per_day = summary.throughput.span_hours > DAILY_AFTER_HOURS
    period = t("period.day" if per_day else "period.hour")
    fig, ax = _figure(t("throughput.title", period=period))
    if not hourly:
        return _empty(fig, ax, t("no_events"))
    buckets: dict[datetime, Counter[str]] = defaultdict(Counter)
    for h in hourly:
        start = h.hour.replace(hour=0) if per_day else h.hour
        buckets[start].update(h.by_source)
    starts = sorted(buckets)
    top = list(summary.throughput.by_source)[:TOP_SOURCES]
    series = {source: [buckets[b][source] for b in starts] for source in top}
    rest = [sum(buckets[b].values()) - sum(buckets[b][s] for s in top) for b in starts]
    if any(rest):
        series[t("throughput.other")] = rest
    bottom = [0] * len(starts)
    positions = mdates.date2num(starts)  # matplotlib's day numbers: what its date locators and formatters read
    for source, counts in series.items():
        ax.bar(positions, counts, width=0.9 if per_day else 0.9 / 24, bottom=bottom, align="edge", label=source)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel(t("throughput.xlabel"))
    ax.set_ylabel(t("throughput.ylabel", period=period))
    ax.legend(title=t("throughput.source"), loc="upper left", bbox_to_anchor=(1, 1), fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


@_localized
def rejections_chart(summary: Summary, t: Labels) -> bytes:
    """Why cases were decided against (on chain) and why the ledger refused events (off chain)."""
    fig = _canvas(height_in=6.0)
    fig.suptitle(t("rejections.title"))
    decided_ax, refused_ax = fig.subplots(2, 1)
    decided = [
        (f"{t.service(summary, r.service_type)}: {r.reason or t.outcome(r.outcome)}", r.count)
        for r in summary.rejections
    ]
    _hbars(decided_ax, decided, t("rejections.decided"), t("rejections.cases"), MEASURED_COLOR, t("none"))
    refused = list(summary.refusals.by_reason.items())
    _hbars(refused_ax, refused, t("rejections.refused"), t("rejections.events"), REFUSAL_COLOR, t("none"))
    return _png(fig)


@_localized
def comparison_chart(summary: Summary, t: Labels) -> bytes:
    """Median time to decision before (manual process) and after (on chain), per service type."""
    fig, ax = _figure(t("comparison.title"))
    rows = [c for c in summary.comparison if c.baseline_median_s is not None or c.measured_median_s is not None]
    if not rows:
        return _empty(fig, ax, t("no_baselines"))
    name, _, size = duration_unit(max(max(c.baseline_median_s or 0.0, c.measured_median_s or 0.0) for c in rows))
    positions = list(range(len(rows)))
    width = 0.38
    baseline = [(c.baseline_median_s or 0.0) / size for c in rows]
    measured = [(c.measured_median_s or 0.0) / size for c in rows]
    before = ax.bar(
        [p - width / 2 for p in positions], baseline, width, label=t("comparison.before"), color=BASELINE_COLOR
    )
    after = ax.bar(
        [p + width / 2 for p in positions], measured, width, label=t("comparison.after"), color=MEASURED_COLOR
    )
    ax.bar_label(after, [_after_label(c, t) for c in rows], padding=3, fontsize="small")
    ax.bar_label(before, [t.duration(c.baseline_median_s) for c in rows], padding=3, fontsize="small")
    ax.set_xticks(positions, [t.service(summary, c.service_type) for c in rows])
    ax.set_ylabel(t("comparison.ylabel", unit=t.unit(name)))
    ax.set_ylim(0, max(baseline + measured + [1e-9]) * 1.25)
    ax.legend(loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


SCORE_COLORS = ("#d62728", "#ff7f0e", "#bcbd22", "#8fbc8f", "#2ca02c")


@_localized
def satisfaction_chart(summary: Summary, t: Labels) -> bytes:
    """Counted ratings per service type by score (stacked), with mean score and response rate."""
    fig, ax = _figure(t("satisfaction.title"))
    stats = [s for s in summary.satisfaction.by_service_type if s.ratings]
    if not stats:
        return _empty(fig, ax, t("no_ratings"))
    labels = [
        t(
            "satisfaction.row",
            title=t.service(summary, s.service_type),
            mean=s.mean_score or 0.0,
            rate=100 * (s.response_rate or 0),
        )
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
    ax.set_xlabel(t("satisfaction.xlabel"))
    ax.legend(loc="lower right", ncols=5, fontsize="small")
    return _png(fig)


@_localized
def satisfaction_trend_chart(summary: Summary, t: Labels) -> bytes:
    """Mean score per block-time day and service type."""
    fig, ax = _figure(t("trend.title"))
    trend = summary.satisfaction.trend
    if not trend:
        return _empty(fig, ax, t("no_ratings"))
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for point in trend:
        series[point.service_type].append((datetime.strptime(point.day, "%Y-%m-%d"), point.mean_score))
    for service_type, points in series.items():
        ax.plot(
            mdates.date2num([p[0] for p in points]),
            [p[1] for p in points],
            marker="o",
            label=t.service(summary, service_type),
        )
    ax.set_ylim(0.5, 5.5)
    ax.set_ylabel(t("trend.ylabel"))
    days = sorted({p[0] for points in series.values() for p in points})
    # a day either side: one day alone is not a decade
    ax.set_xlim(mdates.date2num(days[0] - timedelta(days=1)), mdates.date2num(days[-1] + timedelta(days=1)))
    span_days = (days[-1] - days[0]).days + 2
    ax.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, span_days // 8)))  # whole days only
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    ax.legend(loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


@_localized
def costs_chart(summary: Summary, t: Labels) -> bytes:
    """Cost of the decided cases per month: by hand (the model's assumption) and on the platform."""
    fig, ax = _figure(t("costs.title"))
    periods = sorted({r.period or "" for r in summary.costs.by_period})
    if not periods:
        return _empty(fig, ax, t("no_decided"))
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
        label=t("costs.before"),
    )
    ax.bar(
        [p + width / 2 for p in positions],
        [after[p] for p in periods],
        width,
        color=MEASURED_COLOR,
        label=t("costs.after"),
    )
    for p, period in zip(positions, periods, strict=True):
        ax.annotate(
            t("costs.saved", amount=before[period] - after[period]),
            (p, before[period]),
            ha="center",
            va="bottom",
            fontsize="small",
        )
    ax.set_xticks(positions, periods)
    ax.set_xlim(-1, len(periods))
    ax.set_ylim(0, 1.2 * max(before.values(), default=1))
    ax.set_ylabel(t("costs.ylabel"))
    ax.legend(loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


CHARTS: dict[str, Chart] = {
    "processing": processing_chart,
    "throughput": throughput_chart,
    "rejections": rejections_chart,
    "comparison": comparison_chart,
    "satisfaction": satisfaction_chart,
    "satisfaction_trend": satisfaction_trend_chart,
    "costs": costs_chart,
}
"""Every chart by the name the API and the report use: ``CHARTS[name](summary, language)``."""


def _canvas(height_in: float = HEIGHT_IN) -> Figure:
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _figure(title: str) -> tuple[Figure, Axes]:
    fig = _canvas()
    ax = fig.add_subplot()
    ax.set_title(title)
    return fig, ax


def _hbars(ax: Axes, rows: Sequence[tuple[str, int]], title: str, unit: str, color: str, none: str) -> None:
    ax.set_title(title, fontsize="medium")
    if not rows:
        ax.text(0.5, 0.5, none, ha="center", va="center", transform=ax.transAxes, color="grey")
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


def _after_label(c: Comparison, t: Labels) -> str:
    if c.measured_median_s is None:
        return t("no_decided_cases")
    label = t.duration(c.measured_median_s)
    if c.improvement_pct is not None:
        key = "comparison.faster" if c.improvement_pct >= 0 else "comparison.slower"
        label += "\n" + t(key, pct=abs(c.improvement_pct))
    return label


def _short(label: str) -> str:
    return label if len(label) <= LABEL_MAX else label[: LABEL_MAX - 1] + "…"
