"""The sequencer's identity rule: an event is (source, id), as CloudEvents defines.

Two departments may use the same id; neither can take or block the other's. Within one
source, the same bytes again are a harmless duplicate and other bytes under a used id are
refused as ``conflicting_id``.
"""

from __future__ import annotations

from govchain.bus.subjects import event_subject
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.errors import RejectionReason
from govchain.protocol.eventref import EventKey, event_ref, parse_event_ref
from govchain.protocol.keys import SigningKey
from govchain.protocol.state import ChainState, Principal
from govchain.protocol.verify import BlockVerificationError, ChainVerifier
from govchain.services.ledger.sequencer import Intake, Parsed, preparse, sequence

import pytest

from tests.unit.conftest import ChainBuilder

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
    return [preparse(Intake(event_subject(e.source, e.type), e.to_bytes(), e.msg_id, seq))
            for seq, e in enumerate(envelopes, 1)]


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
    same_id = [make_event(builder.dept_keys[d], source=d, type="document.registered",
                          data={"document_id": "x", "sha256": "ab" * 32, "title": "x"}, event_id="shared-id")
               for d in ("tax", "land")]
    builder.seal(same_id)
    verifier = ChainVerifier(check_events=True)
    for block in builder.blocks:
        verifier.verify(block)
    repeat = builder.seal([same_id[0]], commit=False)
    with pytest.raises(BlockVerificationError, match="tax/shared-id is included twice"):
        verifier.verify(repeat)


@pytest.mark.parametrize(("text", "parsed"), [
    ("tax/tax-doc-1", ("tax", "tax-doc-1")),
    ("tax-doc-1", (None, "tax-doc-1")),
    ("contract-engine/0f" + "a" * 30, ("contract-engine", "0f" + "a" * 30)),
])
def test_event_references_round_trip(text: str, parsed: tuple[str | None, str]) -> None:
    assert parse_event_ref(text) == parsed
    if parsed[0] is not None:
        assert event_ref(parsed[0], parsed[1]) == text == str(EventKey(parsed[0], parsed[1]))


@pytest.mark.parametrize("text", ["", "tax/", "/id", "Tax/id", "tax/a/b", "tax/id\n", "tax/" + "x" * 65, "a b"])
def test_malformed_event_references_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_event_ref(text)
