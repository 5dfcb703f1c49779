"""The sequencer's identity rule: an event is (source, id), as CloudEvents defines.

Two departments may use the same id; neither can take or block the other's. Within one
source, the same bytes again are a harmless duplicate and other bytes under a used id are
refused as ``conflicting_id``.
"""

from __future__ import annotations

import base64
import json
import re
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from govchain.bus.subjects import event_subject, rejected_subject
from govchain.protocol.envelope import (
    EVENT_ID_PATTERN,
    PRINCIPAL_PATTERN,
    Envelope,
    make_event,
    parse_envelope,
)
from govchain.protocol.errors import EventRejected, RejectionReason
from govchain.protocol.eventref import EventKey, event_ref, parse_event_ref
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import leaf_hash
from govchain.protocol.state import ChainState, Principal
from govchain.protocol.verify import BlockVerificationError, ChainVerifier
from govchain.services.ledger.sequencer import Intake, Parsed, preparse, sequence
from tests.unit.conftest import ChainBuilder
from tests.unit.strategies import PROPS, SAFE_INT, UTF8_TEXT, json_values

if TYPE_CHECKING:
    from .conftest import ChainBuilder


TIME = "2025-01-01T00:00:00.000000Z"
KEYS = {"tax": SigningKey.generate(), "rogue": SigningKey.generate()}


@pytest.fixture
def state(chain_factory: type[ChainBuilder]) -> ChainState:
    state = chain_factory().genesis_state()
    for dept, key in KEYS.items():
        state.add_principal(Principal(dept, "department", dept.title(), dept))
        state.add_key(key.public, dept)
    return state


def _document(source: str, event_id: str, title: str = "a document") -> Envelope:
    data = {"document_id": event_id, "sha256": "ab" * 32, "title": title}
    return make_event(KEYS[source], source=source, type="document.registered", data=data, event_id=event_id, time=TIME)


def _parsed(*envelopes: Envelope) -> list[Parsed]:
    return [
        preparse(Intake(event_subject(e.source, e.type), e.to_bytes(), e.msg_id, seq))
        for seq, e in enumerate(envelopes, 1)
    ]


def test_two_sources_may_use_one_id(state: ChainState) -> None:
    rogue, tax = _document("rogue", "tax-doc-1"), _document("tax", "tax-doc-1")
    block = sequence(state, _parsed(rogue, tax), {}, block_time=TIME)
    assert [(e.source, e.id) for e in block.envelopes] == [("rogue", "tax-doc-1"), ("tax", "tax-doc-1")]
    assert block.rejections == []


def test_an_id_another_source_committed_earlier_does_not_block(state: ChainState) -> None:
    rogue, tax = _document("rogue", "tax-doc-1"), _document("tax", "tax-doc-1")
    first = sequence(state, _parsed(rogue), {}, block_time=TIME)
    on_chain = {EventKey("rogue", "tax-doc-1"): first.leaves[0]}
    later = sequence(state, _parsed(tax), on_chain, block_time=TIME)
    assert [e.source for e in later.envelopes] == ["tax"] and later.rejections == []


def test_within_one_source_a_used_id_is_a_duplicate_or_a_conflict(state: ChainState) -> None:
    original, again, other = _document("tax", "d-1"), _document("tax", "d-1"), _document("tax", "d-1", "other")
    block = sequence(state, _parsed(original, again, other), {}, block_time=TIME)
    assert [e.id for e in block.envelopes] == ["d-1"] and block.duplicates == 1
    assert [(r.source, r.event_id, r.reason) for r in block.rejections] == [
        ("tax", "d-1", RejectionReason.CONFLICTING_ID)
    ]
    assert "tax/d-1" in block.rejections[0].detail


def test_the_verifier_accepts_equal_ids_of_two_sources_and_refuses_a_repeat(builder: ChainBuilder) -> None:
    builder.seal([builder.register("tax"), builder.register("land")])
    same_id = [
        make_event(
            builder.dept_keys[d],
            source=d,
            type="document.registered",
            data={"document_id": "x", "sha256": "ab" * 32, "title": "x"},
            event_id="shared-id",
        )
        for d in ("tax", "land")
    ]
    builder.seal(same_id)
    verifier = ChainVerifier(check_events=True)
    for block in builder.blocks:
        verifier.verify(block)
    repeat = builder.seal([same_id[0]], commit=False)
    with pytest.raises(BlockVerificationError, match="tax/shared-id is included twice"):
        verifier.verify(repeat)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("tax/tax-doc-1", ("tax", "tax-doc-1")),
        ("tax-doc-1", (None, "tax-doc-1")),
        ("contract-engine/0f" + "a" * 30, ("contract-engine", "0f" + "a" * 30)),
    ],
)
def test_event_references_round_trip(text: str, parsed: tuple[str | None, str]) -> None:
    assert parse_event_ref(text) == parsed
    if parsed[0] is not None:
        assert event_ref(parsed[0], parsed[1]) == text == str(EventKey(parsed[0], parsed[1]))


@pytest.mark.parametrize("text", ["", "tax/", "/id", "Tax/id", "tax/a/b", "tax/id\n", "tax/" + "x" * 65, "a b"])
def test_malformed_event_references_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_event_ref(text)


# -- the orderer's intake: preparse never raises, rejections are always publishable

SAFE_SOURCE = re.compile(PRINCIPAL_PATTERN)
SAFE_ID = re.compile(EVENT_ID_PATTERN)
TAX = SigningKey.generate()
GOOD = make_event(
    TAX,
    source="tax",
    type="document.registered",
    event_id="good-1",
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
        RejectionReason.MALFORMED_ENVELOPE,
        RejectionReason.OVERSIZED,
        RejectionReason.SUBJECT_MISMATCH,
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
        TAX,
        source="tax",
        type="document.registered",
        event_id=f"ev-{n}",
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
