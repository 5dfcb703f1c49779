"""The signed event envelope: signing, canonical wire bytes, strict parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.envelope import (
    EVENT_ID_PATTERN,
    MAX_EVENT_BYTES,
    MAX_LEAF_BYTES,
    PRINCIPAL_PATTERN,
    TYPE_PATTERN,
    Envelope,
    make_event,
    parse_envelope,
)
from govchain.protocol.errors import EventRejected, RejectionReason
from govchain.protocol.keys import SigningKey
from tests.unit.strategies import FINITE, PROPS, SAFE_INT, UTF8_TEXT, json_values

TIME = "2025-03-04T05:06:07.123456Z"


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


def doc_event(key: SigningKey, **kwargs: object) -> Envelope:
    args: dict[str, object] = {
        "source": "tax",
        "type": "document.registered",
        "data": {"document_id": "d-1", "sha256": "ab" * 32, "title": "税务证明 №1"},
        "event_id": "evt-1",
        "time": TIME,
    }
    args.update(kwargs)
    return make_event(key, **args)  # type: ignore[arg-type]


def wire(envelope: Envelope, **changes: object) -> bytes:
    """The envelope's JSON object with fields replaced (None deletes), as bytes."""
    value = envelope.to_dict()
    for name, new in changes.items():
        if new is None:
            value.pop(name, None)
        else:
            value[name] = new
    return json.dumps(value, ensure_ascii=False).encode()


def rejection(raw: bytes) -> RejectionReason:
    with pytest.raises(EventRejected) as info:
        parse_envelope(raw)
    return info.value.reason


def test_make_event_signs_with_the_key(key: SigningKey) -> None:
    event = doc_event(key)
    assert event.signer == key.key_id
    assert event.signature is not None and len(event.signature) == 128
    assert event.has_valid_signature(key.public)
    # The signature is plain Ed25519 over the JCS bytes of the envelope without "signature".
    unsigned = {k: v for k, v in event.to_dict().items() if k != "signature"}
    assert event.signing_bytes() == canonical_bytes(unsigned)
    Ed25519PublicKey.from_public_bytes(key.public.raw).verify(bytes.fromhex(event.signature), canonical_bytes(unsigned))


def test_make_event_defaults(key: SigningKey) -> None:
    a = make_event(key, source="tax", type="document.registered", data={})
    b = make_event(key, source="tax", type="document.registered", data={})
    assert a.id != b.id
    assert a.time.endswith("Z")
    assert (a.specversion, a.datacontenttype, a.schemaversion) == ("1.0", "application/json", 1)


def test_signature_fails_after_changing_data(key: SigningKey) -> None:
    event = doc_event(key)
    changed = event.model_copy(update={"data": {**event.data, "title": "forged"}})
    assert not changed.has_valid_signature(key.public)
    for field, value in [
        ("source", "land"),
        ("id", "evt-2"),
        ("time", "2025-03-04T05:06:08Z"),
        ("schemaversion", 2),
        ("subject", "x"),
        ("type", "document.revoked"),
    ]:
        assert not event.model_copy(update={field: value}).has_valid_signature(key.public), field


def test_signature_fails_with_another_key(key: SigningKey) -> None:
    other = SigningKey.generate()
    event = doc_event(key)
    assert not event.has_valid_signature(other.public)
    # Claiming the other key as signer does not help: its key cannot verify our signature.
    relabelled = event.model_copy(update={"signer": other.key_id})
    assert not relabelled.has_valid_signature(other.public)
    assert not relabelled.has_valid_signature(key.public)
    # Re-signing by the other key makes it the other key's event.
    resigned = event.signed_by(other)
    assert resigned.signer == other.key_id
    assert resigned.has_valid_signature(other.public)
    assert not resigned.has_valid_signature(key.public)


def test_unsigned_envelope(key: SigningKey) -> None:
    unsigned = doc_event(key).model_copy(update={"signature": None})
    assert not unsigned.has_valid_signature(key.public)
    with pytest.raises(ValueError):
        unsigned.to_dict()


def test_to_bytes_is_canonical_and_roundtrips(key: SigningKey) -> None:
    event = doc_event(key)
    raw = event.to_bytes()
    assert raw == canonical_bytes(event.to_dict())
    assert b" " not in raw.replace("税务证明 №1".encode(), b"")
    assert "税务证明".encode() in raw  # UTF-8, not \u-escaped
    keys = list(json.loads(raw))
    assert keys == sorted(keys)
    assert parse_envelope(raw) == event
    # A non-canonical rendering of the same value parses to the same envelope.
    assert parse_envelope(json.dumps(event.to_dict(), indent=2).encode()) == event


def test_subject_omitted_when_none(key: SigningKey) -> None:
    event = doc_event(key)
    assert event.subject is None
    assert "subject" not in event.to_dict()
    assert b'"subject"' not in event.to_bytes()
    with_subject = doc_event(key, subject="license/42")
    assert with_subject.to_dict()["subject"] == "license/42"
    assert with_subject.has_valid_signature(key.public)
    assert parse_envelope(with_subject.to_bytes()).subject == "license/42"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"{",
        b'{"a":1}x',
        b"\xff\xfe{}",
        pytest.param(b"[" * 100_000, id="deep-array"),
        pytest.param(b'{"a":' * 50_000, id="deep-object"),
    ],
)
def test_parse_rejects_non_json(raw: bytes) -> None:
    assert rejection(raw) is RejectionReason.MALFORMED_ENVELOPE


@pytest.mark.parametrize("raw", [b"[]", b'"event"', b"1", b"null", b"true"])
def test_parse_rejects_non_objects(raw: bytes) -> None:
    assert rejection(raw) is RejectionReason.MALFORMED_ENVELOPE


def test_parse_rejects_duplicate_keys(key: SigningKey) -> None:
    raw = doc_event(key).to_bytes()
    top = raw.replace(b'"id":"evt-1"', b'"id":"evt-1","id":"evt-2"')
    nested = raw.replace(b'"title":', b'"title":"x","title":')
    assert top != raw and nested != raw
    assert rejection(top) is RejectionReason.MALFORMED_ENVELOPE
    assert rejection(nested) is RejectionReason.MALFORMED_ENVELOPE


def test_parse_rejects_missing_or_null_signature(key: SigningKey) -> None:
    event = doc_event(key)
    with pytest.raises(EventRejected, match="not signed") as info:
        parse_envelope(wire(event, signature=None))
    assert info.value.reason is RejectionReason.MALFORMED_ENVELOPE
    assert (
        rejection(event.to_bytes().replace(b'"signature":"' + event.signature.encode() + b'"', b'"signature":null'))
        is RejectionReason.MALFORMED_ENVELOPE
    )
    assert rejection(wire(event, signature="ab" * 63)) is RejectionReason.MALFORMED_ENVELOPE


@pytest.mark.parametrize("bad_id", ["", "has space", "a.b", "a/b", "x" * 65, "évent", "a*"])
def test_parse_rejects_bad_id(key: SigningKey, bad_id: str) -> None:
    assert rejection(wire(doc_event(key), id=bad_id)) is RejectionReason.MALFORMED_ENVELOPE


def test_parse_accepts_id_at_the_pattern_limits(key: SigningKey) -> None:
    for good in ["a", "A-z_0", "x" * 64]:
        event = doc_event(key, event_id=good)
        assert parse_envelope(event.to_bytes()).id == good


@pytest.mark.parametrize(
    "changes",
    [
        {"source": "Tax"},
        {"source": "tax.sub"},
        {"type": "Document"},
        {"type": "document"},
        {"schemaversion": 0},
        {"specversion": "0.3"},
        {"datacontenttype": "text/plain"},
        {"schemaversion": 1.0},
        {"schemaversion": "1"},
        {"schemaversion": True},
        {"data": ["not", "an", "object"]},
        {"signer": "AB" * 32},
        {"signature": "xy" * 64},
        {"extra": "field"},
        {"source": None},
    ],
)
def test_parse_rejects_malformed_fields(key: SigningKey, changes: dict[str, object]) -> None:
    assert rejection(wire(doc_event(key), **changes)) is RejectionReason.MALFORMED_ENVELOPE


@pytest.mark.parametrize(
    "bad_time",
    [
        "yesterdayZ",
        "20250304T050607Z",
        "2025-03-04 05:06:07Z",
        "2025-03-04T05:06:07",
        "2025-03-04T05:06:07.1234567890Z",
        "2025-13-04T05:06:07Z",
        "2025-03-04T25:06:07Z",
        "2025-03-04t05:06:07z",
        "2025-03-04T05:06:07+0800",
        "2025-03-04T05:06Z",
        1741064767,
    ],
)
def test_parse_refuses_a_time_that_is_not_rfc3339_as_invalid_time(key: SigningKey, bad_time: object) -> None:
    assert rejection(wire(doc_event(key), time=bad_time)) is RejectionReason.INVALID_TIME


@pytest.mark.parametrize(
    "good_time",
    [
        "2025-03-04T05:06:07Z",
        "2025-03-04T05:06:07.123456789Z",
        "2025-03-04T05:06:07+08:00",
        "2025-03-04T05:06:07-00:00",
    ],
)
def test_parse_accepts_rfc3339_with_z_or_an_offset(key: SigningKey, good_time: str) -> None:
    raw = wire(doc_event(key), time=good_time)
    assert parse_envelope(raw).time == good_time


@pytest.mark.parametrize("bad_number", [b"NaN", b"Infinity", b"-Infinity", b"9007199254740993", b"1e400"])
def test_parse_rejects_values_that_cannot_be_canonicalized(key: SigningKey, bad_number: bytes) -> None:
    # Nothing can sign or hash such an event, so it is malformed, not a crash later on.
    raw = doc_event(key, data={"n": 1}).to_bytes().replace(b'"n":1', b'"n":' + bad_number)
    assert rejection(raw) is RejectionReason.MALFORMED_ENVELOPE


def test_parse_rejects_lone_surrogates(key: SigningKey) -> None:
    raw = doc_event(key, data={"s": "x"}).to_bytes().replace(b'"s":"x"', b'"s":"\\ud800"')
    assert rejection(raw) is RejectionReason.MALFORMED_ENVELOPE


def _padded(key: SigningKey, size: int) -> bytes:
    """A signed event whose wire bytes are exactly ``size`` long."""
    base = doc_event(key, data={"pad": ""}).to_bytes()
    padded = doc_event(key, data={"pad": "x" * (size - len(base))}).to_bytes()
    assert len(padded) == size
    return padded


def test_parse_accepts_an_event_of_exactly_the_limit(key: SigningKey) -> None:
    event = parse_envelope(_padded(key, MAX_LEAF_BYTES))  # its leaf fits a tlog-tiles entry bundle
    assert event.has_valid_signature(key.public)
    with pytest.raises(EventRejected) as info:
        parse_envelope(_padded(key, MAX_LEAF_BYTES + 1))
    assert info.value.reason is RejectionReason.OVERSIZED


def test_parse_rejects_oversized_before_parsing(key: SigningKey) -> None:
    with pytest.raises(EventRejected) as info:
        parse_envelope(_padded(key, MAX_EVENT_BYTES + 1))
    assert info.value.reason is RejectionReason.OVERSIZED
    # Size is checked first: even bytes that are not JSON are "oversized".
    assert rejection(b"x" * (MAX_EVENT_BYTES + 1)) is RejectionReason.OVERSIZED


def test_rejection_carries_reason_and_detail() -> None:
    with pytest.raises(EventRejected) as info:
        parse_envelope(b"[]")
    assert info.value.detail
    assert str(info.value).startswith("malformed_envelope: ")


# -- random envelopes: sign -> wire -> parse

KEYS = [SigningKey.generate() for _ in range(3)]


def _regex(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


TIMES = st.datetimes().map(lambda t: t.isoformat(timespec="microseconds") + "Z")
ENVELOPES = st.builds(
    lambda key, **fields: make_event(key, **fields),
    st.sampled_from(KEYS),
    source=_regex(PRINCIPAL_PATTERN),
    type=_regex(TYPE_PATTERN).filter(lambda t: len(t) < 120),
    data=st.dictionaries(UTF8_TEXT, json_values(st.none() | st.booleans() | SAFE_INT | FINITE | UTF8_TEXT), max_size=5),
    schemaversion=st.integers(1, 1000),
    subject=st.none() | st.text(st.characters(codec="utf-8"), max_size=256),
    event_id=_regex(EVENT_ID_PATTERN),
    time=TIMES,
)


def _reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


@PROPS
@given(ENVELOPES, st.sampled_from([None, 0, 2]), st.booleans(), st.booleans())
def test_any_signed_envelope_survives_any_json_encoding(
    envelope: Envelope, indent: int | None, ascii_only: bool, reorder: bool
) -> None:
    wire = envelope.to_bytes()
    assert parse_envelope(wire) == envelope
    # A publisher may send any JSON encoding of the same object: it parses to the same event,
    # the signature holds, and the leaf (RFC 8785 bytes) is the same as for the canonical form.
    value = json.loads(wire)
    other = json.dumps(_reordered(value) if reorder else value, indent=indent, ensure_ascii=ascii_only).encode()
    parsed = parse_envelope(other)
    assert parsed == envelope
    assert parsed.to_bytes() == wire
    assert parsed.has_valid_signature(KEYS[[k.key_id for k in KEYS].index(envelope.signer)].public)
    assert not any(parsed.has_valid_signature(k.public) for k in KEYS if k.key_id != envelope.signer)


@pytest.mark.parametrize("number", [2.0**53, 1e20, -(2.0**60), 2.0**69])
def test_what_the_sdk_signs_the_intake_accepts_even_for_large_integral_floats(number: float) -> None:
    # RFC 8785 writes these doubles as plain digits; the intake must read them back as doubles.
    envelope = make_event(KEYS[0], source="tax", type="document.registered", data={"amount": number})
    assert b"e+" not in envelope.to_bytes()
    parsed = parse_envelope(envelope.to_bytes())
    assert parsed == envelope
    assert parsed.has_valid_signature(KEYS[0].public)


@pytest.mark.parametrize("digits", ["9007199254740993", "-9007199254740993", "1" + "0" * 400])
def test_integers_no_double_holds_are_refused_not_rounded(digits: str) -> None:
    # Rounding 2**53 + 1 to the nearest double would change what the publisher meant.
    envelope = make_event(KEYS[0], source="tax", type="document.registered", data={"amount": 1})
    wire = envelope.to_bytes().replace(b'"amount":1', b'"amount":' + digits.encode())
    with pytest.raises(EventRejected) as caught:
        parse_envelope(wire)
    assert caught.value.reason == RejectionReason.MALFORMED_ENVELOPE


ED25519_L = 2**252 + 27742317777372353535851937790883648493


def _malleated(signature_hex: str) -> str:
    """The same signature with S replaced by S + L: equal modulo the group order."""
    raw = bytes.fromhex(signature_hex)
    s = int.from_bytes(raw[32:], "little") + ED25519_L
    return (raw[:32] + s.to_bytes(32, "little")).hex()


@settings(max_examples=25, deadline=None)
@given(ENVELOPES)
def test_malleated_signatures_do_not_verify(envelope: Envelope) -> None:
    # Otherwise one event could be re-sent with a second valid signature, so a second leaf
    # under the same id; the orderer would only catch it as a conflicting id.
    assert envelope.signature is not None
    malleated = envelope.model_copy(update={"signature": _malleated(envelope.signature)})
    key = next(k for k in KEYS if k.key_id == envelope.signer)
    assert not malleated.has_valid_signature(key.public)
