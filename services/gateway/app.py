"""The HTTP gateway: one entry point (OpenAPI at /docs) and the portal, a NATS client like any other."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from govchain import __version__
from govchain.bus.connect import connect
from govchain.config import Settings
from govchain.datadir import DataDir, credentials_key_name
from govchain.protocol.genesis import genesis_payload
from govchain.protocol.state import ChainState
from govchain.services.gateway import api, contexts, log, portal, service_desk, sharing_pages, workbench
from govchain.services.gateway.apidocs import install_api_docs
from govchain.services.gateway.bodies import BodyLimit
from govchain.services.gateway.context import GATEWAY, Gateway
from govchain.services.gateway.errors import install_error_handlers
from govchain.services.gateway.limits import limiter
from govchain.services.gateway.sessions import Sessions

DESCRIPTION = """
GovChain's one entry point for citizens, businesses, departments and the public.

* **chain**: blocks, events, RFC 9162 inclusion and consistency proofs, each checked against
  the orderer-signed head. An event is named by its source and id (`/events/{source}/{id}`),
  as CloudEvents names it; a bare id works while one source alone used it (else 409
  `ambiguous_id`, naming the sources). The public does not see the fields that link a person's
  events (a citizen's pseudonym, a citizen's key id): they read `{"redacted": true}` and
  `redacted_fields` lists them; signed-in officers and auditors see them;
* **submit**: signed events (a department's records, a citizen's applications) with their
  receipt or the ledger's reason code; the signer and signature are checked before anything
  is published (422 `unknown_key`, `signer_not_of_source`, `bad_signature`, `key_revoked`);
  application status;
* **registry**: public records, document and credential verification;
* **me**: sign in by signing a challenge with your key, then see your own data and who read it.

Errors are JSON `{"error": {"code": ..., "message": ...}}` with a stable reason code. Bad input
always ends in a 4xx, never a 5xx: JSON bodies are read strictly (one object, nesting bounded
before parsing, no duplicate keys) and may be at most 1 MiB (HTTP 413, `too_large`); a service
behind the gateway that does not answer is HTTP 503, `unavailable`.

Every endpoint is rate limited per client (HTTP 429, code `rate_limited`, `Retry-After`):
public reads by `GOVCHAIN_GATEWAY_RATE_LIMIT` (default 120/minute), `POST /api/v1/events` by
`GOVCHAIN_GATEWAY_SUBMIT_RATE_LIMIT` (60/minute), application status and `/me` by
`GOVCHAIN_GATEWAY_PRIVATE_RATE_LIMIT` (60/minute). An application's status is public; its
details (who, what, for how much) only to its signed-in parties and officers it involves.
"""


def create_app(settings: Settings, nats_url: str) -> FastAPI:
    data = DataDir(settings.data_dir)
    genesis = genesis_payload(data.genesis())
    settings.chain_names.require(genesis.chain_id)
    state = ChainState.from_genesis(genesis)
    orderer_keys = {r.key_id: r.public_key for r in state.keys.values() if r.owner == "ledger"}
    secret = settings.gateway_secret.get_secret_value().encode() if settings.gateway_secret else secrets.token_bytes(32)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nc = await connect(nats_url, settings, name="govchain-gateway")
        app.state.gateway = Gateway(
            nc,
            data.signing_key(GATEWAY),
            Sessions(secret),
            orderer_keys,
            chain_id=genesis.chain_id,
            names=settings.chain_names,
            checkpoint_key=state.checkpoint_key,
            credentials_key_file=data.key_file(credentials_key_name(GATEWAY)),
        )
        try:
            yield
        finally:
            await nc.drain()

    app = FastAPI(
        title="GovChain gateway",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )  # /docs is served with local assets: apidocs
    install_api_docs(app)
    app.state.chain_id = genesis.chain_id
    app.state.limiter = limiter
    app.include_router(api.router)
    app.include_router(portal.router)
    app.include_router(service_desk.router)  # /service: the citizen's one-stop service (issue 13)
    app.include_router(sharing_pages.router)  # /sharing: catalog, grants and reads, requests (issue 14)
    app.include_router(contexts.router)
    app.include_router(log.router)  # /log/: checkpoint and tiles (c2sp.org/tlog-tiles)
    workbench.install(app, settings)  # /workbench: the officials' queue and counter (issue 13)
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
    app.add_middleware(BodyLimit)
    install_error_handlers(app)
    return app


__all__ = ["create_app", "HTMLResponse"]
