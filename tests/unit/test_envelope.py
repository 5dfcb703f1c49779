"""The signed event envelope: signing, canonical wire bytes, strict parsing."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.envelope import (
    MAX_EVENT_BYTES,
    Envelope,
    make_event,
    parse_envelope,
)
from govchain.protocol.errors import EventRejected, RejectionReason
from govchain.protocol.keys import SigningKey

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
    Ed25519PublicKey.from_public_bytes(key.public.raw).verify(
        bytes.fromhex(event.signature), canonical_bytes(unsigned)
    )


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
    for field, value in [("source", "land"), ("id", "evt-2"), ("time", "2025-03-04T05:06:08Z"),
                         ("schemaversion", 2), ("subject", "x"), ("type", "document.revoked")]:
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
    assert rejection(event.to_bytes().replace(b'"signature":"' + event.signature.encode() + b'"',
                                              b'"signature":null')) is RejectionReason.MALFORMED_ENVELOPE
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
        "yesterdayZ", "20250304T050607Z", "2025-03-04 05:06:07Z", "2025-03-04T05:06:07",
        "2025-03-04T05:06:07.1234567890Z", "2025-13-04T05:06:07Z", "2025-03-04T25:06:07Z",
        "2025-03-04t05:06:07z", "2025-03-04T05:06:07+0800", "2025-03-04T05:06Z", 1741064767,
    ],
)
def test_parse_refuses_a_time_that_is_not_rfc3339_as_invalid_time(key: SigningKey, bad_time: object) -> None:
    assert rejection(wire(doc_event(key), time=bad_time)) is RejectionReason.INVALID_TIME


@pytest.mark.parametrize("good_time", ["2025-03-04T05:06:07Z", "2025-03-04T05:06:07.123456789Z",
                                       "2025-03-04T05:06:07+08:00", "2025-03-04T05:06:07-00:00"])
def test_parse_accepts_rfc3339_with_z_or_an_offset(key: SigningKey, good_time: str) -> None:
    raw = wire(doc_event(key), time=good_time)
    assert parse_envelope(raw).time == good_time


@pytest.mark.parametrize(
    "bad_number", [b"NaN", b"Infinity", b"-Infinity", b"9007199254740993", b"1e400"]
)
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
    event = parse_envelope(_padded(key, MAX_EVENT_BYTES))
    assert event.has_valid_signature(key.public)


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
