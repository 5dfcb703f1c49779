"""What the public may see of an event on chain: the registry's field visibility, applied to
every event the gateway shows (API, portal pages, explorer).

A citizen's pseudonym is not a name, but it is the same string in every event about that
person: shown to anyone, it links their business, their land deals and their applications
into one profile. So the registry shows pseudonyms (``owner``, ``from_owner``, ``to_owner``)
to officers and auditors only, and so does the gateway for whole events:

* a top-level ``data`` field of an event that the registry's table
  (:data:`govchain.services.registry.access.FIELDS`) keeps from the public (internal or
  personal in any record type), or whose value names a citizen anywhere inside it, is
  replaced by :data:`REDACTED`;
* any other string that names a citizen (an event's ``source`` or ``subject``, a receipt's or
  a proof's ``source``) is replaced by :data:`REDACTED`, and so is the ``signer`` of an event a
  citizen signed: a key id links that person's events just as well.

Who sees everything is the registry's rule too (:meth:`Viewer.sees_internal`). Hashes,
signatures and proofs are left as they are: the gateway checks each proof against the full
event before it redacts, and an answer names every path it redacted (``redacted_fields``).
"""

from __future__ import annotations

import re
from typing import Any, Final

from govchain.services.registry.access import FIELDS, Level, Viewer

REDACTED: Final[dict[str, bool]] = {"redacted": True}
"""What stands in place of a value the viewer may not see, everywhere the gateway answers."""

HIDDEN_DATA_FIELDS: Final = frozenset(
    name for table in FIELDS.values() for name, level in table.items() if level is not Level.PUBLIC
)
"""Event data fields kept from the public: those the registry keeps from the public in a record."""

_PSEUDONYM = re.compile(r"(?<![0-9a-z-])c-[0-9a-f]{32}(?![0-9a-f])")
"""A citizen's pseudonym (``govchain.protocol.events.CITIZEN_PATTERN``) anywhere in a string,
e.g. inside a DID or a ``source/id`` reference."""


def names_a_citizen(value: Any) -> bool:
    """Whether ``value`` holds a citizen's pseudonym anywhere inside it."""
    if isinstance(value, str):
        return _PSEUDONYM.search(value) is not None
    if isinstance(value, dict):
        return any(names_a_citizen(v) for v in value.values())
    if isinstance(value, list):
        return any(names_a_citizen(v) for v in value)
    return False


def _is_envelope(value: dict[str, Any]) -> bool:
    return "specversion" in value and isinstance(value.get("data"), dict) and "signer" in value


def public_view(value: Any, path: str = "") -> tuple[Any, list[str]]:
    """``value`` (any answer: an event, a block, a receipt, a list of sources) as the public
    may see it, and the dotted paths of what was redacted. Pure; ``value`` is not changed."""
    if isinstance(value, str):
        return (REDACTED, [path]) if names_a_citizen(value) else (value, [])
    if isinstance(value, list):
        items = [public_view(item, f"{path}.{index}" if path else str(index)) for index, item in enumerate(value)]
        return [shown for shown, _ in items], [p for _, paths in items for p in paths]
    if not isinstance(value, dict):
        return value, []
    shown: dict[str, Any] = {}
    redacted: list[str] = []
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key == "data" and _is_envelope(value):
            data = {
                name: REDACTED if name in HIDDEN_DATA_FIELDS or names_a_citizen(v) else v for name, v in item.items()
            }
            redacted += [f"{where}.{name}" for name, v in data.items() if v is REDACTED]
            shown[key] = data
        elif key == "signer" and _is_envelope(value) and names_a_citizen(value.get("source")):
            shown[key] = REDACTED
            redacted.append(where)
        else:
            shown[key], paths = public_view(item, where)
            redacted += paths
    return shown, redacted


def shown_to(viewer: Viewer, answer: dict[str, Any]) -> dict[str, Any]:
    """``answer`` as ``viewer`` may see it, saying as whom (``visibility``, as the registry's
    answers do) and what was redacted (``redacted_fields``: empty when nothing was)."""
    if viewer.sees_internal():
        return {**answer, "visibility": viewer.label, "redacted_fields": []}
    shown, redacted = public_view(answer)
    return {**shown, "visibility": viewer.label, "redacted_fields": redacted}


def public_error(detail: dict[str, Any]) -> dict[str, Any]:
    """An error's detail as the public may see it: pseudonyms cut out of its message (an
    ambiguous id's message names the sources that used it), its other parts as answers are."""
    shown, _ = public_view({key: value for key, value in detail.items() if key != "message"})
    return {**shown, "message": _PSEUDONYM.sub("[redacted]", str(detail.get("message", "")))}


def is_redacted(value: Any) -> bool:
    return isinstance(value, dict) and value == REDACTED
