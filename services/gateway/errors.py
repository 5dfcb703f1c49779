"""Every error the gateway answers, in one place: a status, a stable reason code and a short
message, as JSON (``{"error": {"code", "message"}}``) or, for a browser on a portal page, as
the error page.

Bad input always ends in a 4xx: malformed or invalid (400), too large (413), rate limited (429).
An event id that several sources used, asked for without its source, is a 409 ``ambiguous_id``
that names those ``sources`` (the portal offers them as links).
A service that does not answer is a 503 (``unavailable``), never mistaken for "not found"; a
fault of the gateway itself is a 500 with code ``internal_error``, and its traceback is logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from slowapi.errors import RateLimitExceeded
from starlette.exceptions import HTTPException

from govchain.bus.errors import NATS_ERRORS
from govchain.logs import get_logger
from govchain.services.gateway import portal
from govchain.services.gateway.upstream import nats_failure

log = get_logger("govchain.gateway")

MAX_MESSAGE_CHARS = 300
"""An error says what is wrong in a line; it never echoes a request back."""
CODE_BY_STATUS = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
"""Reason codes for errors raised with a plain message (by FastAPI and Starlette themselves)."""


class ErrorDetail(BaseModel):
    code: str
    message: str
    event_id: str | None = Field(default=None, description="`ambiguous_id`: the id asked for")
    sources: list[str | dict[str, bool]] | None = Field(
        default=None, description='`ambiguous_id`: the sources that used the id (`{"redacted": true}` for a citizen)'
    )


class ApiError(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ApiError,
        "description": "Bad input, with the reason: `bad_request` (not strict JSON, nested "
        "too deep, a parameter out of its type or range), a ledger reason "
        "such as `malformed_envelope` for events, or a service's "
        "`invalid_request` / `malformed_request`",
    },
    413: {"model": ApiError, "description": "The body is too large (`too_large`)"},
    429: {"model": ApiError, "description": "Too many requests from this client (`rate_limited`); see Retry-After"},
    502: {
        "model": ApiError,
        "description": "A service behind the gateway refused the gateway's own request "
        "(`upstream_error`, logged): the gateway's fault, not the client's",
    },
    503: {
        "model": ApiError,
        "description": "A service behind the gateway did not answer or is behind "
        "(`unavailable`, `not_ready`); try again",
    },
    "4XX": {
        "model": ApiError,
        "description": "Any other refusal (401, 403, 404, 409, 410, 422), same shape; "
        "409 `ambiguous_id` names the `sources` that used an event id",
    },
}
"""Documented on every API route (OpenAPI), in place of FastAPI's default 422 schema."""


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    more: dict[str, Any] | None = None,
) -> Response:
    """``more``: the few extra parts some errors carry (see :class:`ErrorDetail`)."""
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    more = more or {}
    if _wants_html(request):
        return portal.templates.TemplateResponse(
            request,
            "error.html",
            {"chain_id": request.app.state.chain_id, "status": status, "message": message, **more},
            status_code=status,
            headers=headers,
        )
    return JSONResponse({"error": {"code": code, "message": message, **more}}, status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail: Any = exc.detail
    if isinstance(detail, dict):
        more = {key: value for key, value in detail.items() if key not in ("code", "message")}
        return error_response(request, exc.status_code, detail["code"], detail["message"], exc.headers, more)
    return error_response(
        request, exc.status_code, CODE_BY_STATUS.get(exc.status_code, "http_error"), str(detail), exc.headers
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    where = ".".join(str(p)[:40] for p in first["loc"])
    return error_response(request, 400, "bad_request", f"{where}: {first['msg']}")


async def _rate_limited(request: Request, exc: Exception) -> Response:
    return error_response(request, 429, "rate_limited", f"too many requests: {exc}", headers={"Retry-After": "60"})


async def _nats_failed(request: Request, exc: Exception) -> Response:
    status, code, message = nats_failure(exc)
    log.warning("NATS failed under a request", path=request.url.path, error=type(exc).__name__, status=status)
    headers = {"Retry-After": "5"} if status == 503 else None
    return error_response(request, status, code, message, headers=headers)


async def _internal(request: Request, exc: Exception) -> Response:
    # Starlette re-raises it after this answer is sent, so the server logs the traceback too.
    log.error("gateway request failed", path=request.url.path, error=type(exc).__name__)
    return error_response(request, 500, "internal_error", f"the gateway failed ({type(exc).__name__}); it is logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)  # Starlette's: FastAPI's own and routing's 404/405
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RateLimitExceeded, _rate_limited)
    for nats_error in NATS_ERRORS:  # no responders, connection lost, a refused request, ...
        app.add_exception_handler(nats_error, _nats_failed)
    app.add_exception_handler(Exception, _internal)
