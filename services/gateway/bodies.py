"""What the gateway reads from a request body: bounded in size as it arrives, and JSON read
strictly, its depth bounded before it is parsed.

Two pieces, each in the one place every route passes through:

* :class:`BodyLimit` (ASGI middleware) counts the bytes of every request body as they arrive and
  refuses one that is too big (HTTP 413, ``too_large``) before it is buffered whole: JSON bodies
  up to :data:`MAX_JSON_BODY_BYTES` (the largest batch envelope), uploads up to the document
  limit plus the multipart framing.
* :class:`StrictJsonRoute` (the API router's route class, FastAPI's documented hook for reading
  bodies) parses JSON bodies as the services read a request (:func:`read_request`): one object,
  nesting bounded before parsing, no duplicate keys, NaN, lone surrogates or NUL. A refusal is
  HTTP 400 ``bad_request``, as FastAPI's own validation errors are.

Routes that take signed events read the raw bytes themselves and hand them to the kernel's
intake (``parse_envelope``, ``open_batch``), so the gateway judges the bytes the orderer will.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govchain.bus.requests_total import RequestRefused, read_request
from govchain.protocol.batch import MAX_BATCH_BYTES
from govchain.services.gateway.context import api_error
from govchain.services.gateway.limits import max_upload_bytes

MAX_JSON_BODY_BYTES = MAX_BATCH_BYTES
"""No JSON body the API takes is bigger than a batch envelope (events are at most 256 KiB)."""
MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""Room for the multipart framing around an uploaded document (boundaries, part headers)."""


def body_limit(scope: Scope) -> int:
    headers = dict(scope.get("headers") or [])
    content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
    if content_type.startswith("multipart/"):
        return max_upload_bytes() + MULTIPART_OVERHEAD_BYTES
    return MAX_JSON_BODY_BYTES


def _too_large(limit: int) -> Exception:
    return api_error(413, "too_large", f"a request body may be at most {limit} bytes here")


class BodyLimit:
    """Refuses a body over its limit while it arrives: by its declared Content-Length at once, or
    as soon as the bytes received pass the limit. The refusal is raised where the app reads the
    body, so the app's exception handlers answer it like any other error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, bounded_receive, send)


class StrictJsonRequest(Request):
    """A request whose ``json()`` reads the body as the services read a request."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = read_request(await self.body())
            except RequestRefused as exc:
                status, code = (413, "too_large") if exc.code == "too_large" else (400, "bad_request")
                raise api_error(status, code, f"body: {exc.detail}") from None
        return self._json


class StrictJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
