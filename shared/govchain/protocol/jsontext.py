"""Reading JSON text from outside: strict, and bounded before the parser runs.

Everything GovChain takes from the wire (events, batches, blocks, requests) is read here.
Three rules keep hostile bytes harmless:

- **Depth is bounded before parsing.** A 1.4 KB event nesting 500 levels parses, and then
  every recursive step after it (canonicalisation, validation) overflows Python's stack.
  :func:`nesting_depth` measures the text with regular expressions and a C-level scan, never
  by recursion, so no input depth can hurt it.
- **One object, valid UTF-8, no duplicate keys** (duplicates would make a signature's meaning
  ambiguous: two readers could keep different values).
- **Numbers keep their JSON meaning** (see :func:`_json_int`).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from govchain.protocol.canonical import SAFE_INTEGER, canonical_bytes
from govchain.protocol.errors import CanonicalizationError, GovChainError

MAX_EVENT_DEPTH = 32
"""Nesting an event may have, its envelope object counted as level 1. The deepest event
GovChain defines (a contract deployment) nests 9 levels."""
MAX_JSON_DEPTH = 64
"""Nesting any other JSON document read from outside may have."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class JsonTooDeep(GovChainError, ValueError):
    """A document nests deeper than its limit; refused before it is parsed."""


def nesting_depth(raw: bytes) -> int:
    """How deep the arrays and objects of JSON text nest (0 for a scalar), in linear time.

    Strings are cut out first, so brackets inside them do not count. On text that is not
    JSON the figure may be wrong, but it is never lower than a parser would reach."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def check_depth(raw: bytes, *, what: str, max_depth: int) -> None:
    if raw.count(b"[") + raw.count(b"{") <= max_depth:  # cannot nest deeper: skip the scan
        return
    depth = nesting_depth(raw)
    if depth > max_depth:
        raise JsonTooDeep(f"{what} nests {depth} levels deep; the limit is {max_depth}")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate JSON key {key!r}")
        result[key] = value
    return result


def _json_int(digits: str) -> int | float:
    """JSON numbers are IEEE 754 doubles (RFC 8785 §3.2.2.3): an integral double of 2**53 or
    more is written as plain digits, so digits beyond the safe range that are a double's
    canonical form are read back as that double. Other big integers stay ints and fail
    canonicalization, as they must: rounding 2**53 + 1 would change what was meant."""
    if len(digits) > 400:  # beyond any double; and int() of huge digit strings is slow
        raise ValueError(f"a number of {len(digits)} digits is beyond what JSON can mean")
    number = int(digits)
    if -SAFE_INTEGER <= number <= SAFE_INTEGER:
        return number
    try:
        double = float(number)
        return double if canonical_bytes(double) == digits.encode() else number
    except (OverflowError, CanonicalizationError):
        return number


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(raw: bytes, *, what: str, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """Strict JSON: one object, UTF-8, no duplicate keys, no NaN or Infinity, nesting at most
    ``max_depth``.

    Raises :class:`ValueError` (:class:`JsonTooDeep` for depth) with a readable reason."""
    check_depth(raw, what=what, max_depth=max_depth)
    try:
        value = json.loads(raw, object_pairs_hook=_no_duplicate_keys, parse_int=_json_int, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object")
    return value
