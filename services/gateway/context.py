"""What every gateway request handler shares: the NATS client, the gateway's key, sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.js.errors import NotFoundError

from govchain.bus import subjects
from govchain.client import GovChainClient, LedgerQueryError
from govchain.protocol.block import Block
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.protocol.requests import AccessDenied, ReplayGuard
from govchain.services.gateway.sessions import Session, Sessions

GATEWAY = "gateway"

STATUS_BY_CODE = {
    "not_found": 404, "forbidden": 403, "unauthenticated": 401, "purpose_required": 400, "bad_request": 400,
    "not_ready": 503, "replayed": 409, "erased": 410, "not_recorded": 503,
    "proof_unavailable": 503, "too_many_proofs": 422, "unknown_chart": 404,
    # a service's refusal of the request itself (govchain.bus.requests_total): the client's input
    "malformed_request": 400, "invalid_request": 400, "too_large": 413,
    "unavailable": 503, "internal_error": 502,
}
"""HTTP status of each reason code a service answers with; any other code is a 502."""
MAX_HEIGHT = 2**53 - 1
"""Heights beyond JSON's safe integers (and JetStream's sequences) have no block."""


@dataclass
class Gateway:
    nc: Client
    key: SigningKey
    sessions: Sessions
    orderer_keys: dict[str, PublicKey]
    challenges: ReplayGuard = field(default_factory=ReplayGuard)

    @property
    def client(self) -> GovChainClient:
        return GovChainClient(self.nc)

    async def ask(self, subject: str, params: dict[str, Any], session: Session | None = None) -> dict[str, Any]:
        """A service query, signed by the gateway on behalf of the session's principal if any."""
        try:
            if session is None:
                return await self.client.query(subject, params)
            return await self.client.query(subject, params, as_principal=(self.key, GATEWAY),
                                           on_behalf_of=session.principal)
        except LedgerQueryError as exc:
            raise api_error(STATUS_BY_CODE.get(exc.code, 502), exc.code, str(exc)) from None
        except (TimeoutError, NoRespondersError):
            raise api_error(503, "unavailable", f"the service behind {subject} did not answer; try again") from None

    async def block(self, height: int) -> Block:
        """The block at ``height``: 404 if there is none; a NATS failure (timeout, no server) is
        left to the app's handlers (503), never taken for a missing block."""
        if not 0 <= height <= MAX_HEIGHT:
            raise api_error(404, "not_found", f"no block at height {height}")
        try:
            msg = await self.nc.jetstream().get_msg(subjects.BLOCKS_STREAM, subjects.block_sequence(height), direct=True)
        except NotFoundError:
            raise api_error(404, "not_found", f"no block at height {height}") from None
        return Block.from_bytes(msg.data, height_hint=height)

    async def head_height(self) -> int:
        try:
            return await self.client.head_height()
        except LedgerQueryError:
            return -1


def api_error(status: int, code: str, message: str) -> HTTPException:
    """Every error the API returns: a status, a stable reason code and a readable message."""
    return HTTPException(status_code=status, detail={"code": code, "message": message})


def denied(exc: AccessDenied) -> HTTPException:
    return api_error(STATUS_BY_CODE.get(exc.code, 403), exc.code, exc.detail)


def gateway_of(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]
