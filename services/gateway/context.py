"""What every gateway request handler shares: the NATS client, the gateway's key, sessions,
and the questions several routes ask (an event and its proof, who is asking, whose key signed)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from nats.aio.client import Client
from nats.js.errors import NotFoundError

from govchain.bus import subjects
from govchain.bus.errors import NATS_ERRORS
from govchain.bus.subjects import DEFAULT, ChainNames
from govchain.client import GovChainClient, LedgerQueryError
from govchain.crypto import CryptoSuite
from govchain.protocol.block import Block
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.envelope import EVENT_ID_PATTERN, PRINCIPAL_PATTERN, Envelope
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.protocol.proofs import inclusion_problem
from govchain.protocol.requests import AccessDenied, ReplayGuard
from govchain.protocol.state import ChainState
from govchain.services.gateway.sessions import Session, Sessions
from govchain.services.gateway.signers import key_state, session_viewer, signer_refusal
from govchain.services.gateway.upstream import nats_failure
from govchain.services.gateway.visibility import public_error
from govchain.services.registry.access import Viewer

GATEWAY = "gateway"

STATUS_BY_CODE = {
    "not_found": 404,
    "forbidden": 403,
    "unauthenticated": 401,
    "purpose_required": 400,
    "bad_request": 400,
    "ambiguous_id": 409,
    "not_ready": 503,
    "replayed": 409,
    "erased": 410,
    "not_recorded": 503,
    "proof_unavailable": 503,
    "too_many_proofs": 422,
    "unknown_chart": 404,
    # a service's refusal of the request itself (govchain.bus.requests_total): the client's input
    "malformed_request": 400,
    "invalid_request": 400,
    "too_large": 413,
    "unavailable": 503,
    "internal_error": 502,
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
    chain_id: str = ""
    names: ChainNames = DEFAULT
    """The chain's subjects (its own on a NATS cluster shared by several chains)."""
    challenges: ReplayGuard = field(default_factory=ReplayGuard)
    checkpoint_key: PublicKey | None = None
    """The Ed25519 key of a gm chain's checkpoints (genesis ``checkpoint_key``); None: the orderer keys."""
    credentials_key_file: Path | None = None
    """Where the gateway's Ed25519 credentials key is kept (``keys/gateway-credentials.pem``): on a
    gm chain it signs the licence credentials, once registered on chain (``key.added``, purpose
    ``credentials``); an intl chain's gateway signs them with its own key."""

    @property
    def suite(self) -> CryptoSuite:
        """The chain's crypto suite: its orderer keys' (genesis fixes one profile per chain)."""
        return next(iter(self.orderer_keys.values())).suite

    @property
    def checkpoint_keys(self) -> list[PublicKey]:
        """The keys the chain's C2SP checkpoints are signed with."""
        return [self.checkpoint_key] if self.checkpoint_key is not None else list(self.orderer_keys.values())

    @property
    def client(self) -> GovChainClient:
        return GovChainClient(self.nc, names=self.names)

    async def ask(self, subject: str, params: dict[str, Any], session: Session | None = None) -> dict[str, Any]:
        """A service query, signed by the gateway on behalf of the session's principal if any."""
        try:
            if session is None:
                return await self.client.query(subject, params)
            return await self.client.query(
                subject, params, as_principal=(self.key, GATEWAY), on_behalf_of=session.principal
            )
        except LedgerQueryError as exc:
            raise api_error(STATUS_BY_CODE.get(exc.code, 502), exc.code, str(exc)) from None
        except NATS_ERRORS as exc:
            raise api_error(*nats_failure(exc, f"the service behind {subject}")) from None

    async def read(
        self, subject: str, params: dict[str, Any], session: Session | None = None, *, at: int | None = None
    ) -> dict[str, Any]:
        """A projection's answer that includes every block committed when it is asked (its
        ``min_height``; ``at`` when the caller already holds that height): what a reader has just
        submitted through the gateway is in the answer, never a lagging projection's older view.
        With the ledger unreachable it answers as of the projection's own height: the registry's
        pages stay up while the ledger is down, and nothing is committed meanwhile."""
        height = at
        if height is None:
            try:
                height = await self.newest_height()
            except NATS_ERRORS:
                height = None
        return await self.ask(subject, {**params, "min_height": height}, session)

    async def block(self, height: int) -> Block:
        """The block at ``height``: 404 if there is none; a NATS failure (timeout, no server) is
        left to the app's handlers (503), never taken for a missing block."""
        if not 0 <= height <= MAX_HEIGHT:
            raise api_error(404, "not_found", f"no block at height {height}")
        try:
            msg = await self.nc.jetstream().get_msg(
                self.names.blocks_stream, subjects.block_sequence(height), direct=True
            )
        except NotFoundError:
            raise api_error(404, "not_found", f"no block at height {height}") from None
        return Block.from_bytes(msg.data or b"", height_hint=height)

    async def head_height(self) -> int:
        try:
            return await self.client.head_height()
        except LedgerQueryError:
            return -1

    async def newest_height(self) -> int:
        """The height a question waits for (``min_height``) to see everything committed so far:
        the newest block's, 0 before there is one."""
        return max(await self.head_height(), 0)

    async def key_state(self, key_id: str) -> ChainState:
        """The chain state of one key and its owner as of the newest block (the identity
        projection waits for it), or as of the projection's own height when the ledger does not
        answer. 503 when the identity service does not answer: never a guess."""
        answer = await self.read(self.names.identity_key, {"key_id": key_id})
        return key_state(answer, self.chain_id)

    async def check_signer(
        self,
        envelope: Envelope,
        signing_bytes: bytes | None = None,
        *,
        batch_root: bytes | None = None,
    ) -> None:
        """Refuse (HTTP 422, with the orderer's reason code) an envelope whose signer the chain
        does not know, that does not act for its source, whose signature does not verify or whose
        key is revoked: defence in depth, so forged bytes never reach stream EVENTS through the
        gateway. The orderer still judges every event itself, as of the chain before it."""
        refusal = signer_refusal(await self.key_state(envelope.signer), envelope, signing_bytes, batch_root=batch_root)
        if refusal is not None:
            raise api_error(422, refusal.reason.value, refusal.detail)

    async def viewer(self, session: Session | None) -> Viewer:
        """Who is asking, as the registry's field visibility knows viewers: the public without a
        session; with one, the signed-in principal while the key it signed in with is usable."""
        if session is None or session.key_id is None:
            return Viewer()
        return session_viewer(await self.key_state(session.key_id), session.principal, session.key_id)

    async def event(self, event_id: str, source: str | None) -> dict[str, Any]:
        """An event on chain, in full, with its receipt and its inclusion proof checked against the
        orderer-signed head and against the event's own bytes. ``source`` None: the one source
        that used ``event_id``; 409 ``ambiguous_id`` naming the sources when several did."""
        params: dict[str, Any] = {"event_id": checked_event_id(event_id)}
        if source is not None:
            params["source"] = checked_source(source)
        try:
            proof = await self.ask(self.names.ledger_proof, params)
        except HTTPException as exc:
            detail = error_detail(exc)
            if detail.get("code") == "ambiguous_id":
                raise api_error(
                    409,
                    "ambiguous_id",
                    detail["message"],
                    event_id=event_id,
                    sources=candidate_sources(detail["message"]),
                ) from None
            raise
        source = str(proof["source"])
        receipt = await self.ask(self.names.ledger_receipt, {"event_id": event_id, "source": source})
        if receipt["status"] != "committed":
            raise api_error(404, "not_found", f"event {source}/{event_id} is not on chain")
        envelope = (await self.block(receipt["height"])).events[receipt["position"]]
        problem = inclusion_problem(proof, self.orderer_keys)
        if problem is None and self.suite.leaf_hash(canonical_bytes(envelope)).hex() != proof["leaf_hash"]:
            problem = "the event in the block is not the leaf the proof proves"
        return {
            "event": envelope,
            "receipt": receipt,
            "proof": proof,
            "proof_verified": problem is None,
            "proof_problem": problem,
        }


def api_error(status: int, code: str, message: str, **more: Any) -> HTTPException:
    """Every error the API returns: a status, a stable reason code and a readable message (and,
    for a few codes, what the client can do next: the candidate ``sources`` of an ambiguous id)."""
    return HTTPException(status_code=status, detail={"code": code, "message": message, **more})


def error_detail(exc: HTTPException) -> dict[str, Any]:
    """The code and message an :func:`api_error` carries (Starlette types ``detail`` as a
    string); ``{}`` for another HTTPException."""
    detail: object = exc.detail
    return detail if isinstance(detail, dict) else {}


def shown_error(exc: HTTPException, viewer: Viewer) -> HTTPException:
    """An error as ``viewer`` may see it (see :func:`public_error`)."""
    if viewer.sees_internal() or not isinstance(exc.detail, dict):
        return exc
    return HTTPException(status_code=exc.status_code, detail=public_error(exc.detail), headers=exc.headers)


def checked_event_id(value: str) -> str:
    if not re.fullmatch(EVENT_ID_PATTERN, value):
        raise api_error(400, "bad_request", "an event id is 1-64 letters, digits, '_' or '-'")
    return value


def checked_source(value: str) -> str:
    if not re.fullmatch(PRINCIPAL_PATTERN, value):
        raise api_error(400, "bad_request", "a source is a principal id: 1-63 of a-z, 0-9, '_' or '-'")
    return value


def candidate_sources(message: str) -> list[str]:
    """The sources an ``ambiguous_id`` refusal names: the ledger lists them in its message,
    ``... (land-bureau, tax); name the source``."""
    found = re.search(r"\(([^()]*)\)", message)
    names = [] if found is None else [name.strip() for name in found.group(1).split(",")]
    return [name for name in names if re.fullmatch(PRINCIPAL_PATTERN, name)]


def denied(exc: AccessDenied) -> HTTPException:
    return api_error(STATUS_BY_CODE.get(exc.code, 403), exc.code, exc.detail)


def gateway_of(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


def optional_session(request: Request, authorization: Annotated[str | None, Header()] = None) -> Session | None:
    """The signed-in session of a request (``Authorization: Bearer <token>``), if it has one;
    API routes and portal pages alike."""
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise api_error(401, "unauthenticated", "use 'Authorization: Bearer <token>' from POST /api/v1/auth/session")
    try:
        return gateway_of(request).sessions.session(token)
    except AccessDenied as exc:
        raise denied(exc) from None


OptionalSession = Annotated[Session | None, Depends(optional_session)]
