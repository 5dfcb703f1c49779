"""The gateway's JSON API (OpenAPI at /docs): chain and proofs, submitting signed events,
application status, registry queries, document and credential checks, and a person's own
data and access log after they prove control of their key."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from govchain.protocol.batch import open_batch
from govchain.protocol.envelope import PRINCIPAL_PATTERN, parse_event
from govchain.protocol.errors import EventRejected, RejectionReason
from govchain.protocol.eventref import parse_event_ref
from govchain.protocol.multikey import public_key_from_multibase
from govchain.protocol.proofs import consistency_problem, inclusion_problem
from govchain.protocol.requests import AccessDenied
from govchain.services.gateway.bodies import StrictJsonRoute
from govchain.services.gateway.context import (
    Gateway,
    OptionalSession,
    api_error,
    checked_event_id,
    checked_source,
    denied,
    gateway_of,
    shown_error,
)
from govchain.services.gateway.errors import ERROR_RESPONSES, ApiError
from govchain.services.gateway.limits import limiter, max_upload_bytes, private_limit, public_limit, submit_limit
from govchain.services.gateway.sessions import Session
from govchain.services.gateway.visibility import shown_to

Opened = TypeVar("Opened")

router = APIRouter(prefix="/api/v1", route_class=StrictJsonRoute, responses=ERROR_RESPONSES)
SHA256 = r"^[0-9a-f]{64}$"


def _gateway(request: Request) -> Gateway:
    return gateway_of(request)


GatewayDep = Annotated[Gateway, Depends(_gateway)]


def _required_session(session: OptionalSession) -> Session:
    if session is None:
        raise api_error(401, "unauthenticated", "sign in first: POST /api/v1/auth/challenge, then /auth/session")
    return session


RequiredSession = Annotated[Session, Depends(_required_session)]


# -- chain and proofs


@router.get("/chain/head", tags=["chain"], summary="The newest block's signed header")
@limiter.limit(public_limit)
async def head(request: Request, gateway: GatewayDep) -> dict[str, Any]:
    return await gateway.ask(gateway.names.ledger_head, {})


@router.get("/blocks", tags=["chain"], summary="Block headers, newest first")
@limiter.limit(public_limit)
async def blocks(
    request: Request,
    gateway: GatewayDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[int | None, Query(ge=0, description="only blocks below this height")] = None,
) -> dict[str, Any]:
    newest = await gateway.head_height()
    top = newest if before is None else min(newest, before - 1)
    heights = range(top, max(top - limit, -1), -1)
    found = await asyncio.gather(*(gateway.block(h) for h in heights))
    return {"blocks": [{"hash": b.hash, **b.header.model_dump()} for b in found], "newest": newest}


REDACTION = (
    "Anyone sees every event, but not the fields that link a person's events: a citizen's "
    "pseudonym (`owner`, `from_owner`, `to_owner`, an applicant, a citizen as source) and a citizen's key "
    'id are replaced by `{"redacted": true}`, and `redacted_fields` lists their paths. Officers and '
    "auditors signed in (`Authorization: Bearer`) see them. The gateway checks each proof against the "
    "full event before redacting it."
)


@router.get(
    "/blocks/{height}",
    tags=["chain"],
    summary="A block: its signed header and its events",
    description=REDACTION + " `leaf_hashes` (of the full events) let anyone recompute `events_root`.",
)
@limiter.limit(public_limit)
async def block(request: Request, gateway: GatewayDep, height: int, session: OptionalSession) -> dict[str, Any]:
    found = await gateway.block(height)
    answer = {
        "hash": found.hash,
        "signature": found.signature,
        "header": found.header.model_dump(),
        "events": found.events,
        "leaf_hashes": [h.hex() for h in found.leaf_hashes()],
    }
    return shown_to(await gateway.viewer(session), answer)


@router.get(
    "/events/{source}/{event_id}",
    tags=["chain"],
    summary="An event, named by its source and id, with its receipt and its inclusion proof, checked",
    description=REDACTION,
)
@limiter.limit(public_limit)
async def event(
    request: Request, gateway: GatewayDep, source: str, event_id: str, session: OptionalSession
) -> dict[str, Any]:
    return shown_to(await gateway.viewer(session), await gateway.event(event_id, source))


@router.get(
    "/events/{source}/{event_id}/proof", tags=["chain"], summary="RFC 9162 inclusion proof against a signed head"
)
@limiter.limit(public_limit)
async def proof(
    request: Request,
    gateway: GatewayDep,
    source: str,
    event_id: str,
    session: OptionalSession,
    at_height: Annotated[int | None, Query(ge=0)] = None,
) -> dict[str, Any]:
    answer = await gateway.ask(
        gateway.names.ledger_proof,
        {"event_id": checked_event_id(event_id), "source": checked_source(source), "at_height": at_height},
    )
    verified = inclusion_problem(answer, gateway.orderer_keys) is None
    return shown_to(await gateway.viewer(session), {**answer, "verified": verified})


@router.get("/consistency", tags=["chain"], summary="RFC 9162 consistency proof between two signed heads")
@limiter.limit(public_limit)
async def consistency(
    request: Request,
    gateway: GatewayDep,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int, Query(ge=0)],
) -> dict[str, Any]:
    answer = await gateway.ask(gateway.names.ledger_consistency, {"first_height": first, "second_height": second})
    return {**answer, "verified": consistency_problem(answer, gateway.orderer_keys) is None}


@router.get(
    "/events/{event_id}",
    tags=["chain"],
    summary="An event by its id alone, when one source alone used that id",
    description="As `GET /events/{source}/{event_id}`. An event is named by its source and its id "
    "(CloudEvents): when several sources used this id, the answer is 409 `ambiguous_id` "
    "with the candidate `sources`.",
    responses={
        409: {
            "model": ApiError,
            "description": "`ambiguous_id`: several sources used this id; `error.sources` names them",
        }
    },
)
@limiter.limit(public_limit)
async def event_by_id(request: Request, gateway: GatewayDep, event_id: str, session: OptionalSession) -> dict[str, Any]:
    viewer = await gateway.viewer(session)
    try:
        found = await gateway.event(event_id, None)
    except HTTPException as exc:
        raise shown_error(exc, viewer) from None
    return shown_to(viewer, found)


# -- submitting


SIGNER_CHECK = (
    "Before publishing, the gateway checks the signer and the signature as the orderer will, against "
    "the key as the chain knows it at its newest block: a refusal is HTTP 422 with the orderer's "
    "reason code, and nothing is published. When the identity service does not answer, the "
    "answer is 503 `unavailable`: nothing is published unchecked. The ledger still judges every "
    "event itself."
)


def _signed_json_body(description: str) -> dict[str, Any]:
    """OpenAPI for a body the route reads as raw bytes: FastAPI does not parse it, the kernel's
    intake does (the same checks, in the same order, as the orderer's)."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }


@router.post(
    "/events",
    tags=["submit"],
    status_code=201,
    summary="Submit a signed event (a department's record, a citizen's application)",
    description=SIGNER_CHECK,
    responses={
        202: {"description": "accepted, not yet ordered (poll GET /events/{source}/{id})"},
        400: {
            "description": "not a signed envelope, with the ledger's reason code "
            "(`malformed_envelope`, `oversized`, ...)"
        },
        409: {"description": "the id is already used by another event of this source on chain"},
        422: {
            "description": "refused, not published: signer or signature (`unknown_key`, "
            "`signer_not_of_source`, `bad_signature`, `key_revoked`); or refused "
            "by the ledger, with its reason code"
        },
        429: {"description": "too many submissions from this client"},
    },
    openapi_extra=_signed_json_body("the signed envelope, as the SDK produces it"),
)
@limiter.limit(submit_limit)
async def submit(
    request: Request,
    gateway: GatewayDep,
    wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait for the block")] = 20,
) -> Any:
    signed, forms = await _opened(request, parse_event)
    await gateway.check_signer(signed, forms.signing)
    await gateway.client.publish(signed)
    try:  # the verdict on these bytes, not on someone else's message under the same id
        receipt = await gateway.client.wait_receipt(signed.id, signed.source, wait, wire=signed.to_bytes())
    except TimeoutError:
        return _pending(source=signed.source, event_id=signed.id)
    if receipt["status"] == "rejected":
        if receipt["reason"] == RejectionReason.CONFLICTING_ID.value:  # another event holds the id on chain
            raise api_error(409, receipt["reason"], receipt["detail"])
        raise _refused(receipt)
    return receipt


@router.post(
    "/events/batch",
    tags=["submit"],
    summary="Submit a batch envelope: up to 1,024 events of one department, signed once",
    description=SIGNER_CHECK,
    responses={
        200: {"description": "every event decided: a receipt each (committed or rejected), in batch order"},
        202: {"description": "accepted, not all ordered yet (poll GET /events/{source}/{id})"},
        400: {"description": "not a batch envelope, with the reason"},
        422: {
            "description": "the batch was refused as a whole, with its reason code (the signer "
            "and signature checks before publishing: `unknown_key`, "
            "`signer_not_of_source`, `bad_signature`, `key_revoked`)"
        },
        429: {"description": "too many submissions from this client"},
    },
    openapi_extra=_signed_json_body("the batch envelope, as sign_batch produces it"),
)
@limiter.limit(submit_limit)
async def submit_batch(
    request: Request,
    gateway: GatewayDep,
    wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait for the blocks")] = 20,
) -> Any:
    signed, opened = await _opened(request, open_batch)
    first, forms = opened[0]  # one source, one signer, one signature over the root: one check
    await gateway.check_signer(first, forms.signing, batch_root=forms.batch_root)
    try:
        receipts = await gateway.client.submit_batch(signed, wait)
    except TimeoutError:
        return _pending(batch_id=signed.msg_id)
    whole = receipts[0].get("batch_id") if receipts else None
    if whole is not None:
        raise _refused(receipts[0])
    return {"batch_id": signed.msg_id, "receipts": receipts}


async def _opened(request: Request, opener: Callable[[bytes], Opened]) -> Opened:
    """The body opened by ``opener`` (an event or a batch parser); 400 with the ledger's own
    reason code when it is not one, so a client sees the refusal the orderer would give."""
    try:
        return opener(await request.body())
    except EventRejected as exc:
        raise api_error(400, exc.reason.value, exc.detail) from None


def _pending(**names: str) -> JSONResponse:
    """Published, no verdict within the wait: the client polls the event (or batch) named."""
    return JSONResponse({**names, "status": "pending"}, status_code=202)


def _refused(receipt: dict[str, Any]) -> HTTPException:
    """The ledger's refusal of what was published, with its reason code."""
    return api_error(422, receipt["reason"], receipt["detail"])


CASE_PUBLIC_FIELDS = ("contract_id", "case_key", "version", "state", "entered_at", "updated_height")


@router.get(
    "/applications/{contract_id}/{case_key}",
    tags=["submit"],
    summary="Status of an application (a contract case); its details to its parties only",
    description="Anyone sees the state and when it changed. The case's variables (who, what, "
    "for how much), the events that moved it and its results are shown only to a "
    "signed-in party to the case or an officer of a department it involves.",
)
@limiter.limit(private_limit)
async def application(
    request: Request,
    gateway: GatewayDep,
    session: OptionalSession,
    contract_id: Annotated[str, Path(max_length=64)],
    case_key: Annotated[str, Path(max_length=128)],
) -> dict[str, Any]:
    case = await gateway.read(gateway.names.contract_case, {"contract_id": contract_id, "case_key": case_key})
    if session is not None:
        involved = await _involved_in_case(gateway, case)
        seen_as = await _case_standing(gateway, session, involved)
        if seen_as is not None:
            return {**case, "visibility": seen_as}
    return {
        **{name: case.get(name) for name in CASE_PUBLIC_FIELDS},
        "history": [{k: step.get(k) for k in ("height", "step", "state")} for step in case.get("history", [])],
        "visibility": "public",
    }


def _named(value: Any) -> set[str]:
    """Every string a case variable or event payload holds (ids of the people and departments it names)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_named(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_named(v) for v in value))
    return set()


async def _involved_in_case(gateway: Gateway, case: dict[str, Any]) -> set[str]:
    """The principals a case involves: those its variables name, and the signers of the events
    that moved it and those those events name (an applicant, the approving departments)."""
    involved = _named(case.get("vars", {}))

    async def trigger(height: int, ref: str) -> dict[str, Any] | None:
        # The step's block holds its trigger, named source/id (a bare id in rows from before the
        # contract engine named sources); a deadline's step names no event and matches none.
        try:
            source, event_id = parse_event_ref(ref)
        except ValueError:
            return None
        events = (await gateway.block(height)).events
        matches = [e for e in events if e.get("id") == event_id and source in (None, e.get("source"))]
        return matches[0] if len(matches) == 1 else None  # another source's same id never counts

    steps = {
        (step["height"], step["trigger_event_id"])
        for step in case.get("history", [])
        if step.get("trigger_event_id") and isinstance(step.get("height"), int)
    }
    for event in await asyncio.gather(*(trigger(height, ref) for height, ref in sorted(steps))):
        if event is not None:
            involved |= {event["source"]} | _named(event.get("data", {}))
    return involved


async def _case_standing(gateway: Gateway, session: Session, involved: set[str]) -> str | None:
    """``party`` or ``officer`` when the signed-in principal may see a case's details, else None."""
    if session.principal in involved:
        return "party"
    resolved = await gateway.read(gateway.names.identity_resolve, {"did": f"did:govchain:{session.principal}"})
    document, metadata = resolved.get("didDocument") or {}, resolved.get("didDocumentMetadata") or {}
    if metadata.get("deactivated"):
        return None
    controller = str(document.get("controller", ""))
    if metadata.get("kind") == "official" and controller.removeprefix("did:govchain:") in involved:
        return "officer"
    return None


# -- registry, documents, credentials


@router.get("/registry/businesses", tags=["registry"], summary="Search businesses by name (public fields)")
@limiter.limit(public_limit)
async def businesses(
    request: Request, gateway: GatewayDep, q: Annotated[str, Query(max_length=100)] = ""
) -> dict[str, Any]:
    return await gateway.read(gateway.names.registry_businesses, {"text": q})


def _record_params(record_id: str, purpose: str | None, proofs: bool) -> dict[str, Any]:
    params: dict[str, Any] = {"id": record_id, "with_proofs": proofs}
    if purpose is not None:
        params["purpose"] = purpose
    return params


Purpose = Annotated[str | None, Query(max_length=300, description="why an officer reads personal data (recorded)")]


@router.get(
    "/registry/businesses/{business_id}",
    tags=["registry"],
    summary="A business; signed in, its owner sees their details, an officer too with a purpose (recorded)",
)
@limiter.limit(public_limit)
async def business(
    request: Request,
    gateway: GatewayDep,
    business_id: str,
    session: OptionalSession,
    purpose: Purpose = None,
    proofs: bool = False,
) -> dict[str, Any]:
    return await gateway.read(gateway.names.registry_business, _record_params(business_id, purpose, proofs), session)


@router.get("/registry/parcels/{parcel_id}", tags=["registry"], summary="A land parcel and its ordered history")
@limiter.limit(public_limit)
async def parcel(
    request: Request,
    gateway: GatewayDep,
    parcel_id: str,
    session: OptionalSession,
    purpose: Purpose = None,
    proofs: bool = False,
) -> dict[str, Any]:
    return await gateway.read(gateway.names.registry_parcel, _record_params(parcel_id, purpose, proofs), session)


@router.get("/registry/departments", tags=["registry"], summary="The department directory")
@limiter.limit(public_limit)
async def departments(request: Request, gateway: GatewayDep) -> dict[str, Any]:
    return await gateway.read(gateway.names.registry_departments, {})


@router.get("/registry/catalog", tags=["registry"], summary="Data sets shared by departments, as you may read them")
@limiter.limit(public_limit)
async def catalog(request: Request, gateway: GatewayDep, session: OptionalSession) -> dict[str, Any]:
    return await gateway.read(gateway.names.registry_catalog, {}, session)


@router.get("/documents/{sha256}", tags=["registry"], summary="Is a document (by its SHA-256) registered, by whom?")
@limiter.limit(public_limit)
async def document(
    request: Request,
    gateway: GatewayDep,
    sha256: Annotated[str, Path(pattern=SHA256)],
    proofs: bool = True,
) -> dict[str, Any]:
    return await gateway.read(gateway.names.registry_document, {"sha256": sha256, "with_proofs": proofs})


@router.post("/documents/verify", tags=["registry"], summary="Upload a document; only its hash is looked up")
@limiter.limit(public_limit)
async def verify_upload(request: Request, gateway: GatewayDep, file: UploadFile) -> dict[str, Any]:
    limit = max_upload_bytes()
    hasher, size = hashlib.sha256(), 0
    while chunk := await file.read(1 << 20):
        size += len(chunk)
        if size > limit:
            raise api_error(
                413,
                "too_large",
                f"a document to check may be at most {limit} bytes; "
                "hash a bigger one yourself and use GET /documents/{sha256}",
            )
        hasher.update(chunk)
    digest = hasher.hexdigest()
    answer = await gateway.read(gateway.names.registry_document, {"sha256": digest, "with_proofs": True})
    return {"sha256": digest, **answer}


@router.post("/credentials/verify", tags=["registry"], summary="Verify a W3C verifiable credential against the chain")
@limiter.limit(public_limit)
async def verify_credential(
    request: Request,
    gateway: GatewayDep,
    credential: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    return await gateway.read(gateway.names.identity_verify_credential, {"credential": credential})


# -- signing in, and one's own data


class SessionRequest(BaseModel):
    principal: str = Field(pattern=PRINCIPAL_PATTERN, examples=["c-0123456789abcdef0123456789abcdef"])
    key_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    challenge: str
    signature: str = Field(pattern=r"^[0-9a-f]{128}$", description="Ed25519 signature of the challenge's UTF-8 bytes")


@router.post("/auth/challenge", tags=["me"], summary="A challenge to sign with your key")
@limiter.limit(public_limit)
async def challenge(request: Request, gateway: GatewayDep) -> dict[str, str]:
    return {"challenge": gateway.sessions.challenge()}


@router.post("/auth/session", tags=["me"], summary="Exchange a signed challenge for a short-lived bearer token")
@limiter.limit(public_limit)
async def session(request: Request, gateway: GatewayDep, body: SessionRequest) -> dict[str, Any]:
    try:
        nonce = gateway.sessions.check_challenge(body.challenge)
    except AccessDenied as exc:
        raise denied(exc) from None
    resolved = await gateway.read(gateway.names.identity_resolve, {"did": f"did:govchain:{body.principal}"})
    document = resolved.get("didDocument") or {}
    method = next((m for m in document.get("verificationMethod", []) if m["id"].endswith(f"#{body.key_id}")), None)
    if method is None:
        raise api_error(401, "unauthenticated", f"{body.key_id} is not a current key of {body.principal}")
    key = public_key_from_multibase(method["publicKeyMultibase"])
    if not key.verify(bytes.fromhex(body.signature), body.challenge.encode()):
        raise api_error(401, "unauthenticated", "the signature does not verify")
    try:
        gateway.challenges.check(nonce)  # a challenge signs in once
    except AccessDenied as exc:
        raise denied(exc) from None
    token, issued = gateway.sessions.issue(body.principal, body.key_id)
    return {"token": token, "principal": issued.principal, "expires": issued.expires}


@router.get("/me/access-log", tags=["me"], summary="Who read my personal data, when and why")
@limiter.limit(private_limit)
async def my_access_log(request: Request, gateway: GatewayDep, session: RequiredSession) -> dict[str, Any]:
    # Up to the newest block: a read recorded a moment ago is in the log it answers with.
    return await gateway.read(gateway.names.registry_access_log, {"subject": session.principal}, session)


@router.get("/me", tags=["me"], summary="My identity as the chain knows it")
@limiter.limit(private_limit)
async def me(request: Request, gateway: GatewayDep, session: RequiredSession) -> dict[str, Any]:
    return await gateway.read(gateway.names.identity_resolve, {"did": f"did:govchain:{session.principal}"})
