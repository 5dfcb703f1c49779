"""Event time: strict RFC 3339, judged against the time of the block that orders the event.

An event's ``time`` is what its publisher says; the block's time is what the orderer says,
and it is the one clock the whole chain shares. Judging one against the other (never against
a wall clock) keeps validation deterministic: an auditor re-checking a block years later
reaches the orderer's verdict.
"""

from __future__ import annotations

import re
from datetime import datetime

from govchain.protocol.errors import EventRejected, RejectionReason

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
"""RFC 3339 §5.6 ``date-time``, upper-case ``T`` and ``Z``: no ISO 8601 basic format, no
space for ``T``, no missing offset (a time without one names no instant)."""


def parse_rfc3339(value: str) -> datetime:
    """The instant an RFC 3339 timestamp names; :class:`ValueError` for anything else."""
    if not RFC3339.match(value):
        raise ValueError("time must be an RFC 3339 timestamp with Z or an offset, e.g. 2026-05-01T08:30:00Z")
    return datetime.fromisoformat(value)  # checks the ranges: month 13 or 25:00 are refused here


def check_event_time(event_time: str, block_time: str, *, max_ahead_s: int, max_behind_s: int | None) -> None:
    """Refuse (``invalid_time``) an event dated more than ``max_ahead_s`` after its block, or
    more than ``max_behind_s`` before it (``None``: any time before)."""
    try:
        offset = (parse_rfc3339(event_time) - parse_rfc3339(block_time)).total_seconds()
    except (ValueError, OverflowError) as exc:
        raise EventRejected(RejectionReason.INVALID_TIME, str(exc)) from exc
    if offset > max_ahead_s:
        raise EventRejected(
            RejectionReason.INVALID_TIME,
            f"event time {event_time} is {offset:.0f} s after its block's time {block_time}; at most {max_ahead_s} s may be",
        )
    if max_behind_s is not None and -offset > max_behind_s:
        raise EventRejected(
            RejectionReason.INVALID_TIME,
            f"event time {event_time} is {-offset:.0f} s before its block's time {block_time}; at most {max_behind_s} s may be",
        )
