"""The public portal and block explorer: server-rendered pages over the same services.

Pages speak zh-CN first and English on request (:mod:`govchain.services.gateway.i18n`: one
message catalogue per language, ``t(key)`` in templates). The event page and the document
check run ``static/verify.js``: the browser checks the proof itself, from the genesis block
(the trust anchor, pinned in the page by its hash and served at ``/genesis/<hash>.json``) to the
orderer's signature, the RFC 8785 header hash and the RFC 9162 path.

Every page is rate-limited like the public API (``GOVCHAIN_GATEWAY_RATE_LIMIT``): a page costs
the services as much as the API calls behind it. Events are shown as the API shows them
(:mod:`govchain.services.gateway.visibility`): the public does not see the fields that link a
person's events; a request with an officer's session (``Authorization: Bearer``) does. Links
name an event by source and id, except where the source is a citizen: a URL ends up in logs
and Referer headers, so no link carries a pseudonym."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from govchain.crypto import DEFAULT_SUITE
from govchain.protocol.eventref import parse_event_ref
from govchain.protocol.proofs import inclusion_problem, signed_head_problem
from govchain.services.analytics.metrics import Summary
from govchain.services.gateway import i18n
from govchain.services.gateway.context import OptionalSession, error_detail, gateway_of, shown_error
from govchain.services.gateway.evaluation import (
    CHARTS,
    COST_CHARTS,
    EFFICIENCY_CHARTS,
    SATISFACTION_CHARTS,
    ChartCache,
    directory_names,
    evaluation_view,
    localized_service,
)
from govchain.services.gateway.limits import limiter, public_limit
from govchain.services.gateway.visibility import is_redacted, names_a_citizen, public_view, shown_to

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"), context_processors=[i18n.context])
router = APIRouter(include_in_schema=False)
UPLOAD_CHUNK_BYTES = 1024 * 1024

GENESIS_CACHE = "public, max-age=31536000, immutable"
"""``/genesis/<hash>.json`` names its content: cacheable for good."""


def event_href(source: Any, event_id: str) -> str:
    """The portal URL of an event: ``/events/<source>/<id>``; ``/events/<id>`` when the source is
    not shown, or is a citizen (no link carries a pseudonym)."""
    if isinstance(source, str) and not names_a_citizen(source):
        return f"/events/{source}/{event_id}"
    return f"/events/{event_id}"


def ref_href(ref: str) -> str:
    """The portal URL of an event named ``source/id`` (or by a bare id, in older registry rows)."""
    try:
        source, event_id = parse_event_ref(ref)
    except ValueError:
        return "/"
    return event_href(source, event_id)


templates.env.globals.update(event_href=event_href, ref_href=ref_href)
templates.env.tests["redacted"] = is_redacted


def page(request: Request, name: str, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, {"chain_id": request.app.state.chain_id, **context})
    i18n.remember(request, response)
    return response


def script_json(value: Any) -> Markup:
    """``value`` as JSON to sit inside ``<script type="application/json">``: no ``<``, ``>`` or
    ``&`` in it (each a JSON escape), so no string can close the element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


async def genesis_block(request: Request) -> dict[str, Any]:
    """Block 0, the browser's trust anchor, as the public may see it; checked once against the
    orderer keys of the gateway's own genesis file, then kept."""
    cached = getattr(request.app.state, "genesis_block", None)
    if cached is None:
        gateway = gateway_of(request)
        found = await gateway.block(0)
        head = {"header": found.header.model_dump(), "hash": found.hash, "signature": found.signature}
        problem = signed_head_problem(head, gateway.orderer_keys)
        if problem is not None:
            raise HTTPException(
                503, detail={"code": "unavailable", "message": f"block 0 does not check out: {problem}"}
            )
        cached = {**head, "events": public_view(found.events)[0]}  # genesis names no citizen: unchanged
        request.app.state.genesis_block = cached
    return cached


BROWSER_PROFILES = frozenset({"intl", "gm"})
"""The crypto profiles ``static/verify.js`` checks in the browser (its ``SUITES``)."""


async def browser_check(request: Request, proofs: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``static/verify.js`` checks, and in which language it says so: each proof with its
    signed head and, when the page shows the event in full, the event as it is hashed; and the
    newest witnessed checkpoint with what checks it (each proof again at its size)."""
    from govchain.services.gateway.log import checkpoint_for_browser  # log imports errors, which imports us

    genesis = await genesis_block(request)
    language = i18n.chosen_language(request)
    data = {
        "chain_id": request.app.state.chain_id,
        "genesis_hash": genesis["hash"],
        "genesis_url": f"/genesis/{genesis['hash']}.json",
        "proofs": proofs,
        "witnessed": await checkpoint_for_browser(gateway_of(request), proofs),
    }
    # verify.js checks the profiles it has a suite for: intl through WebCrypto, gm with its own SM2
    # and SM3 (static/gm.js). For any other, the page says the browser cannot check and the server did.
    profile = genesis["events"][0]["data"].get("crypto_profile", DEFAULT_SUITE)
    return {
        "check_data": script_json(data),
        "check_messages": script_json(i18n.script_messages(language)),
        "browser_can_check": profile in BROWSER_PROFILES,
        "crypto_profile": profile,
    }


@router.get("/", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def index(request: Request) -> HTMLResponse:
    gateway = gateway_of(request)
    newest = await gateway.head_height()
    blocks = [await gateway.block(h) for h in range(newest, max(newest - 15, -1), -1)]
    from govchain.services.gateway.log import witnessed_or_none  # log imports errors, which imports us

    return page(
        request,
        "index.html",
        **await browser_check(request, []),
        blocks=[{"hash": b.hash, **b.header.model_dump()} for b in blocks],
        witnessed=await witnessed_or_none(gateway),
    )


@router.get("/genesis/{block_hash}.json")
@limiter.limit(public_limit)
async def genesis(request: Request, block_hash: str) -> Response:
    """Block 0, the trust anchor the browser checks every proof from, named by its hash."""
    found = await genesis_block(request)
    if block_hash != found["hash"]:
        raise HTTPException(404, detail={"code": "not_found", "message": f"this chain's genesis is not {block_hash}"})
    return Response(
        json.dumps(found, ensure_ascii=False).encode(),
        media_type="application/json",
        headers={"Cache-Control": GENESIS_CACHE},
    )


@router.get("/search")
@limiter.limit(public_limit)
async def search(request: Request, q: Annotated[str, Query(max_length=100)]) -> Response:
    """A height, an event (``source/id`` or a bare id), else a business name."""
    q = q.strip()
    if q.isdigit():
        return RedirectResponse(f"/blocks/{int(q)}", status_code=303)
    try:
        source, event_id = parse_event_ref(q)
    except ValueError:
        return RedirectResponse(f"/registry?{urlencode({'q': q})}", status_code=303)
    params: dict[str, Any] = {"event_id": event_id} if source is None else {"event_id": event_id, "source": source}
    try:
        gateway = gateway_of(request)
        found = await gateway.ask(gateway.names.ledger_proof, params)
    except HTTPException as exc:
        code = error_detail(exc).get("code")
        if code == "ambiguous_id":
            return RedirectResponse(f"/events/{event_id}", status_code=303)  # that page offers the sources
        if code not in ("not_found", "bad_request", "invalid_request"):
            raise
        return RedirectResponse(f"/registry?{urlencode({'q': q})}", status_code=303)
    return RedirectResponse(event_href(found["source"], event_id), status_code=303)


@router.get("/blocks/{height}", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def block(request: Request, height: int, session: OptionalSession) -> HTMLResponse:
    gateway = gateway_of(request)
    found = await gateway.block(height)
    shown = shown_to(await gateway.viewer(session), {"events": found.events})
    return page(
        request,
        "block.html",
        header=found.header.model_dump(),
        hash=found.hash,
        signature=found.signature,
        events=shown["events"],
        visibility=shown["visibility"],
        redacted_fields=shown["redacted_fields"],
    )


@router.get("/events/{source}/{event_id}", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def event(request: Request, source: str, event_id: str, session: OptionalSession) -> HTMLResponse:
    gateway = gateway_of(request)
    found = await gateway.event(event_id, source)
    return await _event_page(request, found, shown_to(await gateway.viewer(session), found))


@router.get("/events/{event_id}", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def event_by_id(request: Request, event_id: str, session: OptionalSession) -> HTMLResponse:
    """An event by its id alone; when several sources used it, the error page offers each."""
    gateway = gateway_of(request)
    viewer = await gateway.viewer(session)
    try:
        found = await gateway.event(event_id, None)
    except HTTPException as exc:
        raise shown_error(exc, viewer) from None
    return await _event_page(request, found, shown_to(viewer, found))


async def _event_page(request: Request, found: dict[str, Any], shown: dict[str, Any]) -> HTMLResponse:
    """``found``: the event as the gateway has it; ``shown``: as this viewer may see it."""
    envelope = shown["event"]
    whole = not any(path.startswith("event.") for path in shown["redacted_fields"])
    ref = (found["proof"]["source"], found["proof"]["event_id"])
    checks = await browser_check(
        request, [{"proof": shown["proof"], "event": envelope if whole else None, "redacted": not whole, "ref": ref}]
    )
    return page(
        request,
        "event.html",
        **checks,
        event=envelope,
        event_json=json.dumps(envelope, indent=2, ensure_ascii=False),
        receipt=shown["receipt"],
        proof=shown["proof"],
        proof_verified=shown["proof_verified"],
        proof_problem=shown["proof_problem"],
        visibility=shown["visibility"],
        redacted_fields=shown["redacted_fields"],
    )


@router.get("/registry", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def registry(request: Request, q: Annotated[str | None, Query(max_length=100)] = None) -> HTMLResponse:
    gateway = gateway_of(request)
    found = None if q is None else (await gateway.read(gateway.names.registry_businesses, {"text": q}))["records"]
    directory = (await gateway.read(gateway.names.registry_departments, {}))["departments"]
    return page(request, "registry.html", q=q or "", businesses=found, departments=directory)


@router.get("/registry/parcel", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def parcel(request: Request, id: Annotated[str, Query(max_length=64)]) -> HTMLResponse:
    gateway = gateway_of(request)
    answer = await gateway.read(gateway.names.registry_parcel, {"id": id})
    return page(request, "parcel.html", record=answer["record"], history=answer["history"])


@router.get("/verify", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def verify_form(request: Request) -> HTMLResponse:
    return page(request, "verify.html", result=None)


@router.post("/verify", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def verify(request: Request, file: UploadFile) -> HTMLResponse:
    gateway = gateway_of(request)
    hasher = hashlib.sha256()
    while chunk := await file.read(UPLOAD_CHUNK_BYTES):  # never the whole upload in memory
        hasher.update(chunk)
    digest = hasher.hexdigest()
    answer = await gateway.read(gateway.names.registry_document, {"sha256": digest, "with_proofs": True})
    verified = bool(answer["proofs"]) and all(
        inclusion_problem(p, gateway.orderer_keys) is None for p in answer["proofs"]
    )
    proofs = public_view(answer["proofs"])[0]  # the page's data shows no pseudonym either
    checks = await browser_check(
        request,
        [
            {
                "proof": p,
                "event": None,
                "redacted": False,
                "document_sha256": digest,
                "event_url": f"/api/v1/events/{p['source']}/{p['event_id']}" if isinstance(p["source"], str) else None,
                "ref": (full["source"], full["event_id"]),
            }
            for p, full in zip(proofs, answer["proofs"], strict=True)
        ],
    )
    return page(request, "verify.html", result={"sha256": digest, **answer}, proofs_verified=verified, **checks)


@router.get("/analytics", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def analytics(request: Request) -> HTMLResponse:
    """Efficiency charts; satisfaction and costs as tables and charts, with the cost model's
    assumptions as the analytics service runs it (the same summary ``govchain report`` prints)."""
    gateway = gateway_of(request)
    try:
        answer = await gateway.ask(gateway.names.analytics_summary, {})
    except HTTPException:
        return page(request, "analytics.html", available=False, charts=EFFICIENCY_CHARTS)
    summary = Summary.model_validate(answer)
    language = i18n.chosen_language(request)
    t, has = i18n.translator(language), i18n.catalogue(language).__contains__
    try:
        directory = (await gateway.ask(gateway.names.registry_departments, {}))["departments"]
    except HTTPException:
        directory = []  # ids instead of names: the figures do not depend on the registry
    return page(
        request,
        "analytics.html",
        available=True,
        charts=EFFICIENCY_CHARTS,
        satisfaction_charts=SATISFACTION_CHARTS,
        cost_charts=COST_CHARTS,
        chart_lang=language,
        as_of_height=summary.as_of_height,
        **evaluation_view(
            summary,
            localized_service(has, t),
            directory_names(directory, t("evaluation.department.unknown")),
        ),
    )


_charts = ChartCache()


@router.get("/charts/{name}.png")
@limiter.limit(public_limit)
async def chart(request: Request, name: str, lang: Annotated[str | None, Query(max_length=16)] = None) -> Response:
    """A chart in the language ``?lang=`` names (the page's, which every chart link carries; without
    it, the asker's). Drawn once per language and block (:class:`ChartCache`)."""
    if name not in CHARTS:
        raise HTTPException(404, detail={"code": "not_found", "message": f"no chart {name}"})
    language = i18n.normalized(lang) or i18n.chosen_language(request)
    gateway = gateway_of(request)

    async def draw() -> bytes:
        answer = await gateway.ask(gateway.names.analytics_chart, {"name": name, "lang": language})
        return base64.b64decode(answer["png_base64"])

    png = await _charts.get((name, language, await gateway.head_height()), draw)
    headers = {"Cache-Control": "max-age=30", "Content-Language": language}
    if i18n.normalized(lang) is None:
        headers["Vary"] = "Accept-Language, Cookie"  # the language came from the asker
    return Response(png, media_type="image/png", headers=headers)
