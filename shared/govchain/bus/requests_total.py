"""Every request subject is a total function: any body gets an answer, never silence.

A service's query API is a set of FastStream subscribers with pydantic-typed parameters. Left
alone, FastStream logs a body it cannot decode or validate, or a handler that raises, and sends
no reply: the requester waits for its timeout, and a 100 000-deep body costs a RecursionError
on the way. :func:`total_request_options` (applied by :func:`govchain.bus.connect.make_broker`,
so every service gets it) makes every request end in the answer the handler gives or in a typed
refusal, in the shape the SDK already reads (``{"error": <words>, "code": <reason>}``):

- ``too_large``: the body is over :data:`MAX_REQUEST_BYTES` (checked before anything reads it);
- ``malformed_request``: not one strict JSON object in UTF-8, nested deeper than
  :data:`MAX_REQUEST_DEPTH` (measured before parsing), a number JSON cannot mean, a lone
  UTF-16 surrogate, NUL, NaN or Infinity;
- ``invalid_request``: a well-formed object the handler's model refuses (the first problem, in words);
- ``unavailable``: a service this one depends on did not answer in time (worth retrying);
- a service's own :class:`~govchain.protocol.requests.AccessDenied` code (``unauthenticated``, ...);
- ``internal_error``: anything else the handler raised; logged with its traceback, and the
  service goes on answering.

An empty body reads as ``{}`` (``nats req gov.ledger.head ""`` works).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from fast_depends.exceptions import ValidationError as ArgumentsInvalid
from fast_depends.pydantic import PydanticSerializer
from faststream import BaseMiddleware
from faststream.message import StreamMessage
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from govchain.logs import get_logger
from govchain.protocol.errors import GovChainError
from govchain.protocol.jsontext import MAX_JSON_DEPTH, parse_json_object
from govchain.protocol.requests import AccessDenied

log = get_logger("govchain.requests")

MAX_REQUEST_BYTES = 1024 * 1024
"""The biggest request body a service reads. The largest real request (a credential to verify,
fields to seal) is a few KB; NATS itself would carry up to its max_payload (4 MiB here)."""
MAX_REQUEST_DEPTH = MAX_JSON_DEPTH
MAX_DETAIL_CHARS = 200
"""A refusal says what is wrong in a line; it never echoes the request back."""


class RequestRefused(GovChainError):
    """A request refused before or instead of its handler, with a stable reason code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def refusal(code: str, detail: str) -> dict[str, str]:
    """The reply every service gives for a refused request (as ``QueryError`` in the ledger)."""
    return {"error": _short(detail), "code": code}


def read_request(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object, or :class:`RequestRefused`; bounds come before parsing."""
    if len(raw) > MAX_REQUEST_BYTES:
        raise RequestRefused("too_large", f"a request may be at most {MAX_REQUEST_BYTES} bytes, this is {len(raw)}")
    if not raw.strip():
        return {}
    try:
        value = parse_json_object(raw, what="the request", max_depth=MAX_REQUEST_DEPTH)
    except ValueError as exc:  # JsonTooDeep included: depth is measured before parsing
        raise RequestRefused("malformed_request", str(exc)) from None
    _must_be_plain_json(value)
    return value


def _must_be_plain_json(value: Any) -> None:
    """What Python's JSON reader lets through but no JSON text means or no service can store:
    NaN and Infinity (``1e999`` reads as infinity), a lone UTF-16 surrogate (``"\\ud800"``),
    which no UTF-8 text can carry, and NUL, which PostgreSQL text cannot hold. Recursion is
    safe: the depth is bounded before parsing."""
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestRefused("malformed_request", "the request holds NaN, Infinity or a number out of range")
    if isinstance(value, str):
        if "\x00" in value:
            raise RequestRefused("malformed_request", "the request holds a NUL character")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise RequestRefused("malformed_request", "the request holds a lone UTF-16 surrogate escape") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _must_be_plain_json(key)
            _must_be_plain_json(item)
    elif isinstance(value, list):
        for item in value:
            _must_be_plain_json(item)


async def decode_request(message: StreamMessage[Any]) -> dict[str, Any]:
    """FastStream decoder for every request subject (instead of its lenient JSON guess)."""
    return read_request(bytes(message.body))


def first_problem(exc: ArgumentsInvalid) -> str:
    """The first thing wrong with a request's fields, in words, e.g. ``event_id: String should ...``."""
    original = exc.original_error
    errors = original.errors(include_url=False, include_input=False) if hasattr(original, "errors") else []
    if not errors:
        return "the request does not fit this query"
    first = errors[0]
    parameters = {option.field_name for option in exc.error_fields}
    where = [str(part)[:40] for part in first["loc"]]
    if where and where[0] in parameters:  # the handler's parameter name, not a field the client sent
        where = where[1:]
    return f"{'.'.join(where) or 'the request'}: {first['msg']}"


def _is_reply_check(exc: ArgumentsInvalid) -> bool:
    """FastStream also validates what a handler returns: failing that is our fault, not the client's."""
    return any(option.field_name == "return" for option in exc.error_fields)


class TotalRequests(BaseMiddleware):
    """Decodes the body before any handler runs (so even a handler without parameters refuses a
    bad one) and turns every exception into a refusal reply."""

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]) -> Any:
        subject = getattr(msg.raw_message, "subject", "?")
        try:
            await msg.decode()
            return await call_next(msg)
        except RequestRefused as exc:
            log.info("request refused", subject=subject, code=exc.code, detail=_short(exc.detail))
            return refusal(exc.code, exc.detail)
        except ArgumentsInvalid as exc:
            if _is_reply_check(exc):
                return _internal(subject, exc)
            problem = first_problem(exc)
            log.info("request refused", subject=subject, code="invalid_request", detail=problem)
            return refusal("invalid_request", problem)
        except AccessDenied as exc:
            return refusal(exc.code, exc.detail)
        except (TimeoutError, NatsTimeoutError, NoRespondersError) as exc:
            log.warning("a service this request needs did not answer", subject=subject, error=type(exc).__name__)
            return refusal("unavailable", "a service this answer needs did not answer in time; try again")
        except Exception as exc:  # the point of this class: no exception leaves a request unanswered
            return _internal(subject, exc)


def _internal(subject: str, exc: Exception) -> dict[str, str]:
    log.error("request handler failed", subject=subject, exc_info=exc)
    return refusal("internal_error", f"the service failed on this request ({type(exc).__name__}); it is logged")


def total_request_options() -> dict[str, Any]:
    """Keyword arguments for a ``NatsBroker`` serving requests: strict decoding, refusals as
    replies, and argument errors FastStream reports as such (not as bare pydantic errors)."""
    return {
        "decoder": decode_request,
        "middlewares": (TotalRequests,),
        "serializer": PydanticSerializer(use_fastdepends_errors=True),
    }


def _short(text: str) -> str:
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"
