"""What a NATS failure means, decided in one place: wait and try again, or stop and say so.

nats-py raises one hierarchy for both kinds. ``nats.js.errors.APIError`` is the base of
``ServiceUnavailableError`` (a cluster electing a leader: try again) and of ``NotFoundError``
and ``BadRequestError`` (a missing stream, a refused request: asking again gets the same
answer). Code that retries on ``APIError`` turns a bad request into an endless "NATS
unavailable" loop; code that retries on too little dies at every leader election. So callers
catch :data:`NATS_ERRORS` and ask :func:`is_transient`::

    try:
        ...
    except NATS_ERRORS as exc:
        if not is_transient(exc):
            raise
        ...  # log, back off, try again

**Transient** (:attr:`NatsFault.TRANSIENT`): the connection is closed, reconnecting, draining
or stale; no server could be reached; a request or flush timed out; nobody answered (no
responders, no stream answered a publish); the client's outbound buffer or async-publish
window is full; JetStream answered 503 (temporarily unavailable, not ready), 500 (e.g. "cluster
can not handle request" during a leader change) or 408 (request timeout).

**Permanent** (:attr:`NatsFault.PERMANENT`): every other NATS error. JetStream's 400 (bad
request, including a wrong expected last sequence), 404 (stream, consumer or message not
found) and any other API status; authorization and credentials refused; an invalid subject,
header or payload size; a message already acknowledged. What is not known to pass is not
retried: a loop that never ends hides a fault that an operator must see.

A publish or request that the server's *permissions* refuse never comes back as an error to
nats-py: the server drops it and reports the violation to the connection's error callback,
so the caller sees a timeout or no responders (transient, since the client cannot tell).
The violation itself is in the server's log and the client's error callback.

Anything that is not a NATS error (``classify`` answers ``None``) is not this module's to
judge; a bare :class:`TimeoutError` counts as NATS's, since nats-py raises asyncio's timeout
itself in places.
"""

from __future__ import annotations

from enum import StrEnum

from nats import errors as nats_errors
from nats.js import errors as js_errors


class NatsFault(StrEnum):
    TRANSIENT = "transient"
    """Wait and try again: the same call can succeed once the cluster or connection recovers."""
    PERMANENT = "permanent"
    """Do not retry: the same call gets the same answer."""


NATS_ERRORS: tuple[type[Exception], ...] = (nats_errors.Error, TimeoutError)
"""What a NATS or JetStream call raises: catch these, then ask :func:`is_transient`."""

TRANSIENT_API_STATUS = frozenset({408, 500, 503})
"""JetStream API statuses that a later attempt can get past."""

_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    TimeoutError,  # nats.errors.TimeoutError, FlushTimeoutError, js FetchTimeoutError and asyncio's own
    nats_errors.ConnectionClosedError,
    nats_errors.ConnectionReconnectingError,
    nats_errors.ConnectionDrainingError,
    nats_errors.StaleConnectionError,  # and UnexpectedEOF
    nats_errors.NoServersError,
    nats_errors.NoRespondersError,
    nats_errors.OutboundBufferLimitError,
    js_errors.NoStreamResponseError,
    js_errors.TooManyStalledMsgsError,
    js_errors.ServiceUnavailableError,
)


def classify(exc: BaseException) -> NatsFault | None:
    """Whether ``exc`` is a transient or a permanent NATS failure; ``None`` if it is no NATS error."""
    if isinstance(exc, _TRANSIENT_TYPES):
        return NatsFault.TRANSIENT
    if isinstance(exc, js_errors.APIError):
        if isinstance(exc, js_errors.BadRequestError | js_errors.NotFoundError):
            return NatsFault.PERMANENT  # whatever status a caller built it with
        return NatsFault.TRANSIENT if exc.code in TRANSIENT_API_STATUS else NatsFault.PERMANENT
    if isinstance(exc, nats_errors.Error):
        return NatsFault.PERMANENT
    return None


def is_transient(exc: BaseException) -> bool:
    """True when retrying the call that raised ``exc`` can succeed (see :func:`classify`)."""
    return classify(exc) is NatsFault.TRANSIENT
