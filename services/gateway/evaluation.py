"""Evaluating the platform and working across departments, on the portal (issue 14).

Two parts:

- what the analytics page shows beyond efficiency: public satisfaction and cost savings as
  tables, built here from the one summary the analytics service answers with (the same
  ``gov.analytics.summary`` the ``govchain report`` prints), so page, report and charts agree.
  The cost model's assumptions are read from that summary too (``costs.per_case[].assumptions``,
  the model the service runs with), never restated here;
- the data-sharing pages: the catalog of shared data sets, the grants with their expiry and
  status and every read under them, and one request's progress through the ``data-sharing``
  contract. Each shows what the registry (or, for a request, the contract case) lets the
  signed-in person see: the catalog as the registry filters it; grants to officers of the
  departments party to them and to auditors; a request's details to those departments (the
  public sees its state), as the API shows an application.
"""

from __future__ import annotations

import json
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from govchain.bus import subjects
from govchain.protocol.sharing import RECORD_ID
from govchain.services.analytics.costs import ServiceCostModel
from govchain.services.analytics.metrics import Summary
from govchain.services.gateway.context import OptionalSession, gateway_of
from govchain.services.gateway.limits import limiter, public_limit
from govchain.services.registry.access import Viewer

router = APIRouter(include_in_schema=False)

EFFICIENCY_CHARTS = ("processing", "comparison", "throughput", "rejections")
SATISFACTION_CHARTS = ("satisfaction", "satisfaction_trend")
COST_CHARTS = ("costs",)
CHARTS = EFFICIENCY_CHARTS + SATISFACTION_CHARTS + COST_CHARTS
"""The analytics charts the portal serves, each titled by the catalogue (``chart.<name>``,
``evaluation.chart.<name>``) and drawn in the page's language."""
CHART_TTL_S = 30.0
"""How long a drawn chart is served again for the same block: as long as browsers may keep it."""
CHART_CACHE_ENTRIES = 64
SHARING_CONTRACT = "data-sharing"
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


# -- data sharing


def grant_state(grant: Mapping[str, Any], today: str | None) -> str:
    """``granted``, ``expired`` (chain time is past its last day) or ``void``: what reads under
    it would meet (:func:`govchain.services.registry.sharing.read_problem` judges the same way)."""
    if grant.get("status") != "granted":
        return "void"
    if today is not None and today > str(grant.get("expires_on", "")):
        return "expired"
    return "granted"


def catalog_entry(dataset: Mapping[str, Any]) -> dict[str, Any]:
    """A catalog row as the page shows it: its approval rule as a list (the registry answers
    with the column's JSON text), ``required`` 1 when unset, as the registry judges grants."""
    approvers = dataset.get("approvers")
    if isinstance(approvers, str):
        try:
            approvers = json.loads(approvers)
        except ValueError:
            approvers = None
    approvers = [str(a) for a in approvers] if isinstance(approvers, list) else []
    return {**dataset, "approvers": approvers, "required": dataset.get("required") or 1}


def may_see_request(viewer: Viewer, case_vars: Mapping[str, Any]) -> bool:
    """Whether ``viewer`` sees a data-sharing request's details (purpose, fields, approvals):
    auditors, and officers of the departments it names (the holder, the requester, the approvers),
    as the registry shows a grant to the departments party to it."""
    if viewer.auditor:
        return True
    if not viewer.is_officer or viewer.department is None:
        return False
    named = {case_vars.get("holder"), case_vars.get("grantee"), *(case_vars.get("approvers") or [])}
    return viewer.department in named


async def _head(request: Request) -> int:
    return max(await gateway_of(request).head_height(), 0)


def _page(request: Request, name: str, **context: Any) -> HTMLResponse:
    from govchain.services.gateway.portal import page  # portal imports this module

    return page(request, name, **context)


@router.get("/sharing", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def sharing_catalog(request: Request, session: OptionalSession) -> HTMLResponse:
    """The catalog of shared data sets, as the registry lets the asker see it."""
    gateway = gateway_of(request)
    answer = await gateway.ask(subjects.REGISTRY_CATALOG, {"min_height": await _head(request)}, session)
    return _page(
        request,
        "sharing/catalog.html",
        datasets=[catalog_entry(d) for d in answer["datasets"]],
        visibility=answer.get("visibility", "public"),
        signed_in=session is not None,
    )


@router.get("/sharing/grants", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def sharing_grants(request: Request, session: OptionalSession) -> HTMLResponse:
    """Grants with their expiry, status and every read under them: to the departments party to
    them and auditors (the registry decides); others get the page saying so, not an error."""
    gateway = gateway_of(request)
    if session is None:
        return _page(request, "sharing/grants.html", grants=None, refusal="unauthenticated", today=None)
    try:
        answer = await gateway.ask(subjects.REGISTRY_GRANTS, {"min_height": await _head(request)}, session)
    except HTTPException as exc:
        if exc.status_code != 403:
            raise
        return _page(request, "sharing/grants.html", grants=None, refusal="forbidden", today=None)
    today = answer.get("today")
    grants = [{**g, "state": grant_state(g, today)} for g in answer["grants"]]
    return _page(
        request,
        "sharing/grants.html",
        grants=grants,
        reads=sorted((r for g in grants for r in g["reads"]), key=lambda r: (r["height"], r["event_id"])),
        refusal=None,
        today=today,
        visibility=answer.get("visibility"),
    )


@router.get("/sharing/request")
@limiter.limit(public_limit)
async def sharing_request_lookup(request: Request, id: Annotated[str, Query(max_length=64)]) -> RedirectResponse:
    """The catalog page's "look up a request" form: on to that request's page."""
    return RedirectResponse(f"/sharing/requests/{quote(_checked_request_id(id.strip()))}", status_code=303)


def _checked_request_id(value: str) -> str:
    if not re.fullmatch(RECORD_ID, value):
        raise HTTPException(
            400, detail={"code": "bad_request", "message": "a request id is 1-64 letters, digits, '.', '_' or '-'"}
        )
    return value


@router.get("/sharing/requests/{request_id}", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def sharing_request(
    request: Request,
    session: OptionalSession,
    request_id: Annotated[str, Path(max_length=64)],
) -> HTMLResponse:
    """One data-sharing request as the contract decides it: its state and steps for anyone,
    what is asked for and by whom to the departments it names and auditors."""
    _checked_request_id(request_id)
    gateway = gateway_of(request)
    case = await gateway.ask(
        subjects.CONTRACT_CASE,
        {"contract_id": SHARING_CONTRACT, "case_key": request_id, "min_height": await _head(request)},
    )
    viewer = await gateway.viewer(session)
    variables = case.get("vars") or {}
    shown = may_see_request(viewer, variables)
    return _page(
        request,
        "sharing/request.html",
        request_id=request_id,
        state=case.get("state"),
        entered_at=case.get("entered_at"),
        history=[
            {k: step.get(k) for k in ("height", "step", "state", *(("failed",) if shown else ()))}
            for step in case.get("history", [])
        ],
        details=variables if shown else None,
        results=case.get("results", []) if shown else [],
    )
