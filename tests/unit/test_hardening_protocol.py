"""Hardening, protocol side: canonical JSON against an independent oracle, random (not fixed)
envelopes through sign -> wire -> parse, and the orderer's intake (preparse + sequence) under
random and malformed input. Complements test_properties.py, which mutates one fixed event.
"""

from __future__ import annotations

import base64
import json
import math
import re
from typing import TYPE_CHECKING, Any

import pytest
from govchain.bus.subjects import event_subject, rejected_subject
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.eventref import EventKey
from govchain.protocol.envelope import (
    EVENT_ID_PATTERN,
    PRINCIPAL_PATTERN,
    TYPE_PATTERN,
    Envelope,
    make_event,
    parse_envelope,
)
from govchain.protocol.errors import CanonicalizationError, EventRejected, RejectionReason
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import leaf_hash
from govchain.protocol.state import ChainState, Principal
from govchain.services.ledger.sequencer import Intake, Parsed, preparse, sequence
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    from .conftest import ChainBuilder

PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SAFE_INT = st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
UTF8_TEXT = st.text(st.characters(codec="utf-8"), max_size=16)  # no lone surrogates
ANY_KEY = st.text(st.characters(codec="utf-8"), max_size=6)
FINITE = st.floats(allow_nan=False, allow_infinity=False)


def json_values(scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[str] = UTF8_TEXT) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=20,
    )


# -- canonical JSON: an independent oracle


def _utf16_sorted(value: Any) -> Any:
    """The same value with every object's members in RFC 8785 order (UTF-16 code units)."""
    if isinstance(value, dict):
        ordered = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return {k: _utf16_sorted(value[k]) for k in ordered}
    if isinstance(value, list):
        return [_utf16_sorted(v) for v in value]
    return value


def jcs_oracle(value: Any) -> bytes:
    """RFC 8785 for values without floats: members in UTF-16 order, no whitespace, UTF-8,
    only the escapes JSON requires. Python's json module does exactly that escaping."""
    return json.dumps(_utf16_sorted(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


@PROPS
@given(json_values(st.none() | st.booleans() | SAFE_INT | UTF8_TEXT, keys=ANY_KEY))
def test_canonical_bytes_match_an_independent_oracle_without_floats(value: Any) -> None:
    # Keys are drawn from all of Unicode, so astral keys (sorted by UTF-16 surrogates, not by
    # code point) and control characters (escaped) are both exercised.
    assert canonical_bytes(value) == jcs_oracle(value)


def test_oracle_disagrees_with_code_point_order_where_rfc8785_says_it_must() -> None:
    # U+1F600 sorts before U+FF61 by UTF-16 code units (0xD83D < 0xFF61), after it by code point.
    value = {"\uff61": 1, "\U0001f600": 2}
    assert canonical_bytes(value) == '{"\U0001f600":2,"\uff61":1}'.encode()
    by_code_point = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    assert canonical_bytes(value) != by_code_point


UNCANONICAL = st.sampled_from(
    [math.nan, math.inf, -math.inf, 2**53, -(2**53), 2**64, -(10**30), "\ud800", "a\udfffb", b"bytes", {1, 2}, object()]
)


def _bury(value: Any, bad: Any, path: list[int]) -> Any:
    """``value`` with ``bad`` placed at a depth given by ``path`` (lists and objects alternate)."""
    for depth, step in enumerate(reversed(path)):
        bad = [*([value] * (step % 3)), bad] if depth % 2 else {f"k{step}": bad, "other": value}
    return bad


@PROPS
@given(json_values(st.none() | SAFE_INT | UTF8_TEXT), UNCANONICAL, st.lists(st.integers(0, 5), max_size=6))
def test_values_without_a_canonical_form_raise_only_canonicalization_error(
    value: Any, bad: Any, path: list[int]
) -> None:
    with pytest.raises(CanonicalizationError):
        canonical_bytes(_bury(value, bad, path))


@PROPS
@given(json_values(st.none() | SAFE_INT), st.sampled_from([1, 2.5, None, b"k", ("t",)]))
def test_non_string_keys_raise_only_canonicalization_error(value: Any, key: Any) -> None:
    with pytest.raises(CanonicalizationError):
        canonical_bytes({"ok": value, key: value})


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
    data=st.dictionaries(
        UTF8_TEXT, json_values(st.none() | st.booleans() | SAFE_INT | FINITE | UTF8_TEXT), max_size=5
    ),
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


# -- the orderer's intake: preparse never raises, rejections are always publishable

SAFE_SOURCE = re.compile(PRINCIPAL_PATTERN)
SAFE_ID = re.compile(EVENT_ID_PATTERN)
TAX = SigningKey.generate()
GOOD = make_event(
    TAX, source="tax", type="document.registered", event_id="good-1",
    data={"document_id": "d-1", "sha256": "ab" * 32, "title": "Record"},
)

SUBJECTS = st.one_of(
    st.just(event_subject("tax", "document.registered")),
    st.builds(lambda d, t: f"gov.events.{d}.{t}", st.text(max_size=10), st.text(max_size=20)),
    st.builds(lambda d: f"gov.events.{d}", st.text(max_size=10)),
    st.text(max_size=30),
)


@st.composite
def _bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "mutated", "good"]), label="body")
    if kind == "bytes":
        return draw(st.binary(max_size=600))
    if kind == "json":
        return json.dumps(draw(json_values(st.none() | SAFE_INT | UTF8_TEXT | st.floats()))).encode()
    wire = GOOD.to_bytes()
    if kind == "good":
        return wire
    start = draw(st.integers(0, len(wire) - 1))
    return wire[:start] + draw(st.binary(min_size=0, max_size=8)) + wire[start + draw(st.integers(0, 8)) :]


INTAKES = st.builds(Intake, SUBJECTS, _bodies(), st.none() | st.text(max_size=70), st.integers(1, 2**63))


def _is_publishable_subject(subject: str) -> bool:
    tokens = subject.split(".")
    return all(tokens) and not any(t in ("*", ">") for t in tokens) and not re.search(r"\s", subject)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(INTAKES)
def test_preparse_accounts_for_every_message_and_every_rejection_can_be_published(intake: Intake) -> None:
    parsed = preparse(intake)
    assert parsed.intake is intake
    if parsed.rejection is None:
        event("accepted for sequencing")
        assert parsed.envelope is not None
        assert intake.subject == event_subject(parsed.envelope.source, parsed.envelope.type)
        assert parsed.leaf == leaf_hash(parsed.envelope.to_bytes())
        return
    rejection = parsed.rejection
    event(f"rejected: {rejection.reason.value}")
    assert rejection.source == "unknown" or SAFE_SOURCE.fullmatch(rejection.source)
    assert SAFE_ID.fullmatch(rejection.event_id)
    assert rejection.event_id != f"seq-{intake.stream_seq}" or not (intake.msg_id and SAFE_ID.fullmatch(intake.msg_id))
    assert _is_publishable_subject(rejected_subject(rejection.source, rejection.event_id))
    assert not re.search(r"\s", rejection.msg_id)
    record = json.loads(json.dumps(rejection.record()))  # what goes on stream REJECTED
    assert base64.b64decode(record["original_b64"]) == intake.data  # nothing is lost
    assert record["intake_seq"] == intake.stream_seq
    assert RejectionReason(record["reason"]) in {  # what needs no chain state; never internal_error
        RejectionReason.MALFORMED_ENVELOPE, RejectionReason.OVERSIZED, RejectionReason.SUBJECT_MISMATCH,
        RejectionReason.INVALID_TIME,
    }


# -- sequence(): duplicates, conflicting ids and events already on chain, in any order


@pytest.fixture(scope="module")
def tax_state(chain_factory: type[ChainBuilder]) -> ChainState:
    state = chain_factory().genesis_state()
    state.add_principal(Principal("tax", "department", "Tax", "tax"))
    state.add_key(TAX.public, "tax")
    return state


def _doc(n: int, variant: int) -> Envelope:
    return make_event(
        TAX, source="tax", type="document.registered", event_id=f"ev-{n}",
        data={"document_id": f"d-{n}", "sha256": f"{n:064x}", "title": f"Record {n}.{variant}"},
        time="2025-01-01T00:00:00.000000Z",
    )


POOL = {(n, v): _doc(n, v) for n in range(5) for v in range(2)}


def _key(envelope: Envelope) -> EventKey:
    return EventKey(envelope.source, envelope.id)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.lists(st.sampled_from(sorted(POOL)), max_size=12),
    on_chain=st.dictionaries(st.integers(0, 4), st.integers(0, 1), max_size=3),
)
def test_sequence_orders_each_id_once_and_refuses_conflicts(
    tax_state: ChainState, batch: list[tuple[int, int]], on_chain: dict[int, int]
) -> None:
    parsed: list[Parsed] = []
    for seq, key in enumerate(batch, 1):
        envelope = POOL[key]
        parsed.append(preparse(Intake(event_subject("tax", envelope.type), envelope.to_bytes(), envelope.id, seq)))
    chain_leaves = {_key(POOL[(n, v)]): leaf_hash(POOL[(n, v)].to_bytes()) for n, v in on_chain.items()}

    result = sequence(tax_state.copy(), parsed, dict(chain_leaves), block_time="2025-01-01T00:00:00.000000Z")

    # The model: the first event under an id not yet used is ordered; the same bytes again are a
    # harmless duplicate; other bytes under a used id are refused as a conflicting id.
    seen = dict(chain_leaves)
    expected_ids, expected_dups, expected_conflicts = [], 0, 0
    for item in parsed:
        assert item.envelope is not None
        earlier = seen.get(_key(item.envelope))
        if earlier is None:
            seen[_key(item.envelope)] = item.leaf
            expected_ids.append(item.envelope.id)
        elif earlier == item.leaf:
            expected_dups += 1
        else:
            expected_conflicts += 1
    assert [e.id for e in result.envelopes] == expected_ids
    assert result.leaves == [leaf_hash(e.to_bytes()) for e in result.envelopes]
    assert result.duplicates == expected_dups
    assert [r.reason for r in result.rejections] == [RejectionReason.CONFLICTING_ID] * expected_conflicts
    assert len(result.envelopes) + len(result.rejections) + result.duplicates == len(parsed)


@PROPS
@given(st.binary(min_size=1, max_size=64), st.integers(0, 3))
def test_preparse_never_accepts_a_truncated_or_padded_good_event(junk: bytes, where: int) -> None:
    wire = GOOD.to_bytes()
    body = [junk + wire, wire + junk, wire[: len(wire) // 2] + junk, junk][where]
    parsed = preparse(Intake(event_subject("tax", GOOD.type), body, GOOD.id, 1))
    if parsed.rejection is None:  # e.g. whitespace around the object: still exactly this event
        assert parsed.envelope == GOOD and parsed.leaf == leaf_hash(wire)
    else:
        with pytest.raises(EventRejected):
            parse_envelope(body)
