"""What both typed fast paths share: the verifier's reader of the signed normal form
(:mod:`govchain.protocol.verify`) and the ledger's intake (:mod:`govchain.protocol.fastpath`).

Field patterns ready for ``fullmatch``, a memo of values that matched one, an RFC 8785 encoder
for plain JSON, and pydantic models built without validation. Each fast path checks what it
reads by exact type and these patterns and then holds its bytes to the canonical encoding, so
nothing here validates anything on its own.
"""

from __future__ import annotations

import json
import re
from typing import Any

from govchain.protocol.envelope import (
    EVENT_ID_PATTERN,
    HEX64_PATTERN,
    MAX_SUBJECT,
    PRINCIPAL_PATTERN,
    TYPE_PATTERN,
)


def anchored(pattern: str) -> re.Pattern[str]:
    """A field pattern for ``fullmatch`` (pydantic's ``$`` never matches before a final newline)."""
    return re.compile(pattern.removeprefix("^").removesuffix("$"))


ID = anchored(EVENT_ID_PATTERN)
PRINCIPAL = anchored(PRINCIPAL_PATTERN)
TYPE = anchored(TYPE_PATTERN)
HEX64 = anchored(HEX64_PATTERN)
HEX128 = re.compile(r"[0-9a-f]{128}")

MEMO_LIMIT = 4096
"""How many values a memo keeps before it starts again (sources, types, signers and batch
signatures repeat from event to event; a set lookup costs a tenth of a regular expression)."""


def matched(pattern: re.Pattern[str], value: str, good: set[str]) -> bool:
    """Whether ``value`` fully matches ``pattern``, remembering it in ``good`` when it does
    (callers look in ``good`` first, inline, on their hot path)."""
    if not pattern.fullmatch(value):
        return False
    if len(good) >= MEMO_LIMIT:
        good.clear()
    good.add(value)
    return True


encode_string = json.encoder.encode_basestring
"""A JSON string as RFC 8785 writes it (UTF-8 kept, the shortest escapes)."""


def subject_member(event: dict[str, Any], has_subject: bool) -> str | None:
    """The ``"subject":"…",`` member of an event's RFC 8785 signing bytes (``""`` for an event
    without one), or None when its subject is not a string the envelope accepts."""
    if not has_subject:
        return ""
    subject = event["subject"]
    if type(subject) is not str or len(subject) > MAX_SUBJECT:
        return None
    return f'"subject":{encode_string(subject)},'


def _not_json(value: object) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


_encode_chunks = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _not_json, encode_string, None, ":", ",", True, False, False
)
"""``json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"))``
made once: ``JSONEncoder.encode`` builds its C encoder anew on every call, which costs more
than encoding a small payload. (No circular-reference check: parsed JSON has no cycles, and
a cycle in a built value ends in RecursionError, which sends the event to the reference path.)"""


def encode_plain(value: Any) -> str:
    """RFC 8785 of plain JSON (strings, safe integers, booleans, null, objects, arrays): what
    the C encoder writes for it (see :mod:`govchain.protocol.canonical`)."""
    return "".join(_encode_chunks(value, 0))


_new = object.__new__
_set = object.__setattr__


def construct(cls: type[Any], values: dict[str, Any], fields_set: set[str]) -> Any:
    """What ``cls.model_construct`` makes, without its per-field Python loop."""
    model = _new(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", fields_set)
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model
