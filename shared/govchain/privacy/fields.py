"""Sealed fields, by their older name: they live in :mod:`govchain.protocol.sealed`.

A sealed field is part of what an event carries on chain, so the protocol layer defines it
and the privacy layer (the vault, the KEK) uses it, never the other way round. This module
only re-exports it for code written against ``govchain.privacy.fields``.
"""

from govchain.protocol.sealed import (
    ENC,
    KEY_BYTES,
    MAX_SAFE_INTEGER,
    NONCE_BYTES,
    SUBJECT_PATTERN,
    TAG_BYTES,
    SealedField,
    SealedFieldError,
    b64url_decode,
    b64url_encode,
    check_subject,
    is_sealed,
    open_sealed,
    seal,
)

__all__ = [
    "ENC",
    "KEY_BYTES",
    "MAX_SAFE_INTEGER",
    "NONCE_BYTES",
    "SUBJECT_PATTERN",
    "TAG_BYTES",
    "SealedField",
    "SealedFieldError",
    "b64url_decode",
    "b64url_encode",
    "check_subject",
    "is_sealed",
    "open_sealed",
    "seal",
]
