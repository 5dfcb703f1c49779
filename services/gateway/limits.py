"""Rate limits on public endpoints (slowapi), per client address."""

from __future__ import annotations

import os

from slowapi import Limiter
from slowapi.util import get_remote_address

limiter = Limiter(key_func=get_remote_address)


def public_limit() -> str:
    """The limit for public endpoints, e.g. ``120/minute`` (``GOVCHAIN_GATEWAY_RATE_LIMIT``)."""
    return os.environ.get("GOVCHAIN_GATEWAY_RATE_LIMIT", "120/minute")
