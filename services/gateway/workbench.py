"""The officials' workbench (一网通办 · 工作台): sign in with a department key, work the queue of
cases waiting on one's department, decide them, and enrol a citizen at the counter.

Every decision is an event the official signs **in the browser** (``static/govkeys.js``: the
private key is a non-extractable WebCrypto key, imported from the PEM ``govchain keygen`` or
``govchain identity register-official`` wrote) and submits through ``POST /api/v1/events``,
so the chain judges it like any other event. The gateway only answers questions:

* ``GET /api/v1/workbench/me``: who the session speaks for, as the chain knows them now;
* ``GET /api/v1/workbench/queue``: the open cases whose approvers name the official's
  department and whose approvals do not yet (land transfers, data-sharing requests; business
  licences are decided by their contract alone), with their evidence: the case's fields,
  who approved so far, the deadline in block time, the request event, the parcel or data set;
* ``POST /api/v1/workbench/pseudonym``: a citizen's pseudonymous id for a national id.

Why the pseudonym is computed here: it is a keyed HMAC (:mod:`govchain.pseudonym`) whose key
must never reach a browser (anyone holding it could test guessed national ids against the
chain). The gateway computes it for a signed-in official who may enrol citizens (their
department's admin, or an ``enrollment`` officer: the chain's own rule for ``citizen.enrolled``)
when the operator gave the gateway the key (``GOVCHAIN_PSEUDONYM_KEY`` or
``keys/pseudonym.key`` in its data folder, as ``make up`` has it); without it the answer is
503 ``pseudonym_unavailable`` and the counter uses ``govchain identity pseudonym`` instead. The
national id is neither logged nor echoed nor kept; the browser then signs
``citizen.enrolled`` itself, naming only the pseudonym and the citizen's public key.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.protocol.errors import KeyFileError
from govchain.protocol.eventref import parse_event_ref
from govchain.protocol.policy import ADMIN_ROLE
from govchain.pseudonym import pseudonym
from govchain.services.gateway import i18n
from govchain.services.gateway.bodies import StrictJsonRoute
from govchain.services.gateway.context import Gateway, OptionalSession, api_error, gateway_of
from govchain.services.gateway.errors import ERROR_RESPONSES
from govchain.services.gateway.limits import limiter, private_limit, public_limit
from govchain.services.gateway.portal import event_href, page, script_json
from govchain.services.gateway.sessions import Session

ENROLMENT_ROLE = "enrollment"
"""The role that may enrol citizens besides a department's admin (protocol.validation)."""
SCRIPT_PREFIX = "workbench.js."
"""Catalogue entries ``static/workbench.js`` shows: embedded in each workbench page."""
QUEUE_LIMIT = 50
NATIONAL_ID = r"^[0-9A-Za-z][0-9A-Za-z ]{3,39}$"
"""A national id as typed at a counter: letters, digits and spaces (18 characters in China: 17
digits and a check digit or X), normalised as ``govchain identity`` does (spaces dropped,
upper case); never stored, only its pseudonym leaves the gateway."""
LAND_TRANSFER = "land-transfer"
DATA_SHARING = "data-sharing"

API = "/api/v1/workbench"
router = APIRouter(route_class=StrictJsonRoute, responses=ERROR_RESPONSES)
"""Pages and JSON alike (one router, so route listings such as the hostile-input probes see
every route): pages stay out of the OpenAPI schema; JSON bodies are read strictly."""

PseudonymKey = Callable[[], bytes | None]
PSEUDONYM_LIMIT_ENV = "GOVCHAIN_GATEWAY_PSEUDONYM_RATE_LIMIT"


def pseudonym_limit() -> str:
    """Pseudonyms per client (``GOVCHAIN_GATEWAY_PSEUDONYM_RATE_LIMIT``, default ``10/minute``):
    a counter enrols a citizen every few minutes, while a stolen session asking fast would map
    national ids to pseudonyms, so this budget is tighter than other signed-in calls."""
    return os.environ.get(PSEUDONYM_LIMIT_ENV, "10/minute")


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the workbench. The pseudonym key is read when a counter first asks for it, never
    at start (a gateway without it serves everything else), and kept once found."""
    data = DataDir(settings.data_dir)
    found: list[bytes] = []

    def pseudonym_key() -> bytes | None:
        if not found:
            try:
                found.append(data.pseudonym_key(settings.pseudonym_key))
            except (KeyFileError, OSError, ValueError):
                return None  # this gateway was not given the key: the counter uses the CLI
        return found[0]

    app.state.workbench_pseudonym_key = pseudonym_key
    app.include_router(router)


# -- who is asking


@dataclass(frozen=True)
class Official:
    """A signed-in principal acting for a department: the department itself or one of its officials."""

    principal: str
    kind: str
    name: str
    department: str
    roles: list[str]
    key_id: str
    may_enrol: bool


def _gateway(request: Request) -> Gateway:
    return gateway_of(request)


GatewayDep = Annotated[Gateway, Depends(_gateway)]


async def official_of(gateway: Gateway, session: Session | None) -> Official:
    """The official a session speaks for, judged as of the newest block: 401 without a session
    or once its key is revoked or rotated out, 403 for anyone who does not act for a department."""
    if session is None or session.key_id is None:
        raise api_error(401, "unauthenticated", "sign in with your department key first (the workbench's sign-in page)")
    state = await gateway.key_state(session.key_id)
    record = state.keys.get(session.key_id)
    if record is None or record.owner != session.principal or not record.usable_at(state.height):
        raise api_error(401, "unauthenticated", "the key this session signed in with is no longer usable")
    principal = state.principals.get(session.principal)
    if principal is None or principal.kind not in ("department", "official") or principal.department is None:
        raise api_error(403, "not_an_official", f"{session.principal} does not act for a department")
    department = principal.department
    may_enrol = state.has_role(principal.id, ENROLMENT_ROLE) or state.is_admin_of(principal.id, department)
    roles = sorted(principal.roles | ({ADMIN_ROLE} if principal.kind == "department" else set()))
    return Official(principal.id, principal.kind, principal.name, department, roles, session.key_id, may_enrol)


async def _official(request: Request, session: OptionalSession) -> Official:
    return await official_of(gateway_of(request), session)


OfficialDep = Annotated[Official, Depends(_official)]


# -- pages: shells in the chosen language; workbench.js fills them with the signed-in data


def _page(request: Request, section: str) -> HTMLResponse:
    language = i18n.chosen_language(request)
    messages = {k: v for k, v in i18n.catalogue(language).items() if k.startswith(SCRIPT_PREFIX)}
    return page(request, f"workbench/{section}.html", section=section, workbench_messages=script_json(messages))


@router.get("/workbench", response_class=HTMLResponse, include_in_schema=False)
@limiter.limit(public_limit)
async def signin_page(request: Request) -> HTMLResponse:
    return _page(request, "signin")


@router.get("/workbench/queue", response_class=HTMLResponse, include_in_schema=False)
@limiter.limit(public_limit)
async def queue_page(request: Request) -> HTMLResponse:
    return _page(request, "queue")


@router.get("/workbench/enrol", response_class=HTMLResponse, include_in_schema=False)
@limiter.limit(public_limit)
async def enrol_page(request: Request) -> HTMLResponse:
    return _page(request, "enrol")


# -- JSON


@router.get(
    f"{API}/me", tags=["workbench"], summary="The official this session speaks for, as the chain knows them now"
)
@limiter.limit(private_limit)
async def me(request: Request, official: OfficialDep) -> dict[str, Any]:
    return asdict(official)


@router.get(
    f"{API}/queue",
    tags=["workbench"],
    summary="The cases waiting on my department's decision, with their evidence",
    description="Open contract cases whose approvers name the signed-in official's department and "
    "whose approvals do not yet: land transfers (`land.transfer_approved`) and data-sharing "
    "requests (`dataset.access_approved` / `dataset.access_declined` with a reason). Each comes "
    "with its fields, who approved so far, its deadline (block time), the request event and the "
    "parcel (as an officer sees it: no personal fields) or the data set it concerns.",
)
@limiter.limit(private_limit)
async def queue(
    request: Request, gateway: GatewayDep, official: OfficialDep, session: OptionalSession
) -> dict[str, Any]:
    head = await gateway.newest_height()
    answer = await gateway.read(
        gateway.names.contract_awaiting, {"department": official.department, "limit": QUEUE_LIMIT}, at=head
    )
    cases = answer["cases"]
    datasets: dict[str, dict[str, Any]] | None = None
    if any(case["contract_id"] == DATA_SHARING for case in cases):
        found = await gateway.read(gateway.names.registry_catalog, {}, session, at=head)
        datasets = {f"{d['department']}/{d['dataset_id']}": d for d in found.get("datasets", [])}
    items = await asyncio.gather(*(_evidence(gateway, session, case, datasets or {}, head) for case in cases))
    return {
        "official": asdict(official),
        "department": official.department,
        "as_of_height": head,
        "cases": list(items),
        "truncated": answer.get("truncated", False),
    }


async def _evidence(
    gateway: Gateway, session: Session | None, case: dict[str, Any], datasets: dict[str, dict[str, Any]], head: int
) -> dict[str, Any]:
    """One case of the queue with what an official needs to decide it, as of the queue's block."""
    variables = case.get("vars") or {}
    item: dict[str, Any] = {
        "contract_id": case["contract_id"],
        "case_key": case["case_key"],
        "title": case.get("title"),
        "state": case["state"],
        "fields": variables,
        "approvers": variables.get("approvers", []),
        "approvals": variables.get("approvals", []),
        "required": variables.get("required"),
        "entered_at": case.get("entered_at"),
        "deadline": case.get("deadline"),
        "request": _request_ref(case.get("opened_by")),
        "opened_height": case.get("opened_height"),
        "decision": _decision(case.get("transitions") or []),
    }
    if case["contract_id"] == LAND_TRANSFER and isinstance(variables.get("parcel_id"), str):
        item["parcel"] = await _parcel(gateway, session, variables["parcel_id"], head)
        owner = (item["parcel"] or {}).get("owner")
        item["seller_owns_parcel"] = None if owner is None else owner == variables.get("from_owner")
    if case["contract_id"] == DATA_SHARING:
        item["dataset"] = datasets.get(f"{variables.get('holder')}/{variables.get('dataset_id')}")
    return item


def _decision(transitions: list[dict[str, Any]]) -> dict[str, str | None]:
    """The event types that decide a case, read from its contract's transitions out of its
    state: approval by a transition named ``approve…``, refusal by one named ``decline…`` or
    ``refuse…`` (``dataset.access_declined``; ``land.transfer_declined`` from land-transfer
    version 3). Under a contract version with none, the case can only be approved or expire."""
    approve = next((t["on"] for t in transitions if str(t.get("name", "")).startswith("approve")), None)
    refuse = next((t["on"] for t in transitions if str(t.get("name", "")).startswith(("decline", "refuse"))), None)
    return {"approve": approve, "refuse": refuse}


def _request_ref(ref: Any) -> dict[str, Any] | None:
    if not isinstance(ref, str):
        return None
    try:
        source, event_id = parse_event_ref(ref)
    except ValueError:
        return None
    return {"source": source, "event_id": event_id, "href": event_href(source, event_id)}


async def _parcel(gateway: Gateway, session: Session | None, parcel_id: str, head: int) -> dict[str, Any] | None:
    try:
        answer = await gateway.read(gateway.names.registry_parcel, {"id": parcel_id}, session, at=head)
    except HTTPException as exc:
        if exc.status_code == 404:
            return None
        raise
    record = answer.get("record")
    return dict(record) if isinstance(record, dict) else None


class PseudonymRequest(BaseModel):
    national_id: str = Field(pattern=NATIONAL_ID, description="as the citizen's identity card shows it")


@router.post(
    f"{API}/pseudonym",
    tags=["workbench"],
    summary="A citizen's pseudonymous id for their national id (officials who may enrol)",
    description="The keyed HMAC the chain knows a citizen by, computed here because its key must "
    "never reach a browser. For the department's admin or an `enrollment` officer; the national "
    "id is neither logged nor kept. 503 `pseudonym_unavailable` when this gateway was not given "
    "the pseudonym key: use `govchain identity pseudonym` at the counter.",
)
@limiter.limit(pseudonym_limit)
async def citizen_pseudonym(
    request: Request, gateway: GatewayDep, official: OfficialDep, body: PseudonymRequest
) -> dict[str, Any]:
    if not official.may_enrol:
        raise api_error(
            403,
            "forbidden",
            f"{official.principal} may not enrol citizens (the department's admin or an enrollment officer may)",
        )
    key_of: PseudonymKey = request.app.state.workbench_pseudonym_key
    key = await asyncio.to_thread(key_of)
    if key is None:
        raise api_error(
            503,
            "pseudonym_unavailable",
            "this gateway holds no pseudonym key; compute it with `govchain identity pseudonym` at the counter",
        )
    citizen_id = pseudonym(body.national_id, key, suite=gateway.suite)  # HMAC-SM3 on a gm chain
    resolved = await gateway.read(gateway.names.identity_resolve, {"did": f"did:govchain:{citizen_id}"})
    return {"citizen_id": citizen_id, "enrolled": resolved.get("didDocument") is not None}
