"""Canonical bytes (RFC 8785 JCS) and the hashes taken over them.

Everything GovChain hashes or signs goes through :func:`canonical_bytes`, so two
parties that hold the same JSON value always derive the same bytes and hashes.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from govchain.protocol.errors import CanonicalizationError


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalizationError(f"value cannot be canonicalized: {exc}") from exc


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_hash(value: Any) -> str:
    """Hex SHA-256 over the canonical bytes of a JSON value."""
    return sha256_hex(canonical_bytes(value))
