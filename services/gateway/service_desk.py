"""The citizen's side of the one-stop service (一网通办): keys, enrolment, applying, following a
case, one's own licences as verifiable credentials, who read one's data, erasure.

Everything that needs the citizen's authority is signed **in the browser** with a key that
never leaves it (``static/govkeys.js``: WebCrypto Ed25519, non-extractable, in IndexedDB):
the sign-in challenge, ``license.applied``, ``personal_data.erased``. The pages here carry no
personal data (the browser fetches it with its bearer token from the JSON routes below), so
they can be cached and logged like any public page, and no URL carries a pseudonym.

**Licence credentials.** The ``business-license`` contract issues a licence as an on-chain
event, ``license.issued``, signed by the contract engine; nothing turns it into a W3C
verifiable credential. The gateway does, for the licence's applicant only: a VC 2.0
``BusinessLicenseCredential`` with an ``eddsa-jcs-2022`` proof by the gateway's own key (a
platform service named in genesis, so ``POST /api/v1/credentials/verify`` checks it against
the chain like any other), whose ``evidence`` names the ``license.issued`` event by source, id
and leaf hash. The gateway only transcribes: a verifier (the portal's credential check does it
in the browser) fetches that event, checks the contract engine's signature on it, its inclusion
proof up to the orderer-signed head from the pinned genesis, and that every claim equals the
event's data. The proof is dated with the event's time, and Ed25519 is deterministic, so the
credential is the same bytes each time it is downloaded. (The contract engine itself signing
the credential would be one signer fewer; its key is not reachable from its query API without
changing ``services/contract/service.py``. A licence revoked in the register gets no credential,
410 ``licence_revoked``.) On a gm chain the gateway's key is SM2 and ``eddsa-jcs-2022`` is
Ed25519: the gateway signs with its credentials key registered on chain, and the credential's
evidence also names the ``key.added`` event that registered it (:func:`credentials_key`).

**Erasure** is the citizen's own: ``personal_data.erased`` is an event type citizens may publish
(the on-chain policy), signed in the browser like the application; the registry then destroys
the person's data key (as ``govchain registry erase`` does from the command line).
"""

from __future__ import annotations

import io
import json
import re
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from govchain.crypto import CREDENTIAL_SUITE
from govchain.protocol.credentials import add_proof, make_credential
from govchain.protocol.did import did_for, verification_method_id
from govchain.protocol.eventref import parse_event_ref
from govchain.protocol.keys import SigningKey
from govchain.protocol.policy import CONTRACT_ENGINE
from govchain.protocol.records import RECORD_ID, LicenseIssued
from govchain.protocol.requests import AccessDenied
from govchain.protocol.validation import CREDENTIALS
from govchain.services.gateway import i18n
from govchain.services.gateway.api import GatewayDep, RequiredSession
from govchain.services.gateway.bodies import StrictJsonRoute
from govchain.services.gateway.context import GATEWAY, Gateway, api_error, denied
from govchain.services.gateway.errors import ERROR_RESPONSES
from govchain.services.gateway.limits import limiter, private_limit, public_limit
from govchain.services.gateway.portal import genesis_block, page, script_json
from govchain.services.gateway.sessions import Session

LICENCE_CONTRACT = "business-license"
"""The shipped contract whose cases a citizen applies for here (``services/contract/definitions``)."""
CONTRACT_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
CASE_KEY = RECORD_ID
QR_TEXT = r"^[\x21-\x7e]{1,256}$"
"""What the public QR route encodes: short printable ASCII (a public key, a key id), no more."""
SCRIPT_PREFIXES = ("service.", "check.")
"""Catalogue entries ``static/service.js`` shows: embedded in every page of this router."""

router = APIRouter(route_class=StrictJsonRoute)
"""Every route of this module, in one router (``app.py`` includes it; the hostile-input probes
read its routes): the pages under ``/service``, the JSON under ``/api/v1/me``."""
PAGE: dict[str, Any] = {"include_in_schema": False}
ME: dict[str, Any] = {"responses": ERROR_RESPONSES, "tags": ["me"]}


# -- the pages (no personal data in them: the browser fetches it with its token)


async def _page(request: Request, name: str, **context: Any) -> HTMLResponse:
    """A service page with what ``service.js`` needs: its messages, and the genesis block the
    browser's checks start from (pinned here by its hash, as the event pages pin it)."""
    genesis = await genesis_block(request)
    language = i18n.chosen_language(request)
    messages = {k: v for k, v in i18n.catalogue(language).items() if k.startswith(SCRIPT_PREFIXES)}
    data = {
        "chain_id": request.app.state.chain_id,
        "genesis_hash": genesis["hash"],
        "genesis_url": f"/genesis/{genesis['hash']}.json",
        "lang": language,
        "licence_contract": LICENCE_CONTRACT,
        **context.pop("script_data", {}),
    }
    return page(
        request,
        f"service/{name}.html",
        service_data=script_json(data),
        service_messages=script_json(messages),
        **context,
    )


@router.get("/service", response_class=HTMLResponse, **PAGE)
@limiter.limit(public_limit)
async def hub(request: Request) -> HTMLResponse:
    """一网通办: what a citizen can do here, and signing in."""
    return await _page(request, "hub", section="hub")


@router.get("/service/keys", response_class=HTMLResponse, **PAGE)
@limiter.limit(public_limit)
async def keys(request: Request) -> HTMLResponse:
    """Make or import the key on this device, and what to bring to a department's counter."""
    return await _page(request, "keys", section="keys")


@router.get("/service/apply", response_class=HTMLResponse, **PAGE)
@limiter.limit(public_limit)
async def apply(request: Request) -> HTMLResponse:
    """申请营业执照: pick the business, hash the documents here, sign and submit."""
    return await _page(request, "apply", section="apply")


@router.get("/service/cases/{contract_id}/{case_key}", response_class=HTMLResponse, **PAGE)
@limiter.limit(public_limit)
async def case(request: Request, contract_id: str, case_key: str) -> HTMLResponse:
    """One case, followed live; its details are fetched with the citizen's token."""
    _checked(contract_id, CONTRACT_ID, "a contract id is 1-64 of a-z, 0-9, '_' or '-'")
    _checked(case_key, CASE_KEY, "a case key is 1-64 letters, digits, '.', '_' or '-'")
    return await _page(
        request,
        "case",
        section="case",
        contract_id=contract_id,
        case_key=case_key,
        script_data={"contract_id": contract_id, "case_key": case_key},
    )


@router.get("/service/mine", response_class=HTMLResponse, **PAGE)
@limiter.limit(public_limit)
async def mine(request: Request) -> HTMLResponse:
    """我的服务: my cases, my credentials, who read my data, erasing my data."""
    return await _page(request, "mine", section="mine")


@router.get("/service/verify", response_class=HTMLResponse, **PAGE)
@limiter.limit(public_limit)
async def verify(request: Request) -> HTMLResponse:
    """Check a licence credential in this browser (the file is read here, never uploaded)."""
    return await _page(request, "verify", section="verify")


@router.get("/service/qr.svg", **PAGE)
@limiter.limit(public_limit)
async def qr(request: Request, text: Annotated[str, Query(max_length=256)]) -> Response:
    """A QR code of a short public text: the public key a citizen shows at the counter."""
    _checked(text, QR_TEXT, "a QR code here holds 1-256 printable ASCII characters")
    return _svg(text)


# -- the citizen's own data (JSON, with the bearer token of their signed-in session)


@router.get("/api/v1/me/cases", summary="My cases: the applications I am a party to, newest first", **ME)
@limiter.limit(private_limit)
async def my_cases(request: Request, gateway: GatewayDep, session: RequiredSession) -> dict[str, Any]:
    return await gateway.read(gateway.names.contract_cases_of, {"principal": session.principal})


@router.get("/api/v1/me/businesses", summary="The businesses registered in my name (what I may apply for)", **ME)
@limiter.limit(private_limit)
async def my_businesses(request: Request, gateway: GatewayDep, session: RequiredSession) -> dict[str, Any]:
    return await gateway.read(gateway.names.registry_businesses_of, {"owner": session.principal}, session)


class KeyHolderRequest(BaseModel):
    key_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    challenge: str = Field(max_length=1000, description="from POST /api/v1/auth/challenge")
    signature: str = Field(pattern=r"^[0-9a-f]{128}$", description="Ed25519 signature of the challenge's UTF-8 bytes")


@router.post(
    "/api/v1/me/principal",
    summary="Whose key is this? Told to the key's holder only (a signed challenge), so they need not type their id",
    description="A citizen's pseudonym is not shown to the public, so a key id alone gets no answer: the "
    "caller signs a fresh challenge with the key, which is then spent (sign in with another).",
    **ME,
)
@limiter.limit(public_limit)
async def my_principal(request: Request, gateway: GatewayDep, body: KeyHolderRequest) -> dict[str, Any]:
    try:
        nonce = gateway.sessions.check_challenge(body.challenge)
    except AccessDenied as exc:
        raise denied(exc) from None
    state = await gateway.key_state(body.key_id)
    record = state.keys.get(body.key_id)
    if record is None or not record.usable_at(state.height):
        raise api_error(404, "unknown_key", "this key is not a current key on chain (enrol it at a counter first)")
    if not record.public_key.verify(bytes.fromhex(body.signature), body.challenge.encode()):
        raise api_error(401, "unauthenticated", "the signature does not verify")
    try:
        gateway.challenges.check(nonce)  # a challenge is spent once
    except AccessDenied as exc:
        raise denied(exc) from None
    owner = state.principals.get(record.owner)
    return {"principal": record.owner, "kind": None if owner is None else owner.kind}


ApplicationId = Annotated[str, Path(max_length=64, pattern=RECORD_ID)]


@router.get(
    "/api/v1/me/licences/{application_id}/credential",
    summary="My licence as a W3C verifiable credential (eddsa-jcs-2022), with its on-chain evidence",
    description="409 `not_issued` while the application is not issued; 403 to anyone but its applicant.",
    **ME,
)
@limiter.limit(private_limit)
async def my_licence_credential(
    request: Request, gateway: GatewayDep, session: RequiredSession, application_id: ApplicationId
) -> JSONResponse:
    credential = await licence_credential(gateway, session, application_id)
    return JSONResponse(
        credential,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="licence-{application_id}.json"'},
    )


@router.get("/api/v1/me/licences/{application_id}/qr.svg", summary="My licence credential as a QR code (SVG)", **ME)
@limiter.limit(private_limit)
async def my_licence_qr(
    request: Request, gateway: GatewayDep, session: RequiredSession, application_id: ApplicationId
) -> Response:
    return _svg(credential_text(await licence_credential(gateway, session, application_id)))


async def licence_credential(gateway: Gateway, session: Session, application_id: str) -> dict[str, Any]:
    """The licence an applicant's ``business-license`` case issued, as a credential (see the
    module's docstring). 403 to anyone but the applicant; 409 ``not_issued`` before it is."""
    head = await gateway.newest_height()
    found = await gateway.read(
        gateway.names.contract_case, {"contract_id": LICENCE_CONTRACT, "case_key": application_id}, at=head
    )
    if await applicant_of(gateway, found) != session.principal:
        raise api_error(403, "forbidden", "a licence credential is issued to its applicant only")
    issued = next((r for r in found.get("results", []) if r.get("type") == "license.issued"), None)
    if found.get("state") != "issued" or issued is None:
        raise api_error(409, "not_issued", f"application {application_id} is {found.get('state')}, not issued")
    event = await gateway.event(issued["event_id"], CONTRACT_ENGINE)
    if not event["proof_verified"]:
        raise api_error(503, "proof_unavailable", f"the licence event does not check out yet: {event['proof_problem']}")
    await _not_revoked(gateway, event["event"].get("data", {}), head)
    key, key_evidence = await credentials_key(gateway)
    return build_licence_credential(
        event["event"],
        event["proof"],
        applicant=session.principal,
        chain_id=gateway.chain_id,
        gateway=gateway,
        key=key,
        key_evidence=key_evidence,
    )


async def credentials_key(gateway: Gateway) -> tuple[SigningKey, dict[str, Any] | None]:
    """The key the gateway signs licence credentials with, and the evidence of its registration.

    ``eddsa-jcs-2022`` is Ed25519 on every chain. On an intl chain that is the gateway's own key,
    named in genesis (no further evidence). On a gm chain the gateway's key is SM2, so it signs
    with its credentials key (``keys/gateway-credentials.pem``), which must be on chain for the
    gateway (``govchain identity add-credentials-key --owner gateway``), usable and of purpose
    ``credentials``; the ``key.added`` event that registered it is named as evidence, so a verifier
    checks the issuer's key on chain as it checks the licence. 503 ``not_ready`` otherwise."""
    if gateway.key.suite is CREDENTIAL_SUITE:
        return gateway.key, None
    path = gateway.credentials_key_file
    if path is None or not path.is_file():
        raise api_error(
            503,
            "not_ready",
            f"on a {gateway.suite.name} chain the gateway signs credentials with an Ed25519 credentials key; "
            "none is configured (govchain identity add-credentials-key --owner gateway --key keys/gateway.pem "
            "--new-key keys/gateway-credentials.pem)",
        )
    key = SigningKey.load(path)
    state = await gateway.key_state(key.key_id)
    record = state.keys.get(key.key_id)
    if record is None or record.owner != GATEWAY or record.purpose != CREDENTIALS or not record.usable_at(state.height):
        raise api_error(
            503,
            "not_ready",
            f"the gateway's credentials key {key.key_id} is not a usable credentials key of it on chain",
        )
    added = next(
        (
            event
            for event in (await gateway.block(record.added_height)).events
            if event.get("type") == "key.added" and event.get("data", {}).get("public_key") == key.public.hex
        ),
        None,
    )
    if added is None:
        raise api_error(503, "not_ready", f"no key.added event for {key.key_id} at height {record.added_height}")
    found = await gateway.event(added["id"], added["source"])
    if not found["proof_verified"]:
        raise api_error(503, "proof_unavailable", f"the key's event does not check out yet: {found['proof_problem']}")
    return key, {
        "id": f"urn:govchain:{gateway.chain_id}:event:{added['source']}/{added['id']}",
        "type": ["GovChainEvent"],
        "chainId": gateway.chain_id,
        "source": added["source"],
        "eventId": added["id"],
        "eventType": "key.added",
        "leafHash": found["proof"]["leaf_hash"],
    }


async def _not_revoked(gateway: Gateway, licence: dict[str, Any], head: int) -> None:
    """410 ``licence_revoked`` when the register says a registrar revoked the licence since
    (``license.revoked``): no credential is handed out for a licence that no longer holds."""
    business_id, license_id = licence.get("business_id"), licence.get("license_id")
    if not isinstance(business_id, str) or not isinstance(license_id, str):
        return
    record = await gateway.read(gateway.names.registry_business, {"id": business_id}, at=head)
    for held in record.get("licenses", []):
        if held.get("license_id") == license_id and held.get("status") == "revoked":
            raise api_error(
                410, "licence_revoked", f"licence {license_id} was revoked: {held.get('revocation_reason')}"
            )


async def applicant_of(gateway: Gateway, found: dict[str, Any]) -> str | None:
    """Who applied: the ``business-license`` case keeps no variables, so the answer is the
    ``license.applied`` event that opened it, read from its block (its signer is the applicant,
    or the contract rejected it: ``applicant_signed_it``)."""
    for step in found.get("history", []):
        ref, height = step.get("trigger_event_id"), step.get("height")
        if not isinstance(ref, str) or not isinstance(height, int):
            continue
        try:
            source, event_id = parse_event_ref(ref)
        except ValueError:
            continue
        for event in (await gateway.block(height)).events:
            if event.get("id") == event_id and source in (None, event.get("source")):
                applicant = event.get("data", {}).get("applicant")
                if event.get("type") == "license.applied" and applicant == event.get("source"):
                    return str(applicant)
                return None
    return None


def build_licence_credential(
    envelope: dict[str, Any],
    proof: dict[str, Any],
    *,
    applicant: str,
    chain_id: str,
    gateway: Gateway,
    key: SigningKey | None = None,
    key_evidence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The credential for one ``license.issued`` event on chain: claims copied from the event,
    evidence naming it, the proof dated with its time (so the same bytes every time). Signed by
    ``key`` (default: the gateway's own); ``key_evidence`` (a gm chain's, see
    :func:`credentials_key`) is added after the licence event's."""
    key = gateway.key if key is None else key
    if envelope.get("source") != CONTRACT_ENGINE or envelope.get("type") != "license.issued":
        raise api_error(409, "not_issued", "the case's result is not a licence the contract engine issued")
    licence = LicenseIssued.model_validate(envelope["data"])
    subject = {
        "id": did_for(applicant),
        "licenseNumber": licence.license_id,
        "licence": licence.kind,
        "businessId": licence.business_id,
        "applicationId": licence.application_id,
    }
    credential = make_credential(
        did_for(GATEWAY),
        subject,
        ["BusinessLicenseCredential"],
        credential_id=f"urn:govchain:{chain_id}:licence:{licence.license_id}",
        valid_from=f"{licence.valid_from}T00:00:00Z",
        valid_until=f"{licence.valid_until}T23:59:59Z",
    )
    credential["evidence"] = [
        {
            "id": f"urn:govchain:{chain_id}:event:{CONTRACT_ENGINE}/{envelope['id']}",
            "type": ["GovChainEvent"],
            "chainId": chain_id,
            "source": CONTRACT_ENGINE,
            "eventId": envelope["id"],
            "eventType": "license.issued",
            "leafHash": proof["leaf_hash"],
        }
    ]
    if key_evidence is not None:
        credential["evidence"].append(key_evidence)
    return add_proof(credential, key, verification_method_id(GATEWAY, key.key_id), created=envelope["time"])


def credential_text(credential: dict[str, Any]) -> str:
    """The credential as a QR code holds it: its JSON, compact (any JSON reader takes it)."""
    return json.dumps(credential, ensure_ascii=False, separators=(",", ":"))


def qr_svg(text: str) -> bytes:
    """``text`` as a QR code, a standalone SVG (segno; error correction M, L for long texts)."""
    code = segno.make(text, error="l" if len(text) > 256 else "m", micro=False)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=4, border=4, dark="#1d2733", light="#ffffff", xmldecl=True, svgns=True)
    return out.getvalue()


def _svg(text: str) -> Response:
    return Response(
        qr_svg(text),
        media_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=60", "X-Content-Type-Options": "nosniff"},
    )


def _checked(value: str, pattern: str, message: str) -> None:
    if not re.fullmatch(pattern, value):
        raise api_error(400, "bad_request", message)
