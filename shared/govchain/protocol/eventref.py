"""How GovChain names one event: its ``source`` and its ``id``, as CloudEvents does.

CloudEvents 1.0 makes ``source`` + ``id`` the identity of an event: a producer keeps its ids
unique within its own source, and nobody else's ids constrain it. So a department cannot
claim, or block, another department's ids by publishing under them first; the ledger's
exactly-once index, receipts and proofs are all keyed by the pair.

Written out, a reference is ``<source>/<id>``: an id never holds a ``/`` (see
``EVENT_ID_PATTERN``), so the split is unambiguous. A bare id (no ``/``) is still accepted
where a caller may not know the source; the ledger then answers when exactly one source
used that id.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from govchain.protocol.envelope import EVENT_ID_PATTERN, PRINCIPAL_PATTERN

_ID = re.compile(EVENT_ID_PATTERN)
_SOURCE = re.compile(PRINCIPAL_PATTERN)


class EventKey(NamedTuple):
    """The identity of an event on a chain."""

    source: str
    id: str

    def __str__(self) -> str:
        return f"{self.source}/{self.id}"


def event_ref(source: str, event_id: str) -> str:
    """``source/id``: one string naming one event."""
    return f"{source}/{event_id}"


def parse_event_ref(text: str) -> tuple[str | None, str]:
    """(source, id) of ``source/id``, or (None, id) of a bare id.

    Raises :class:`ValueError` naming the fault when either part is not a valid token."""
    source, slash, event_id = text.rpartition("/")
    if not _ID.fullmatch(event_id):
        raise ValueError(f"{event_id!r} is not an event id (1-64 of A-Z a-z 0-9 _ -)")
    if not slash:
        return None, event_id
    if not _SOURCE.fullmatch(source):
        raise ValueError(f"{source!r} is not a source (a principal id: a-z 0-9 _ -, at most 63)")
    return source, event_id
