"""The gateway process: the FastAPI app served by uvicorn until told to stop."""

from __future__ import annotations

import asyncio

import uvicorn

from govchain.bus.embedded import free_port, port_is_free
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.logs import get_logger
from govchain.services.gateway.app import create_app

log = get_logger("govchain.gateway")


async def run_gateway(
    settings: Settings, nats_url: str, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    port = settings.gateway_port
    if port == 0 or not port_is_free(settings.gateway_host, port):
        port = free_port(settings.gateway_host)
        if settings.gateway_port != 0:
            log.warning("preferred gateway port taken; using another", preferred=settings.gateway_port, port=port)
    config = uvicorn.Config(create_app(settings, nats_url), host=settings.gateway_host, port=port,
                            log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # the platform owns signals
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
