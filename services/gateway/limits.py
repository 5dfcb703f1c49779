"""Rate limits (slowapi), per client address, on every endpoint open to the network.

Three budgets, each a `limits` string such as ``120/minute`` (several: ``10/second;300/hour``),
read from the environment when a request arrives so an operator can change them without code:

* ``GOVCHAIN_GATEWAY_RATE_LIMIT`` (default ``120/minute``): public reads (chain, registry,
  verification) and signing in;
* ``GOVCHAIN_GATEWAY_SUBMIT_RATE_LIMIT`` (default ``60/minute``): ``POST /api/v1/events``, which
  anyone may call and which costs a publish and a receipt wait each (a department loading in
  bulk publishes over NATS with the SDK instead);
* ``GOVCHAIN_GATEWAY_PRIVATE_RATE_LIMIT`` (default ``60/minute``): application status and the
  signed-in ``/me`` endpoints, which ask other services on the caller's behalf.

Each endpoint keeps its own count per client. Behind a reverse proxy every request comes from
the proxy, so the client address is then taken from ``X-Forwarded-For`` — only when
``GOVCHAIN_GATEWAY_TRUST_PROXY=1`` says a trusted proxy sets it (otherwise anyone could pick
their own address and escape the limit). A refusal is HTTP 429 with reason code
``rate_limited`` and a ``Retry-After`` header.
"""

from __future__ import annotations

import os

from slowapi import Limiter
from slowapi.util import get_remote_address
from starlette.requests import Request

PUBLIC_LIMIT_ENV = "GOVCHAIN_GATEWAY_RATE_LIMIT"
SUBMIT_LIMIT_ENV = "GOVCHAIN_GATEWAY_SUBMIT_RATE_LIMIT"
PRIVATE_LIMIT_ENV = "GOVCHAIN_GATEWAY_PRIVATE_RATE_LIMIT"


def trust_proxy() -> bool:
    """``GOVCHAIN_GATEWAY_TRUST_PROXY=1``: a trusted reverse proxy sets ``X-Forwarded-For``."""
    return os.environ.get("GOVCHAIN_GATEWAY_TRUST_PROXY") == "1"


def client_address(request: Request) -> str:
    if trust_proxy():
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return get_remote_address(request)


limiter = Limiter(key_func=client_address)


def public_limit() -> str:
    """The limit for public endpoints, e.g. ``120/minute`` (``GOVCHAIN_GATEWAY_RATE_LIMIT``)."""
    return os.environ.get(PUBLIC_LIMIT_ENV, "120/minute")


def submit_limit() -> str:
    """The limit for submitting events (``GOVCHAIN_GATEWAY_SUBMIT_RATE_LIMIT``)."""
    return os.environ.get(SUBMIT_LIMIT_ENV, "60/minute")


def private_limit() -> str:
    """The limit for application status and ``/me`` (``GOVCHAIN_GATEWAY_PRIVATE_RATE_LIMIT``)."""
    return os.environ.get(PRIVATE_LIMIT_ENV, "60/minute")


def max_upload_bytes() -> int:
    """The biggest document POST /documents/verify hashes (``GOVCHAIN_GATEWAY_MAX_UPLOAD_BYTES``)."""
    return int(os.environ.get("GOVCHAIN_GATEWAY_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)))
