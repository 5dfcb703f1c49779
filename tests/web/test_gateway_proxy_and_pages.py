"""Who a client is, for the rate limits: the socket's address unless a trusted proxy names it;
and the portal's pages are limited like the API."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request

from govchain.bus.embedded import free_port
from govchain.services.gateway.limits import client_address
from govchain.services.gateway.service import EmbeddedServer, server_config

from .conftest import Platform


def _echo_app() -> FastAPI:
    app = FastAPI()

    @app.get("/who")
    async def who(request: Request) -> dict[str, str]:
        return {"address": client_address(request)}

    return app


@pytest.fixture
async def echo_server(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    if request.param:
        monkeypatch.setenv("GOVCHAIN_GATEWAY_TRUST_PROXY", "1")
    else:
        monkeypatch.delenv("GOVCHAIN_GATEWAY_TRUST_PROXY", raising=False)
    port = free_port()
    server = EmbeddedServer(server_config(_echo_app(), "127.0.0.1", port))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.mark.parametrize("echo_server", [False], indirect=True)
async def test_a_forwarded_for_header_is_ignored_unless_the_proxy_is_trusted(echo_server: str) -> None:
    async with httpx.AsyncClient(base_url=echo_server) as client:
        answer = await client.get("/who", headers={"X-Forwarded-For": "203.0.113.77"})
    assert answer.json() == {"address": "127.0.0.1"}


@pytest.mark.parametrize("echo_server", [True], indirect=True)
async def test_a_trusted_proxy_names_the_client(echo_server: str) -> None:
    async with httpx.AsyncClient(base_url=echo_server) as client:
        answer = await client.get("/who", headers={"X-Forwarded-For": "203.0.113.77"})
    assert answer.json() == {"address": "203.0.113.77"}


async def test_a_signal_reaches_the_process_not_the_web_server_serving_in_it() -> None:
    """`govchain up` stops every service on SIGTERM in order; uvicorn must not take the signal
    for itself and shut the gateway down first (as it did while the override was a no-op)."""
    loop, received = asyncio.get_running_loop(), asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, received.set)  # as `govchain up` does, before serving
    port = free_port()
    server = EmbeddedServer(server_config(_echo_app(), "127.0.0.1", port))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(received.wait(), 5)
        await asyncio.sleep(0.2)  # uvicorn checks should_exit every 0.1 s
        assert not server.should_exit and not serving.done()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/who")).status_code == 200
    finally:
        server.should_exit = True
        await serving
        loop.remove_signal_handler(signal.SIGTERM)


def test_portal_pages_are_rate_limited_per_client(platform: Platform) -> None:
    """The demo platform allows 60/minute per client; a page is limited like the API."""
    with httpx.Client(base_url=platform.url, timeout=30, headers={"X-Forwarded-For": "203.0.113.50"}) as busy:
        statuses = [busy.get("/verify").status_code for _ in range(62)]
        assert statuses[:60] == [200] * 60 and statuses[60:] == [429, 429]
    with httpx.Client(base_url=platform.url, timeout=30, headers={"X-Forwarded-For": "203.0.113.51"}) as other:
        assert other.get("/verify").status_code == 200
