"""The data-sharing pages of the portal: the catalog of shared data sets, the grants with their
expiry and status and every read under them, and one request's progress through the
``data-sharing`` contract.

Each shows what the registry (or, for a request, the contract case) lets the signed-in person
see: the catalog as the registry filters it; grants to officers of the departments party to
them and to auditors; a request's details to those departments (the public sees its state), as
the API shows an application.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from govchain.protocol.sharing import RECORD_ID
from govchain.services.gateway.context import OptionalSession, gateway_of
from govchain.services.gateway.limits import limiter, public_limit
from govchain.services.registry.access import Viewer

router = APIRouter(include_in_schema=False)

SHARING_CONTRACT = "data-sharing"


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


def _page(request: Request, name: str, **context: Any) -> HTMLResponse:
    from govchain.services.gateway.portal import page  # portal imports this module

    return page(request, name, **context)


@router.get("/sharing", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def sharing_catalog(request: Request, session: OptionalSession) -> HTMLResponse:
    """The catalog of shared data sets, as the registry lets the asker see it."""
    gateway = gateway_of(request)
    answer = await gateway.read(gateway.names.registry_catalog, {}, session)
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
        answer = await gateway.read(gateway.names.registry_grants, {}, session)
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
    case = await gateway.read(gateway.names.contract_case, {"contract_id": SHARING_CONTRACT, "case_key": request_id})
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
