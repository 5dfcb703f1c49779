"""The gateway process: the FastAPI app served by uvicorn until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from govchain.bus.embedded import free_port, port_is_free
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.logs import get_logger
from govchain.services.gateway.app import create_app
from govchain.services.gateway.limits import trust_proxy

log = get_logger("govchain.gateway")


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server inside a process that owns its signals (the platform, the demo, tests).

    While it serves, uvicorn points SIGINT and SIGTERM at itself (``capture_signals``; the
    ``install_signal_handlers`` hook older releases had is gone, so overriding it did nothing),
    and Ctrl-C stopped the web server first, reaching the process's own handler only once the
    server had shut down."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server_config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    """How uvicorn serves the gateway. uvicorn by default believes ``X-Forwarded-For`` from
    127.0.0.1: anyone on the host could pick their address and escape the rate limits. Proxy
    headers count only when ``GOVCHAIN_GATEWAY_TRUST_PROXY=1`` says a trusted proxy sets them."""
    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="on", proxy_headers=trust_proxy()
    )


async def run_gateway(
    settings: Settings, nats_url: str, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    port = settings.gateway_port
    if port == 0 or not port_is_free(settings.gateway_host, port):
        port = free_port(settings.gateway_host)
        if settings.gateway_port != 0:
            log.warning("preferred gateway port taken; using another", preferred=settings.gateway_port, port=port)
    server = EmbeddedServer(server_config(create_app(settings, nats_url), settings.gateway_host, port))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            return
        await asyncio.sleep(0.05)
    url = f"http://{settings.gateway_host}:{port}"
    DataDir(settings.data_dir).update_run_info(gateway_url=url)
    log.info("gateway listening", url=url, docs=f"{url}/docs")
    if ready is not None:
        ready.set()
    await stop.wait()
    server.should_exit = True
    await serving
