"""Sealed fields: AES-256-GCM per subject, bound to subject, key version and context."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError

from govchain.privacy.fields import (
    SUBJECT_PATTERN,
    SealedField,
    SealedFieldError,
    b64url_decode,
    b64url_encode,
    is_sealed,
    open_sealed,
    seal,
)
from govchain.protocol.errors import CanonicalizationError, GovChainError
from govchain.protocol.events import CITIZEN_PATTERN

SUBJECT = "c-" + "ab" * 16
OTHER_SUBJECT = "c-" + "cd" * 16
KEY = bytes(range(32))
CONTEXT = "business.registered/owner_details/B-001"


def sealed(value: Any = "Ada Lovelace", **overrides: Any) -> SealedField:
    args: dict[str, Any] = {"subject": SUBJECT, "key": KEY, "key_version": 1, "context": CONTEXT}
    return seal(value, **{**args, **overrides})


def altered(field: SealedField, **changes: Any) -> SealedField:
    """The field with some JSON members replaced, validated as if read back from a payload."""
    return SealedField.model_validate({**field.model_dump(), **changes})


def flip_first_byte(text: str) -> str:
    data = bytearray(b64url_decode(text))
    data[0] ^= 0x01
    return b64url_encode(bytes(data))


@pytest.mark.parametrize(
    "value",
    [
        "Ada Lovelace",
        "",
        "Zoë ✓ 𝄞",
        0,
        -42,
        2**53 - 1,
        3.25,
        1e17,  # canonical JSON writes it "100000000000000000"; it must come back a float
        True,
        None,
        [1, "two", [3.5]],
        {"name": "Ada", "address": {"street": "1 Main St", "zip": "12345"}, "children": [{"age": 7}]},
    ],
)
def test_round_trip(value: Any) -> None:
    assert open_sealed(sealed(value), key=KEY, context=CONTEXT) == value


def test_round_trip_through_payload_json() -> None:
    field = sealed({"phone": "+1 555 0100"})
    reread = SealedField.model_validate_json(field.model_dump_json())
    assert reread == field
    assert open_sealed(reread, key=KEY, context=CONTEXT) == {"phone": "+1 555 0100"}


def test_shape_on_chain() -> None:
    field = sealed()
    assert set(field.model_dump()) == {"enc", "subject", "key_version", "nonce", "ct"}
    assert field.enc == "aes-256-gcm"
    assert (field.subject, field.key_version) == (SUBJECT, 1)
    assert len(b64url_decode(field.nonce)) == 12
    assert "Ada" not in field.model_dump_json()


def test_same_value_seals_differently_each_time() -> None:
    first, second = sealed(), sealed()
    assert first.nonce != second.nonce
    assert first.ct != second.ct


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda f: altered(f, ct=flip_first_byte(f.ct)), id="ct"),
        pytest.param(lambda f: altered(f, ct=b64url_encode(b64url_decode(f.ct)[:-1])), id="truncated-ct"),
        pytest.param(lambda f: altered(f, nonce=flip_first_byte(f.nonce)), id="nonce"),
        pytest.param(lambda f: altered(f, subject=OTHER_SUBJECT), id="subject"),
        pytest.param(lambda f: altered(f, key_version=2), id="key_version"),
    ],
)
def test_tampering_fails(tamper: Any) -> None:
    with pytest.raises(SealedFieldError, match="tampered with, or the key or context is wrong"):
        open_sealed(tamper(sealed()), key=KEY, context=CONTEXT)


def test_wrong_key_fails() -> None:
    with pytest.raises(SealedFieldError):
        open_sealed(sealed(), key=os.urandom(32), context=CONTEXT)


def test_wrong_context_fails() -> None:
    # The same owner's details copied into another business's record do not open there.
    with pytest.raises(SealedFieldError, match="B-002"):
        open_sealed(sealed(), key=KEY, context="business.registered/owner_details/B-002")


def test_sealed_field_error_is_a_govchain_error() -> None:
    assert issubclass(SealedFieldError, GovChainError)


def test_key_bytes_never_appear_in_errors_or_reprs() -> None:
    field = sealed()
    with pytest.raises(SealedFieldError) as wrong_key:
        open_sealed(field, key=bytes(32), context=CONTEXT)
    with pytest.raises(ValueError) as short_key:
        seal("x", subject=SUBJECT, key=KEY[:16], key_version=1, context=CONTEXT)
    for text in (str(wrong_key.value), str(short_key.value), repr(field)):
        assert KEY.hex() not in text and repr(KEY) not in text and repr(KEY[:16]) not in text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"key": b"\x00" * 16}, "32 bytes"),
        ({"subject": "1985-03-07-1234"}, "pseudonymous id"),
        ({"subject": "c-" + "AB" * 16}, "pseudonymous id"),
        ({"key_version": 0}, "positive integer"),
        ({"key_version": True}, "positive integer"),
        ({"context": ""}, "context"),
    ],
)
def test_seal_refuses_bad_arguments(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sealed(**overrides)


def test_seal_refuses_values_without_canonical_json() -> None:
    with pytest.raises(CanonicalizationError):
        sealed(2**60)
    with pytest.raises(CanonicalizationError):
        sealed(float("nan"))


def test_open_refuses_empty_context() -> None:
    with pytest.raises(ValueError, match="context"):
        open_sealed(sealed(), key=KEY, context="")


def valid_json() -> dict[str, Any]:
    return sealed().model_dump()


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"enc": "aes-128-gcm"}, id="other-enc"),
        pytest.param({"subject": "did:gov:alice"}, id="subject-not-pseudonym"),
        pytest.param({"key_version": 0}, id="key-version-zero"),
        pytest.param({"key_version": "1"}, id="key-version-string"),
        pytest.param({"key_version": True}, id="key-version-bool"),
        pytest.param({"nonce": b64url_encode(bytes(8))}, id="short-nonce"),
        pytest.param({"nonce": b64url_encode(bytes(12)) + "=="}, id="padded-nonce"),
        pytest.param({"nonce": "AAAAAAAAAAAAAAA+"}, id="nonce-not-urlsafe"),
        pytest.param({"ct": b64url_encode(bytes(16))}, id="ct-only-a-tag"),
        pytest.param({"ct": "AB"}, id="ct-non-canonical-trailing-bits"),
        pytest.param({"ct": "not base64!"}, id="ct-garbage"),
        pytest.param({"extra": 1}, id="extra-member"),
    ],
)
def test_sealed_field_rejects_bad_shapes(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SealedField.model_validate({**valid_json(), **changes})


@pytest.mark.parametrize("missing", ["enc", "subject", "key_version", "nonce", "ct"])
def test_sealed_field_requires_every_member(missing: str) -> None:
    data = valid_json()
    del data[missing]
    with pytest.raises(ValidationError):
        SealedField.model_validate(data)


def test_sealed_field_is_frozen() -> None:
    with pytest.raises(ValidationError):
        sealed().key_version = 2  # type: ignore[misc]


def test_usable_as_a_payload_field_type() -> None:
    class BusinessRegistered(BaseModel):
        model_config = ConfigDict(frozen=True, extra="forbid")
        business_id: str
        owner_details: SealedField

    owner = sealed({"name": "Ada"})
    payload = BusinessRegistered.model_validate({"business_id": "B-001", "owner_details": owner.model_dump()})
    assert open_sealed(payload.owner_details, key=KEY, context=CONTEXT) == {"name": "Ada"}
    with pytest.raises(ValidationError):
        BusinessRegistered.model_validate({"business_id": "B-001", "owner_details": "Ada"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (sealed().model_dump(), True),
        ({"enc": "aes-256-gcm"}, True),  # malformed, but marked: must not pass for a clear value
        ({"enc": "none", "ct": "x"}, False),
        ({"name": "Ada"}, False),
        ("aes-256-gcm", False),
        (["aes-256-gcm"], False),
        (None, False),
    ],
)
def test_is_sealed(value: Any, expected: bool) -> None:
    assert is_sealed(value) is expected


def test_subject_pattern_is_the_citizen_pattern() -> None:
    assert SUBJECT_PATTERN == CITIZEN_PATTERN


SAFE_INT = st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | SAFE_INT | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)


@settings(max_examples=50, deadline=None)
@given(value=JSON_VALUES, key=st.binary(min_size=32, max_size=32), context=st.text(min_size=1, max_size=40))
def test_round_trip_property(value: Any, key: bytes, context: str) -> None:
    field = SealedField.model_validate_json(sealed(value, key=key, context=context).model_dump_json())
    # JSON has one number type: 1.0 comes back as 1 and -0.0 as 0, which compare equal.
    assert open_sealed(field, key=key, context=context) == value
