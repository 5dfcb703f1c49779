"""The witness's HTTP interface (c2sp.org/tlog-witness): ``POST /add-checkpoint`` and the
monitoring ``GET /<origin hash>/checkpoint``.

Anyone can reach a witness, so the body is capped while it arrives (413 past the cap, before
it is buffered) and every decision is the pure :class:`~govchain.transparency.witness.Witness`,
which answers any bytes with a status. The store's failures (disk full, a lock held too long)
are 503 with ``Retry-After``: the log asks again later, and nothing was cosigned.
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from govchain.logs import get_logger
from govchain.transparency.witness import Witness
from govchain.transparency.witness_protocol import NOTE_CONTENT_TYPE

MAX_BODY_BYTES = 64 * 1024
"""A request is a size line, at most 63 proof lines and a checkpoint with its signatures:
a few kilobytes. 64 KiB leaves room for many (even post-quantum) log signatures."""
_ORIGIN_HASH = re.compile(r"[0-9a-f]{64}")
_TEXT = "text/plain; charset=utf-8"

log = get_logger("govchain.witness")


class _TooLarge(Exception):
    pass


DRAIN_BYTES = 16 * 1024 * 1024
"""A body over the cap is read on and dropped up to this many bytes, so that the client, still
sending, reads the 413 instead of a connection reset; a bigger one is cut off at once."""


async def _read_capped(request: Request, limit: int) -> bytes:
    """The body, or ``_TooLarge`` as soon as its declared or received length passes ``limit``;
    at most ``limit`` bytes and one chunk are ever kept in memory."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        if declared.isdigit() and int(declared) <= DRAIN_BYTES:
            await _drain(request)
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            await _drain(request, len(body))
            raise _TooLarge
    return bytes(body)


async def _drain(request: Request, received: int = 0) -> None:
    async for chunk in request.stream():
        received += len(chunk)
        if received > DRAIN_BYTES:
            return


def create_app(witness: Witness, *, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    app = FastAPI(
        title="GovChain witness",
        description="Cosigns consistent checkpoints of the logs it follows (c2sp.org/tlog-witness).",
        docs_url=None,
        redoc_url=None,
    )

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        try:
            body = await _read_capped(request, max_body_bytes)
        except _TooLarge:
            return Response(
                f"a request body is at most {max_body_bytes} bytes\n",
                413,
                media_type=_TEXT,
                headers={"Connection": "close"},
            )
        try:
            answer = await run_in_threadpool(witness.add_checkpoint, body)
        except SQLAlchemyError as exc:
            log.error("witness state unavailable", error=str(exc))
            return Response(
                "witness state unavailable; try again\n", 503, media_type=_TEXT, headers={"Retry-After": "1"}
            )
        log.info("add-checkpoint", status=answer.status, reason=answer.reason)
        # Set verbatim: Starlette would add "; charset=utf-8" to a text/* media type, and a 409
        # must be exactly text/x.tlog.size.
        return Response(answer.body, answer.status, headers={"Content-Type": answer.content_type})

    @app.get("/{origin_hash}/checkpoint")
    async def monitoring_checkpoint(origin_hash: str) -> Response:
        note = None
        if _ORIGIN_HASH.fullmatch(origin_hash):
            try:
                note = await run_in_threadpool(witness.monitoring_checkpoint, origin_hash)
            except SQLAlchemyError as exc:
                log.error("witness state unavailable", error=str(exc))
                return Response(
                    "witness state unavailable; try again\n", 503, media_type=_TEXT, headers={"Retry-After": "1"}
                )
        if note is None:
            return Response("no checkpoint cosigned for this log\n", 404, media_type=_TEXT)
        return Response(note, 200, media_type=NOTE_CONTENT_TYPE, headers={"Cache-Control": "no-cache"})

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response("ok\n", 200, media_type=_TEXT)

    return app
