"""The GovChain JSON-LD context, served where credentials name it.

Credentials GovChain issues carry ``@context: [VC 2.0, GOVCHAIN_CONTEXT]``; the second names
the context document that ships in the package
(``govchain/protocol/contexts/govchain-v1.jsonld``). Every gateway serves exactly those bytes
at ``/contexts/govchain/v1``, the path of the context's identifier, so anyone can read, hash
and pin the terms a credential uses. The document never changes within a version: it is sent
with an ``ETag`` (its SHA-256), answered with 304 on a matching ``If-None-Match``, cacheable
by anyone, and open to cross-origin reads (a JSON-LD processor in a browser fetches it).
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response

from govchain.protocol.credentials import GOVCHAIN_CONTEXT, govchain_context_bytes
from govchain.services.gateway.limits import limiter, public_limit

JSON_LD = "application/ld+json"
CONTEXT_PATH = urlsplit(GOVCHAIN_CONTEXT).path  # /contexts/govchain/v1

router = APIRouter(tags=["credentials"])

_BODY = govchain_context_bytes()
_ETAG = f'"sha256-{hashlib.sha256(_BODY).hexdigest()}"'
_HEADERS = {
    "ETag": _ETAG,
    "Cache-Control": "public, max-age=86400",
    "Access-Control-Allow-Origin": "*",
}


@router.api_route(
    CONTEXT_PATH,
    methods=["GET", "HEAD"],
    summary="The GovChain JSON-LD context (credential types and claims)",
    response_class=Response,
    responses={200: {"content": {JSON_LD: {}}}, 304: {"description": "Not modified"}},
)
@limiter.limit(public_limit)
async def govchain_context(request: Request) -> Response:
    if _ETAG in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=_HEADERS)
    return Response(content=_BODY, media_type=JSON_LD, headers=_HEADERS)
