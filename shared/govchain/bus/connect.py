"""Connecting to NATS with the settings' credentials.

A URL may name several servers separated by commas (a cluster): the client fails over
between them.
"""

from __future__ import annotations

import logging
from typing import Any

import nats
from faststream.nats import NatsBroker
from faststream.security import SASLPlaintext
from nats.aio.client import Client

from govchain.bus.requests_total import total_request_options
from govchain.bus.subjects import inbox_prefix
from govchain.config import Settings
from govchain.logs import get_logger

log = get_logger(__name__)


def servers(url: str) -> list[str]:
    """``nats://a:4222,nats://b:4222`` → each server URL."""
    found = [part.strip() for part in url.split(",") if part.strip()]
    if not found:
        raise ValueError("no NATS server URL given")
    return found


def _password(settings: Settings) -> str:
    return settings.nats_password.get_secret_value() if settings.nats_password else ""


CLI_CONNECT_ATTEMPTS = 6
"""A command gives up after this many attempts per server (about 3 s): a person is waiting."""


async def _log_nats_error(exc: Exception) -> None:
    """One line per failed attempt, never a traceback: nats-py's default logs each with one."""
    log.warning("nats connection error", error=f"{type(exc).__name__}: {exc}")


async def _debug_nats_error(exc: Exception) -> None:
    """A command says once, in its own words, that NATS is unreachable: attempts stay quiet."""
    log.debug("nats connection error", error=f"{type(exc).__name__}: {exc}")


async def connect(url: str, settings: Settings | None = None, *, name: str = "govchain", attempts: int = -1) -> Client:
    """A connection to ``url``. Services retry for ever (``attempts`` -1); a command passes
    :data:`CLI_CONNECT_ATTEMPTS` and gets ``nats.errors.NoServersError`` when none answers."""
    options: dict[str, object] = {
        "name": name,
        "max_reconnect_attempts": attempts,
        "connect_timeout": 5,
        "reconnect_time_wait": 0.5,
        "error_cb": _log_nats_error if attempts < 0 else _debug_nats_error,
    }
    if settings and settings.nats_user:
        options["user"] = settings.nats_user
        options["password"] = _password(settings)
        options["inbox_prefix"] = inbox_prefix(settings.nats_user)
    return await nats.connect(servers(url), **options)


def make_broker(url: str, settings: Settings, *, name: str) -> NatsBroker:
    """A FastStream broker for a service's request/reply API; per-message logs at DEBUG.

    Every request subject on it is total (:mod:`govchain.bus.requests_total`): any body gets
    the handler's answer or a typed refusal, never silence."""
    security = None
    options: dict[str, Any] = {}
    if settings.nats_user:
        security = SASLPlaintext(username=settings.nats_user, password=_password(settings))
        options["inbox_prefix"] = inbox_prefix(settings.nats_user)
    return NatsBroker(
        servers(url),
        name=name,
        security=security,
        log_level=logging.DEBUG,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        **total_request_options(),
        **options,
    )
