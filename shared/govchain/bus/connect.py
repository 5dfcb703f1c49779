"""Connecting to NATS with the settings' credentials."""

from __future__ import annotations

import logging

import nats
from faststream.nats import NatsBroker
from faststream.security import SASLPlaintext
from nats.aio.client import Client

from govchain.config import Settings


async def connect(url: str, settings: Settings | None = None, *, name: str = "govchain") -> Client:
    options: dict[str, object] = {"name": name, "max_reconnect_attempts": -1, "connect_timeout": 5}
    if settings and settings.nats_user:
        options["user"] = settings.nats_user
        options["password"] = settings.nats_password
    return await nats.connect(url, **options)


def make_broker(url: str, settings: Settings, *, name: str) -> NatsBroker:
    """A FastStream broker for a service's request/reply API; per-message logs at DEBUG."""
    security = None
    if settings.nats_user:
        security = SASLPlaintext(username=settings.nats_user, password=settings.nats_password or "")
    return NatsBroker(url, name=name, security=security, log_level=logging.DEBUG, max_reconnect_attempts=-1)
