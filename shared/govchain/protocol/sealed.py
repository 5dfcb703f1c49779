"""Sealed fields: personal data, encrypted for the person it concerns, inside event payloads.

An event payload never carries a personal value in clear. In its place sits a
:class:`SealedField`, the value's RFC 8785 canonical JSON encrypted with the chain's AEAD
(AES-256-GCM on an ``intl`` chain, SM4-GCM on a ``gm`` one, named by ``enc``) under
the data key of its *subject* (the pseudonymous person it concerns). The key stays off
chain (see :mod:`govchain.privacy.vault`); destroying it makes every ciphertext of that
subject unreadable while blocks, hashes and signatures still verify, because they cover
the ciphertext, never the clear value.

The associated data binds the encryption scheme, subject, key version and a caller-chosen
*context* naming where the value lives (e.g. ``"business.registered/owner_details/B-001"``):
a ciphertext copied into another record, or relabelled with another subject or key
version, fails to authenticate instead of decrypting under a false label.

The format of a sealed field is part of the protocol (it is what a block carries and what
every verifier hashes), so it lives here; :mod:`govchain.privacy` keeps the keys. This module
is pure: no I/O, no key storage, no logging.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from govchain.crypto import GM, INTL, CryptoSuite, DecryptionError
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.errors import GovChainError

ENC: Final = "aes-256-gcm"
"""The ``intl`` suite's scheme; a gm chain's fields say ``sm4-gcm`` (:func:`enc_of`)."""
SUITES_BY_ENC: Final[dict[str, CryptoSuite]] = {suite.aead_name.lower(): suite for suite in (INTL, GM)}
"""``enc`` tag → the suite whose AEAD it names: a sealed field says how it opens."""
KEY_BYTES = 32
"""An ``intl`` data key (AES-256); a gm one (SM4) is 16 bytes: ``suite.aead_key_size``."""
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_SAFE_INTEGER = 2**53 - 1

SUBJECT_PATTERN = r"^c-[0-9a-f]{32}$"
"""A subject is a citizen's pseudonymous id (``govchain.protocol.events.CITIZEN_PATTERN``).

Kept here rather than imported, so that sealing needs nothing of the event types and
payload models can use :class:`SealedField` without an import cycle (a test pins the two
equal). The subject sits in clear beside the ciphertext, so anything but a pseudonym (a
national id, a name) is refused.
"""
_SUBJECT = re.compile(SUBJECT_PATTERN)
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class SealedFieldError(GovChainError):
    """A sealed field does not open: tampered, sealed under another key, or another context."""


class SealedField(BaseModel):
    """The JSON object that stands in an event payload in place of a personal value.

    ``nonce`` and ``ct`` (ciphertext followed by the 16-byte GCM tag) are unpadded
    base64url, in their one canonical spelling, so one sealed value has one JSON form and
    one hash. Usable as a field type in payload models.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enc: Literal["aes-256-gcm", "sm4-gcm"]
    subject: str = Field(pattern=SUBJECT_PATTERN)
    key_version: int = Field(ge=1, strict=True)
    nonce: str = Field(description=f"base64url, {NONCE_BYTES} bytes")
    ct: str = Field(description="base64url: ciphertext then GCM tag")

    @field_validator("nonce")
    @classmethod
    def _nonce_is_12_bytes(cls, value: str) -> str:
        if len(b64url_decode(value)) != NONCE_BYTES:
            raise ValueError(f"nonce must encode {NONCE_BYTES} bytes")
        return value

    @field_validator("ct")
    @classmethod
    def _ct_holds_a_tag(cls, value: str) -> str:
        # The shortest canonical JSON is one byte ("0"), so a real ciphertext is longer than the tag.
        if len(b64url_decode(value)) <= TAG_BYTES:
            raise ValueError(f"ct must encode more than the {TAG_BYTES}-byte tag")
        return value


def enc_of(suite: CryptoSuite) -> str:
    """The ``enc`` tag of ``suite``'s AEAD: ``aes-256-gcm`` or ``sm4-gcm``."""
    return suite.aead_name.lower()


def seal(
    value: Any, *, subject: str, key: bytes, key_version: int, context: str, suite: CryptoSuite = INTL
) -> SealedField:
    """Encrypt a JSON value for ``subject`` under its data key, bound to ``context``.

    A fresh random 96-bit nonce is drawn each time, so sealing the same value twice gives
    different ciphertexts and nobody can tell from the chain that two values are equal.
    Raises :class:`~govchain.protocol.errors.CanonicalizationError` for a value that is not
    JSON (or not canonicalizable, e.g. an integer beyond 2**53) and ``ValueError`` for a
    malformed subject, key, key version or context.
    """
    check_subject(subject)
    _check_key(key, suite)
    if isinstance(key_version, bool) or not isinstance(key_version, int) or key_version < 1:
        raise ValueError("key_version must be a positive integer")
    plaintext = canonical_bytes(value)
    nonce = secrets.token_bytes(NONCE_BYTES)
    enc = enc_of(suite)
    aad = _associated_data(subject, key_version, context, enc)
    ct = suite.seal(key, nonce, plaintext, aad)
    return SealedField.model_validate(
        {
            "enc": enc,
            "subject": subject,
            "key_version": key_version,
            "nonce": b64url_encode(nonce),
            "ct": b64url_encode(ct),
        }
    )


def open_sealed(field: SealedField, *, key: bytes, context: str) -> Any:
    """Decrypt a sealed field with its subject's data key; the clear JSON value.

    Raises :class:`SealedFieldError` when the field does not authenticate: its ciphertext,
    nonce, subject or key version was altered, the key is not the one it was sealed with,
    or ``context`` is not the one it was sealed for. GCM cannot tell these apart.
    """
    suite = SUITES_BY_ENC[field.enc]
    _check_key(key, suite)
    aad = _associated_data(field.subject, field.key_version, context, field.enc)
    try:
        plaintext = suite.open(key, b64url_decode(field.nonce), b64url_decode(field.ct), aad)
    except DecryptionError:
        raise SealedFieldError(
            f"sealed field of subject {field.subject} (key version {field.key_version}) does not open "
            f"in context {context!r}: it was tampered with, or the key or context is wrong"
        ) from None
    try:
        return json.loads(plaintext, parse_int=_parse_int)
    except (UnicodeDecodeError, json.JSONDecodeError):
        # Authentic but not JSON: sealed by something other than seal() with this key.
        raise SealedFieldError(f"sealed field of subject {field.subject} does not hold JSON") from None


def is_sealed(value: Any) -> bool:
    """Whether a raw JSON value is marked as a sealed field (a dict with ``enc`` = aes-256-gcm).

    Only the marker is checked, on purpose: a malformed sealed field must still be treated
    as sealed, so that it fails validation with :meth:`SealedField.model_validate` rather
    than being mistaken for a clear value.
    """
    return isinstance(value, dict) and value.get("enc") in SUITES_BY_ENC


def check_subject(subject: str) -> str:
    """The subject itself if it is a pseudonymous id, else ``ValueError``."""
    if not isinstance(subject, str) or not _SUBJECT.fullmatch(subject):
        raise ValueError(f"subject must be a pseudonymous id matching {SUBJECT_PATTERN}")
    return subject


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url (RFC 4648 section 5), as in JOSE."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url, accepting only the canonical spelling of the bytes.

    Non-canonical spellings (padding, stray trailing bits) are refused so that one byte
    string has exactly one textual form on chain.
    """
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not unpadded base64url") from exc
    if b64url_encode(data) != text:
        raise ValueError("not the canonical base64url spelling")
    return data


def _parse_int(literal: str) -> int | float:
    """An integer literal beyond 2**53 can only be a double: canonical_bytes refuses such ints
    and writes integral doubles such as 1e17 without a fraction ("100000000000000000")."""
    number = int(literal)
    return number if abs(number) <= MAX_SAFE_INTEGER else float(number)


def _associated_data(subject: str, key_version: int, context: str, enc: str = ENC) -> bytes:
    """Canonical JSON of everything the ciphertext is bound to; unambiguous, unlike a join."""
    if not isinstance(context, str) or not context:
        raise ValueError("context must be a non-empty string naming where the value lives")
    return canonical_bytes({"context": context, "enc": enc, "key_version": key_version, "subject": subject})


def _check_key(key: bytes, suite: CryptoSuite = INTL) -> None:
    # The message names the expected length only: key bytes never reach an exception.
    if not isinstance(key, bytes) or len(key) != suite.aead_key_size:
        raise ValueError(f"a data key is {suite.aead_key_size} bytes ({suite.aead_name})")
