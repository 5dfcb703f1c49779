"""Rate limits on public endpoints (slowapi), per client address.

Behind a reverse proxy every request comes from the proxy, so the client address is then
taken from ``X-Forwarded-For`` — only when ``GOVCHAIN_GATEWAY_TRUST_PROXY=1`` says a trusted
proxy sets it (otherwise anyone could pick their own address and escape the limit).
"""

from __future__ import annotations

import os

from slowapi import Limiter
from slowapi.util import get_remote_address
from starlette.requests import Request


def client_address(request: Request) -> str:
    if os.environ.get("GOVCHAIN_GATEWAY_TRUST_PROXY") == "1":
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return get_remote_address(request)


limiter = Limiter(key_func=client_address)


def public_limit() -> str:
    """The limit for public endpoints, e.g. ``120/minute`` (``GOVCHAIN_GATEWAY_RATE_LIMIT``)."""
    return os.environ.get("GOVCHAIN_GATEWAY_RATE_LIMIT", "120/minute")
