"""Evaluating the platform, on the portal's analytics page: what it shows beyond efficiency.

Public satisfaction and cost savings as tables, built here from the one summary the analytics
service answers with (the same ``gov.analytics.summary`` the ``govchain report`` prints), so
page, report and charts agree. The cost model's assumptions are read from that summary too
(``costs.per_case[].assumptions``, the model the service runs with), never restated here.
Charts are drawn by the analytics service in the page's language and kept per block
(:class:`ChartCache`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from govchain.services.analytics.costs import ServiceCostModel
from govchain.services.analytics.metrics import Summary

EFFICIENCY_CHARTS = ("processing", "comparison", "throughput", "rejections")
SATISFACTION_CHARTS = ("satisfaction", "satisfaction_trend")
COST_CHARTS = ("costs",)
CHARTS = EFFICIENCY_CHARTS + SATISFACTION_CHARTS + COST_CHARTS
"""The analytics charts the portal serves, each titled by the catalogue (``chart.<name>``,
``evaluation.chart.<name>``) and drawn in the page's language."""
CHART_TTL_S = 30.0
"""How long a drawn chart is served again for the same block: as long as browsers may keep it."""
CHART_CACHE_ENTRIES = 64
SCORES = ("1", "2", "3", "4", "5")
COST_FIELDS = tuple(ServiceCostModel.model_fields)
"""The cost model's assumptions, in the model's own order (the report prints them so too)."""


# -- analytics: charts drawn once per language and block, satisfaction and costs as tables


class ChartCache:
    """PNG charts by (name, language, newest block): drawing one takes the analytics service a
    good part of a second, and a page asks for seven. The language is part of the key, so a
    chart drawn in Chinese is never served to an English page; an entry lives
    :data:`CHART_TTL_S` at most (refusals change without a new block)."""

    def __init__(self, ttl_s: float = CHART_TTL_S, entries: int = CHART_CACHE_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self.entries = entries
        self._found: OrderedDict[tuple[str, str, int], tuple[float, bytes]] = OrderedDict()

    async def get(self, key: tuple[str, str, int], draw: Callable[[], Awaitable[bytes]]) -> bytes:
        now = time.monotonic()
        hit = self._found.get(key)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        png = await draw()
        self._found[key] = (now, png)
        self._found.move_to_end(key)
        while len(self._found) > self.entries:
            self._found.popitem(last=False)
        return png


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def cny(value: float) -> str:
    """Money as the report prints it: ``1,370.00``."""
    return f"{value:,.2f}"


def _figure(value: float) -> str:
    """An assumption as stated (``20``, ``0.5``), as the report prints it."""
    return f"{value:g}"


def evaluation_view(
    summary: Summary, service_title: Callable[[str, str], str], department_name: Callable[[str | None], str]
) -> dict[str, Any]:
    """The satisfaction and cost tables of the analytics page, every figure formatted once here.

    ``service_title(service_type, english_title)`` and ``department_name(id)`` put names in the
    page's language and the directory's words."""
    titles = {s.service_type: s.title for s in summary.service_types}

    def service(name: str) -> str:
        return service_title(name, titles.get(name, name))

    def rated(row: Any) -> dict[str, Any]:
        return {
            "service_type": row.service_type,
            "service": service(row.service_type),
            "department_id": row.department or "",
            "department": department_name(row.department),
            "ratings": row.ratings,
            "decided": row.decided,
            "response_rate": _pct(row.response_rate),
            "mean_score": _score(row.mean_score),
            "distribution": [row.distribution.get(score, 0) for score in SCORES],
            "comments": row.comments,
        }

    def saved(row: Any) -> dict[str, Any]:
        return {
            "service_type": row.service_type,
            "service": service(row.service_type),
            "period": row.period or "—",
            "department_id": row.department or "",
            "department": department_name(row.department),
            "cases": row.cases,
            "cost_before": cny(row.cost_before),
            "cost_after": cny(row.cost_after),
            "saving": cny(row.saving),
        }

    s, c = summary.satisfaction, summary.costs
    return {
        "satisfaction": {
            "by_service_type": [rated(row) for row in s.by_service_type],
            "by_department": [rated(row) for row in s.by_department],
            "trend": [
                {
                    "day": p.day,
                    "service_type": p.service_type,
                    "service": service(p.service_type),
                    "ratings": p.ratings,
                    "mean_score": _score(p.mean_score),
                }
                for p in s.trend
            ],
            "void_by_reason": list(s.void_by_reason.items()),
        },
        "costs": {
            "per_case": [
                {
                    "service_type": row.service_type,
                    "service": service(row.service_type),
                    "cost_before": cny(row.cost_before),
                    "cost_after": cny(row.cost_after),
                    "saving": cny(row.saving),
                }
                for row in c.per_case
            ],
            "by_period": [saved(row) for row in c.by_period],
            "by_department": [saved(row) for row in c.by_department],
            "total": {
                "cases": c.total_cases,
                "cost_before": cny(c.total_before),
                "cost_after": cny(c.total_after),
                "saving": cny(c.total_saving),
            },
            "unmodelled": [service(name) for name in c.unmodelled],
            "models": [{"service_type": row.service_type, "service": service(row.service_type)} for row in c.per_case],
            "assumptions": [
                {
                    "field": name,
                    "description": ServiceCostModel.model_fields[name].description or "",
                    "values": [_figure(getattr(row.assumptions, name)) for row in c.per_case],
                }
                for name in COST_FIELDS
            ],
        },
    }


def localized_service(has: Callable[[str], bool], t: Callable[..., str]) -> Callable[[str, str], str]:
    """A service type's title in the page's language: the catalogue's when it has one, else
    the English title the analytics service gives."""

    def title(name: str, english: str) -> str:
        key = f"evaluation.service.{name}"
        return t(key) if has(key) else english

    return title


def directory_names(departments: Iterable[Mapping[str, Any]], unknown: str) -> Callable[[str | None], str]:
    """A department's name from the registry's directory (its id when not listed there)."""
    names = {str(d["department_id"]): str(d["name"]) for d in departments}

    def name(department: str | None) -> str:
        return unknown if department is None else names.get(department, department)

    return name
