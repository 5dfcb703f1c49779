"""The identity service's API over NATS request/reply: DID resolution, credential checks, keys."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from faststream.nats import NatsRouter
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from govchain.bus.subjects import DEFAULT, ChainNames
from govchain.projection.runner import wait_for_height
from govchain.protocol.envelope import HEX64_PATTERN, utc_now
from govchain.services.identity.directory import SqlDirectory
from govchain.services.identity.verification import Directory, resolve_did, verify_credential


class ResolveRequest(BaseModel):
    did: str = Field(max_length=200)
    min_height: int | None = Field(default=None, description="answer only once this block is applied")


class VerifyRequest(BaseModel):
    credential: dict[str, Any]
    min_height: int | None = Field(default=None, description="answer only once this block is applied")


class KeyRequest(BaseModel):
    key_id: str = Field(pattern=HEX64_PATTERN)
    min_height: int | None = Field(default=None, description="answer only once this block is applied")


class VerifyAnswer(BaseModel):
    valid: bool
    reason: str | None
    issuer: str | None
    verification_method: str | None
    checked_at: str
    as_of_height: int


def key_answer(key_id: str, directory: Directory) -> dict[str, Any]:
    """A key by its id (``key`` None: not on chain) and its owner, as of ``as_of_height``: what the
    gateway judges an event's signer by before publishing it (the orderer judges again), the
    way the orderer does, with :func:`govchain.protocol.validation.check_signer`."""
    record = directory.key(key_id)
    owner = None if record is None else directory.principal(record.owner)
    return {
        "key_id": key_id,
        "key": None if record is None else record.to_json(),
        "owner": None if owner is None else owner.to_json(),
        "as_of_height": directory.height,
    }


BEHIND = {"error": "the identity projection has not reached the requested height yet", "code": "not_ready"}


def identity_router(engine: Engine, height: Callable[[], int], names: ChainNames = DEFAULT) -> NatsRouter:
    """``height`` gives the last block the projection applied (for ``min_height`` requests)."""
    router = NatsRouter()

    def with_directory(work: Any) -> Any:
        with engine.connect() as conn:
            return work(SqlDirectory(conn))

    @router.subscriber(names.identity_resolve)
    async def resolve(request: ResolveRequest) -> dict[str, Any]:
        if not await wait_for_height(height, request.min_height):
            return BEHIND
        return await asyncio.to_thread(with_directory, lambda d: resolve_did(request.did, d))

    @router.subscriber(names.identity_key)
    async def key(request: KeyRequest) -> dict[str, Any]:
        if not await wait_for_height(height, request.min_height):
            return BEHIND
        return await asyncio.to_thread(with_directory, lambda d: key_answer(request.key_id, d))

    @router.subscriber(names.identity_verify_credential)
    async def verify(request: VerifyRequest) -> VerifyAnswer | dict[str, str]:
        if not await wait_for_height(height, request.min_height):
            return BEHIND
        now, as_of = utc_now(), height()
        verdict = await asyncio.to_thread(with_directory, lambda d: verify_credential(request.credential, d, now))
        return VerifyAnswer(**verdict.to_json(), checked_at=now, as_of_height=as_of)

    return router
