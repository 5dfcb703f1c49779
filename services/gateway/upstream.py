"""What the gateway answers when NATS fails under a request: its one translation of NATS errors."""

from __future__ import annotations

from govchain.bus.errors import is_transient
from govchain.logs import get_logger

log = get_logger("govchain.gateway")


def nats_failure(exc: BaseException, what: str = "a service behind the gateway") -> tuple[int, str, str]:
    """(status, code, message) of a NATS failure, the one translation the gateway makes.

    An outage (timeout, no responders, reconnecting: :func:`govchain.bus.errors.is_transient`)
    is 503, worth a retry; a refusal of the gateway's own request (bad request, permission)
    is 502, the gateway's fault to fix, never the client's and never a missing record."""
    if is_transient(exc):
        return 503, "unavailable", f"{what} did not answer; try again"
    log.error("a service behind the gateway refused the gateway's request", what=what, error=type(exc).__name__)
    return 502, "upstream_error", f"{what} refused the gateway's request; it is logged"
