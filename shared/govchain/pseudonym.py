"""Citizens' pseudonymous ids: a keyed HMAC of the national id.

The national id never reaches the chain. Without the pseudonym key nobody can test a
guessed national id against the chain (a plain hash could be brute-forced over the small
space of national ids); with it, every department maps one citizen to one id.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from govchain.crypto import CryptoSuite
from govchain.privatefiles import read_secret_file
from govchain.protocol.errors import KeyFileError

PSEUDONYM_BYTES = 16


def pseudonym(national_id: str, key: bytes, *, suite: CryptoSuite) -> str:
    """``c-`` + 128 bits of the chain suite's keyed MAC of the normalised national id, as on
    chain: HMAC-SHA-256 on an ``intl`` chain, HMAC-SM3 on a ``gm`` one. ``suite`` has no
    default: a caller that forgot it would silently compute another chain's pseudonym."""
    normalised = "".join(national_id.split()).upper().encode()
    if not normalised:
        raise ValueError("a national id is required")
    digest = suite.mac(key, normalised)[:PSEUDONYM_BYTES]
    return "c-" + digest.hex()


def create_pseudonym_key(path: Path) -> None:
    """Write a fresh random key (hex), readable by the owner only; never overwrite one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")


def load_pseudonym_key(path: Path) -> bytes:
    text = read_secret_file(path, what="pseudonym key", error=KeyFileError).decode("ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise KeyFileError(f"pseudonym key {path} is not hex") from exc
    if len(key) < 32:
        raise KeyFileError(f"pseudonym key {path} is shorter than 32 bytes")
    return key
