"""The public portal and block explorer: server-rendered pages over the same services.

Every page is rate-limited like the public API (``GOVCHAIN_GATEWAY_RATE_LIMIT``): a page costs
the services as much as the API calls behind it."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from govchain.bus import subjects
from govchain.protocol.envelope import EVENT_ID_PATTERN
from govchain.protocol.proofs import inclusion_problem
from govchain.services.gateway.context import gateway_of
from govchain.services.gateway.limits import limiter, public_limit

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
router = APIRouter(include_in_schema=False)
UPLOAD_CHUNK_BYTES = 1024 * 1024

CHARTS = (
    ("processing", "Processing time, applied → decided"),
    ("comparison", "Before and after: manual process vs GovChain"),
    ("throughput", "Throughput"),
    ("rejections", "Rejections by reason"),
)


def page(request: Request, name: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"chain_id": request.app.state.chain_id, **context})


@router.get("/", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def index(request: Request) -> HTMLResponse:
    gateway = gateway_of(request)
    newest = await gateway.head_height()
    blocks = [await gateway.block(h) for h in range(newest, max(newest - 15, -1), -1)]
    return page(request, "index.html", blocks=[{"hash": b.hash, **b.header.model_dump()} for b in blocks])


@router.get("/search")
@limiter.limit(public_limit)
async def search(request: Request, q: Annotated[str, Query(max_length=100)]) -> Response:
    q = q.strip()
    if q.isdigit():
        return RedirectResponse(f"/blocks/{int(q)}", status_code=303)
    gateway = gateway_of(request)
    receipt = await gateway.ask(subjects.LEDGER_RECEIPT, {"event_id": q}) if _looks_like_event_id(q) else None
    if receipt and receipt["status"] == "committed":
        return RedirectResponse(f"/events/{q}", status_code=303)
    return RedirectResponse(f"/registry?q={q}", status_code=303)


def _looks_like_event_id(value: str) -> bool:
    return re.fullmatch(EVENT_ID_PATTERN, value) is not None  # str.isalnum() also takes 数据, é, ...


@router.get("/blocks/{height}", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def block(request: Request, height: int) -> HTMLResponse:
    found = await gateway_of(request).block(height)
    return page(request, "block.html", header=found.header.model_dump(), hash=found.hash,
                signature=found.signature, events=found.events)


@router.get("/events/{event_id}", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def event(request: Request, event_id: str) -> HTMLResponse:
    gateway = gateway_of(request)
    receipt = await gateway.ask(subjects.LEDGER_RECEIPT, {"event_id": event_id})
    if receipt["status"] != "committed":
        raise HTTPException(404, detail={"code": "not_found", "message": f"event {event_id} is not on chain"})
    found = await gateway.block(receipt["height"])
    proof = await gateway.ask(subjects.LEDGER_PROOF, {"event_id": event_id})
    problem = inclusion_problem(proof, gateway.orderer_keys)
    envelope = found.events[receipt["position"]]
    return page(request, "event.html", event=envelope, event_json=json.dumps(envelope, indent=2, ensure_ascii=False),
                receipt=receipt, proof=proof, proof_verified=problem is None, proof_problem=problem)


@router.get("/registry", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def registry(request: Request, q: Annotated[str | None, Query(max_length=100)] = None) -> HTMLResponse:
    gateway = gateway_of(request)
    found = None if q is None else (await gateway.ask(subjects.REGISTRY_BUSINESSES, {"text": q}))["records"]
    directory = (await gateway.ask(subjects.REGISTRY_DEPARTMENTS, {}))["departments"]
    return page(request, "registry.html", q=q or "", businesses=found, departments=directory)


@router.get("/registry/parcel", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def parcel(request: Request, id: Annotated[str, Query(max_length=64)]) -> HTMLResponse:
    answer = await gateway_of(request).ask(subjects.REGISTRY_PARCEL, {"id": id})
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
    answer = await gateway.ask(subjects.REGISTRY_DOCUMENT, {"sha256": digest, "with_proofs": True})
    verified = bool(answer["proofs"]) and all(inclusion_problem(p, gateway.orderer_keys) is None for p in answer["proofs"])
    return page(request, "verify.html", result={"sha256": digest, **answer}, proofs_verified=verified)


@router.get("/analytics", response_class=HTMLResponse)
@limiter.limit(public_limit)
async def analytics(request: Request) -> HTMLResponse:
    try:
        await gateway_of(request).ask(subjects.ANALYTICS_SUMMARY, {})
        available = True
    except HTTPException:
        available = False
    return page(request, "analytics.html", available=available, charts=CHARTS)


@router.get("/charts/{name}.png")
@limiter.limit(public_limit)
async def chart(request: Request, name: str) -> Response:
    if name not in {n for n, _ in CHARTS}:
        raise HTTPException(404, detail={"code": "not_found", "message": f"no chart {name}"})
    answer = await gateway_of(request).ask(subjects.ANALYTICS_CHART, {"name": name})
    return Response(base64.b64decode(answer["png_base64"]), media_type="image/png",
                    headers={"Cache-Control": "max-age=30"})
