"""PEM armour (RFC 7468) for DER the ``cryptography`` package cannot parse (SM2 keys).

Strict on purpose: one block, the expected label, standard base64 only; anything else is a
:class:`KeyFormatError`, never a best guess.
"""

from __future__ import annotations

import base64
import binascii

from govchain.crypto.errors import KeyFormatError


def armor(der: bytes, label: str) -> bytes:
    """DER to PEM with 64-column lines, as OpenSSL writes it."""
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return ("\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n").encode()


def dearmor(pem: bytes, label: str) -> bytes:
    """PEM to DER: exactly one ``label`` block, nothing but whitespace around it."""
    try:
        text = pem.decode("ascii").strip()
    except (UnicodeDecodeError, AttributeError) as exc:
        raise KeyFormatError("PEM must be ASCII bytes") from exc
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    if not (text.startswith(begin) and text.endswith(end)):
        raise KeyFormatError(f"not a PEM {label} block")
    body = "".join(text[len(begin) : -len(end)].split())
    if "-----" in body:
        raise KeyFormatError("more than one PEM block")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError(f"bad base64 in PEM {label}") from exc
