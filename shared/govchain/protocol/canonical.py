"""Canonical bytes (RFC 8785 JCS) and the hashes taken over them.

Everything GovChain hashes or signs goes through :func:`canonical_bytes`, so two
parties that hold the same JSON value always derive the same bytes and hashes.

The ``rfc8785`` package is the reference; it is pure Python and costs ~40 µs for an
event, three times per event on the orderer's hot path. For the JSON values events are
made of (strings, booleans, null, safe integers, ASCII keys) the standard library's C
encoder, with sorted keys and no whitespace, writes exactly the JCS bytes: the same string
escapes, and code-point order equals UTF-16 order for ASCII keys. Anything else (floats,
whose ECMAScript formatting differs from Python's; non-ASCII keys; other types) goes to
``rfc8785``. A property test holds the two paths equal.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable
from typing import Any

import rfc8785

from govchain.protocol.errors import CanonicalizationError


class NestingTooDeep(CanonicalizationError):
    """A value nests deeper than Python can walk: malformed input more than a value without a form."""


SAFE_INTEGER = 2**53 - 1
"""The largest integer every JSON reader holds exactly (RFC 8785 refuses anything beyond)."""
_encode_plain = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")).encode


def _is_plain(value: Any) -> bool:
    """True when the C encoder's output for ``value`` is its JCS form (see module docstring)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-SAFE_INTEGER <= value <= SAFE_INTEGER)
    if kind is dict or kind is list or kind is tuple:
        return plain_within(value, sys.maxsize)
    return False


def plain_within(value: dict[str, Any] | list[Any] | tuple[Any, ...], levels: int) -> bool:
    """True when the container ``value`` nests at most ``levels`` levels (itself counted) and
    holds only what the C encoder writes as RFC 8785: strings, booleans, null, integers within
    ±(2**53 - 1), objects with ASCII keys, arrays. (No floats: their ECMAScript form differs.)
    The fast paths bound ``levels`` as their readers bound depth; :func:`_is_plain` does not."""
    if levels <= 0:
        return False
    items: Iterable[Any] = value
    if type(value) is dict:
        for key in value:
            if type(key) is not str or not key.isascii():
                return False
        items = value.values()
    for item in items:
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if not -SAFE_INTEGER <= item <= SAFE_INTEGER:
                return False
        elif kind is dict or kind is list or kind is tuple:
            if not plain_within(item, levels - 1):
                return False
        else:
            return False
    return True


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value."""
    try:
        if _is_plain(value):
            return _encode_plain(value).encode("utf-8")
        return rfc8785.dumps(value)
    except UnicodeEncodeError as exc:  # a lone surrogate: not UTF-8, so not JSON text
        raise CanonicalizationError("value cannot be canonicalized: input contains non-UTF-8 codepoints") from exc
    except RecursionError as exc:  # readers bound depth first (jsontext); this is the backstop
        raise NestingTooDeep("value cannot be canonicalized: it nests too deeply") from exc
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalizationError(f"value cannot be canonicalized: {exc}") from exc


def reference_canonical_bytes(value: Any) -> bytes:
    """RFC 8785 by the ``rfc8785`` package alone: the yardstick for :func:`canonical_bytes`."""
    return rfc8785.dumps(value)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_hash(value: Any) -> str:
    """Hex SHA-256 over the canonical bytes of a JSON value."""
    return sha256_hex(canonical_bytes(value))
