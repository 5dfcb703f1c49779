"""Independent implementations used only as oracles in these tests.

* ``gmssl`` (PyPI, pure Python, duanhongyi/gmssl): SM2, SM3, SM4 written from the standards
  without GmSSL or OpenSSL, so agreeing with it is evidence, not an echo.
* the ``openssl`` command line (OpenSSL 3's SM2), when the machine has one with SM2.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from gmssl import sm2 as _sm2
from gmssl import sm3 as _sm3

VECTORS = Path(__file__).parent / "vectors"


def vector(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def sm3(data: bytes) -> bytes:
    return bytes.fromhex(_sm3.sm3_hash(list(data)))


def _crypt(public: bytes, private: bytes | None = None) -> _sm2.CryptSM2:
    c = _sm2.CryptSM2(private_key=private.hex() if private else None, public_key="00")
    # Set after construction: the constructor's lstrip("04") would eat an x starting with 04.
    c.public_key = public[1:].hex()
    return c


def sign(private: bytes, public: bytes, message: bytes) -> bytes:
    """SM2 signature (default ID, SM3 with Z) as raw r || s."""
    return bytes.fromhex(_crypt(public, private).sign_with_sm3(message))


def sign_digest_with_k(private: bytes, public: bytes, digest: bytes, k: bytes) -> bytes:
    """The signing equation over e with a caller-chosen k (for the standard's fixed-k example)."""
    return bytes.fromhex(_crypt(public, private).sign(digest, k.hex()))


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    return bool(_crypt(public).verify_with_sm3(signature.hex(), message))


def public_of(private: bytes) -> bytes:
    c = _sm2.CryptSM2(private_key=private.hex(), public_key="00")
    return b"\x04" + bytes.fromhex(c._kg(int.from_bytes(private, "big"), c.ecc_table["g"]))


@functools.cache
def openssl_with_sm2() -> str | None:
    """Path of an ``openssl`` that can sign with SM2 here, else None (tests then skip)."""
    path = shutil.which("openssl")
    if path is None:
        return None
    try:
        out = subprocess.run(
            [path, "list", "-public-key-algorithms"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return path if "SM2" in out else None
