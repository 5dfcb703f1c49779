"""Total intake, pure part: depth bounded before parsing, strict event time judged against
the block, refusal records that always fit, and faults of ours quarantined, never raised."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.bus.subjects import event_subject
from govchain.protocol.batch import sign_batch
from govchain.protocol.envelope import MAX_EVENT_BYTES, make_event, parse_event
from govchain.protocol.errors import EventRejected, RejectionReason
from govchain.protocol.eventtime import check_event_time, parse_rfc3339
from govchain.protocol.jsontext import MAX_EVENT_DEPTH, JsonTooDeep, nesting_depth, parse_json_object
from govchain.protocol.keys import SigningKey
from govchain.protocol.policy import CONTRACT_ENGINE, DEFAULT_POLICY, EventTimeRule, Policy
from govchain.protocol.state import ChainState, Principal
from govchain.services.ledger import sequencer
from govchain.services.ledger.sequencer import MAX_KEPT_BYTES, Intake, preparse_message, sequence

TAX = SigningKey.generate()
ENGINE = SigningKey.generate()
BLOCK_TIME = "2026-06-01T12:00:00.000000Z"


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def doc(n: int = 1, *, time: str = BLOCK_TIME, key: SigningKey = TAX, source: str = "tax", **data: Any):
    return make_event(
        key,
        source=source,
        type="document.registered",
        event_id=f"ev-{n}",
        time=time,
        data={"document_id": f"d-{n}", "sha256": f"{n:064x}", "title": "t", **data},
    )


@pytest.fixture
def state() -> ChainState:
    state = ChainState(chain_id="c", height=5, policy=DEFAULT_POLICY.model_copy(deep=True))
    state.add_principal(Principal("tax", "department", "Tax", "tax"))
    state.add_key(TAX.public, "tax")
    state.add_principal(Principal(CONTRACT_ENGINE, "service", CONTRACT_ENGINE))
    state.add_key(ENGINE.public, CONTRACT_ENGINE)
    state.policy.publish["document.registered"] = [*state.policy.publish["document.registered"]]
    return state


def intake(envelope_bytes: bytes, subject: str = event_subject("tax", "document.registered"), seq: int = 1) -> Intake:
    return Intake(subject, envelope_bytes, None, seq)


# -- depth, before parsing


@pytest.mark.parametrize("depth", [0, 1, 2, 31, 32, 33, 500, 100_000])
def test_nesting_depth_matches_the_structure(depth: int) -> None:
    value = nested(depth)
    raw = json.dumps(value).encode() if depth < 900 else b"[" * depth + b"]" * depth
    assert nesting_depth(raw) == depth


def test_brackets_inside_strings_do_not_count() -> None:
    assert nesting_depth(json.dumps({"a": "[[[{{{", "b": ['\\"[[']}).encode()) == 2


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=30,
    )
)
@settings(max_examples=300, deadline=None)
def test_nesting_depth_equals_a_recursive_count_on_any_json(value: Any) -> None:
    def depth(v: Any) -> int:
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        return 0

    assert nesting_depth(json.dumps(value).encode()) == depth(value)


def test_parse_json_object_refuses_depth_before_parsing() -> None:
    with pytest.raises(JsonTooDeep, match="nests 100000 levels"):
        parse_json_object(b"[" * 100_000 + b"]" * 100_000, what="request")


@pytest.mark.parametrize("depth", [MAX_EVENT_DEPTH + 1, 500, 5_000, 100_000])
def test_a_deep_event_is_refused_as_malformed_whatever_its_depth(depth: int) -> None:
    inner = depth - 2  # the envelope and its data take two levels
    raw = doc().to_bytes().replace(b'"title":"t"', b'"title":"t","x":' + b"[" * inner + b"]" * inner)
    assert nesting_depth(raw) == depth
    with pytest.raises(EventRejected) as info:
        parse_event(raw)
    assert info.value.reason is RejectionReason.MALFORMED_ENVELOPE
    assert f"nests {depth} levels" in info.value.detail


def test_an_event_at_the_depth_limit_parses() -> None:
    event = doc(extra=nested(MAX_EVENT_DEPTH - 2))  # envelope and data take two levels
    assert nesting_depth(event.to_bytes()) == MAX_EVENT_DEPTH
    assert parse_event(event.to_bytes())[0] == event


def test_a_deep_event_inside_a_batch_refuses_the_batch_not_the_orderer() -> None:
    batch = json.loads(sign_batch(TAX, [doc(1), doc(2)]).to_bytes())
    batch["events"][1]["data"]["x"] = nested(800)
    raw = json.dumps(batch).encode()
    [parsed] = preparse_message(intake(raw, event_subject("tax", "_batch")))
    assert parsed.rejection is not None and parsed.rejection.reason is RejectionReason.MALFORMED_ENVELOPE


def test_a_huge_number_is_refused_fast_not_converted() -> None:
    raw = doc().to_bytes().replace(b'"title":"t"', b'"title":' + b"9" * 100_000)
    with pytest.raises(EventRejected) as info:
        parse_event(raw)
    assert info.value.reason is RejectionReason.MALFORMED_ENVELOPE


# -- event time


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "2026-06-01T12:05:01Z",
        "2026-06-01T11:54:59Z",
        "2026-06-01T20:05:01+08:00",
    ],
)
def test_times_outside_the_window_are_invalid(value: str) -> None:
    with pytest.raises(EventRejected) as info:
        check_event_time(value, BLOCK_TIME, max_ahead_s=300, max_behind_s=300)
    assert info.value.reason is RejectionReason.INVALID_TIME


@pytest.mark.parametrize(
    "value",
    ["2026-06-01T12:05:00Z", "2026-06-01T11:55:00Z", "2026-06-01T20:00:00+08:00", "2026-06-01T12:00:00.999999999Z"],
)
def test_times_inside_the_window_pass(value: str) -> None:
    check_event_time(value, BLOCK_TIME, max_ahead_s=300, max_behind_s=300)


def test_an_offset_names_the_same_instant_as_z() -> None:
    assert parse_rfc3339("2026-06-01T20:00:00+08:00") == parse_rfc3339("2026-06-01T12:00:00Z")


def test_sequence_judges_time_against_the_block_time(state: ChainState) -> None:
    early, late, fine = doc(1, time="2026-06-01T11:00:00Z"), doc(2, time="2026-06-01T13:00:00Z"), doc(3)
    parsed = [p for n, e in enumerate([early, late, fine], 1) for p in preparse_message(intake(e.to_bytes(), seq=n))]
    batch = sequence(state, parsed, {}, block_time=BLOCK_TIME)
    assert [e.id for e in batch.envelopes] == [fine.id]
    assert [(r.event_id, r.reason) for r in batch.rejections] == [
        (early.id, RejectionReason.INVALID_TIME),
        (late.id, RejectionReason.INVALID_TIME),
    ]


def test_contract_results_may_arrive_late_but_never_early(state: ChainState) -> None:
    state.policy.publish["document.registered"].append(state.policy.publish["license.issued"][-1])  # the engine's grant
    late = doc(1, time="2026-05-01T00:00:00Z", key=ENGINE, source=CONTRACT_ENGINE)
    early = doc(2, time="2026-06-01T12:10:00Z", key=ENGINE, source=CONTRACT_ENGINE)
    subject = event_subject(CONTRACT_ENGINE, "document.registered")
    parsed = [p for n, e in enumerate([late, early], 1) for p in preparse_message(intake(e.to_bytes(), subject, n))]
    batch = sequence(state, parsed, {}, block_time=BLOCK_TIME)
    assert [e.id for e in batch.envelopes] == [late.id]
    assert [r.reason for r in batch.rejections] == [RejectionReason.INVALID_TIME]


def test_a_chain_made_before_the_time_rule_does_not_judge_time(state: ChainState) -> None:
    state.policy = Policy.model_validate({"publish": DEFAULT_POLICY.model_dump(mode="json")["publish"]})
    assert state.policy.event_time is None
    old = doc(1, time="2020-01-01T00:00:00Z")
    batch = sequence(state, preparse_message(intake(old.to_bytes())), {}, block_time=BLOCK_TIME)
    assert [e.id for e in batch.envelopes] == [old.id]


def test_the_rule_is_part_of_the_genesis_policy() -> None:
    assert DEFAULT_POLICY.model_dump(mode="json")["event_time"] == EventTimeRule().model_dump(mode="json")


# -- refusal records always fit one message


def test_a_refusal_of_a_huge_message_keeps_a_prefix_and_the_hash_of_the_whole() -> None:
    data = b"x" * (3 * 1024 * 1024 + 512 * 1024)
    [parsed] = preparse_message(intake(data))
    record = parsed.rejection.record()  # type: ignore[union-attr]
    assert record["reason"] == "oversized"
    assert record["original_size"] == len(data) and record["original_truncated"] is True
    assert record["original_sha256"] == hashlib.sha256(data).hexdigest()
    assert base64.b64decode(record["original_b64"]) == data[:MAX_KEPT_BYTES]
    assert len(json.dumps(record)) < 2 * 1024 * 1024  # room to spare under the 4 MiB payload limit


def test_a_refusal_of_an_ordinary_message_keeps_it_whole() -> None:
    data = b"{" + b" " * (MAX_EVENT_BYTES + 1)
    record = preparse_message(intake(data))[0].rejection.record()  # type: ignore[union-attr]
    assert base64.b64decode(record["original_b64"]) == data and "original_truncated" not in record


# -- faults of ours are quarantined, not raised


def test_a_fault_while_parsing_is_quarantined(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(_: Intake) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(sequencer, "preparse", boom)
    data = doc().to_bytes()
    [parsed] = preparse_message(intake(data))
    assert parsed.rejection is not None and parsed.rejection.reason is RejectionReason.INTERNAL_ERROR
    assert hashlib.sha256(data).hexdigest() in parsed.rejection.detail


def test_a_fault_while_judging_one_event_quarantines_that_event_alone(
    state: ChainState, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sequencer.validate_event

    def flaky(state: ChainState, envelope: Any, *args: Any, **kwargs: Any) -> Any:
        if envelope.id == "ev-2":
            raise KeyError("a bug")
        return real(state, envelope, *args, **kwargs)

    monkeypatch.setattr(sequencer, "validate_event", flaky)
    parsed = [p for n in (1, 2, 3) for p in preparse_message(intake(doc(n).to_bytes(), seq=n))]
    batch = sequence(state, parsed, {}, block_time=BLOCK_TIME)
    assert [e.id for e in batch.envelopes] == ["ev-1", "ev-3"]
    assert [(r.event_id, r.reason) for r in batch.rejections] == [("ev-2", RejectionReason.INTERNAL_ERROR)]


def test_init_fixes_the_time_window_in_genesis(tmp_path: Any) -> None:
    from govchain.datadir import DataDir
    from govchain.protocol.genesis import genesis_payload

    data = DataDir(tmp_path / "node")
    data.init("c", event_time=EventTimeRule(max_ahead_s=60, max_behind_s=3600))
    policy = Policy.model_validate(genesis_payload(data.genesis()).policy)
    assert policy.event_time == EventTimeRule(max_ahead_s=60, max_behind_s=3600)


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_parse_json_object_refuses_what_python_reads_but_json_is_not(constant: bytes) -> None:
    with pytest.raises(ValueError, match="not JSON"):
        parse_json_object(b'{"n":' + constant + b"}", what="request")
