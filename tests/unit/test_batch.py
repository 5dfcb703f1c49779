"""Batch envelopes: many events of one department signed once, opened into ordinary events.

Covers, bottom up:
- merkle: ``all_inclusion_proofs`` against the one-proof-at-a-time code, ``root_from_inclusion``
  on malformed input;
- ``BatchProof.to_bytes`` / ``with_batchproof`` (hand-written JCS) against ``canonical_bytes``;
- ``sign_batch`` -> wire -> ``open_batch``: every event verifies alone, round-trips through
  ``parse_event`` as the block stores it, keeps its id and place;
- tampering and domain separation: what must stop verifying does;
- what ``open_batch`` / ``sign_batch`` refuse, with which reason;
- ``EventBatch.msg_id``;
- the block cutter counting a batch as its events;
- the orderer's intake: ``preparse_message`` on a batch subject, then ``sequence``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from govchain.bus.embedded import MAX_PAYLOAD
from govchain.bus.subjects import batch_subject, event_subject, is_batch_subject
from govchain.protocol.batch import MAX_BATCH_BYTES, EventBatch, open_batch, sign_batch, with_batchproof
from govchain.protocol.batchproof import BATCH_ROOT_CONTEXT, MAX_BATCH_EVENTS, BatchProof, batch_root_message
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.cutter import BlockCutter, BlockLimits
from govchain.protocol.envelope import (
    EVENT_ID_PATTERN,
    MAX_EVENT_BYTES,
    CanonicalForms,
    Envelope,
    make_event,
    parse_event,
)
from govchain.protocol.errors import EventRejected, RejectionReason
from govchain.protocol.eventref import EventKey
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import (
    MemoryTree,
    all_inclusion_proofs,
    inclusion_proof,
    leaf_hash,
    root_from_inclusion,
    root_from_leaf_hashes,
    verify_inclusion,
)
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.state import ChainState, Principal
from govchain.services.ledger.sequencer import Intake, Parsed, preparse_message, sequence

if TYPE_CHECKING:
    from .conftest import ChainBuilder

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TIME = "2025-03-04T05:06:07.123456Z"
TAX = SigningKey.generate()
"""The department ``tax``'s key: registered on chain in the sequencer tests."""
OTHER = SigningKey.generate()
"""A key nobody registered: what an outsider (or another department) signs with."""

# Types the catalog marks as changing chain state: such events must travel alone.
STATE_CHANGING_TYPES = sorted({t.name for t in EVENT_TYPES if t.changes_state})
STATE_CHANGING_TYPE = "key.added"
# A business type a department may publish in volume, and one the default policy grants only
# to the contract engine (its payload {} is valid, so the refusal is about the grant alone).
BUSINESS_TYPE = "document.registered"
UNGRANTED_TYPE = "clock.tick"


def doc(n: int, *, key: SigningKey = TAX, source: str = "tax", **changes: Any) -> Envelope:
    """An unsigned business event, as an SDK queues it before signing a batch."""
    fields: dict[str, Any] = {
        "id": f"evt-{n}",
        "source": source,
        "type": BUSINESS_TYPE,
        "schemaversion": 1,
        "time": TIME,
        "data": {"document_id": f"d-{n}", "sha256": f"{n:064x}", "title": f"Record {n} — №{n}"},
        "signer": key.key_id,
    }
    fields.update(changes)
    return Envelope(**fields)


def docs(count: int, **changes: Any) -> list[Envelope]:
    return [doc(n, **changes) for n in range(count)]


def opened(events: list[Envelope], key: SigningKey = TAX) -> tuple[EventBatch, list[tuple[Envelope, CanonicalForms]]]:
    """Sign ``events`` as one batch and open it from its wire bytes, as the orderer does."""
    return open_batch(sign_batch(key, events).to_bytes())


def edited_wire(batch: EventBatch, edit: Callable[[dict[str, Any]], object]) -> bytes:
    """The batch's wire JSON after ``edit`` changed it in place (a publisher's or attacker's bytes)."""
    value = json.loads(batch.to_bytes())
    edit(value)
    return json.dumps(value, ensure_ascii=False).encode()


def refusal(raw: bytes) -> RejectionReason:
    with pytest.raises(EventRejected) as caught:
        open_batch(raw)
    return caught.value.reason


def with_proof(envelope: Envelope, **changes: Any) -> Envelope:
    """``envelope`` with fields of its batch proof replaced (unvalidated, as tampered bytes may be)."""
    assert envelope.batchproof is not None
    proof = envelope.batchproof.model_copy(update=changes)
    return envelope.model_copy(update={"batchproof": proof})


def _flip_hex(value: str, at: int = 0) -> str:
    """``value`` with one hex digit changed."""
    return value[:at] + ("0" if value[at] != "0" else "1") + value[at + 1 :]


# -- merkle: every inclusion proof of a small tree at once


def _tree_of(size: int) -> tuple[list[bytes], bytes, list[list[bytes]]]:
    leaves = [leaf_hash(bytes([i])) for i in range(size)]
    root, paths = all_inclusion_proofs(leaves)
    return leaves, root, paths


@pytest.mark.parametrize("size", range(1, 71))
def test_all_inclusion_proofs_agree_with_one_proof_at_a_time(size: int) -> None:
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(size)]
    tree = MemoryTree(leaves)
    root, paths = all_inclusion_proofs(leaves)
    assert root == root_from_leaf_hashes(leaves) == tree.root()
    assert len(paths) == size
    for index, path in enumerate(paths):
        assert path == inclusion_proof(index, size, tree)
        assert verify_inclusion(leaves[index], index, size, path, root)
        assert root_from_inclusion(leaves[index], index, size, path) == root


def test_all_inclusion_proofs_paths_are_independent_lists() -> None:
    # The recursion appends to the paths it returns: a shared list would corrupt siblings' paths.
    leaves = [leaf_hash(bytes([i])) for i in range(5)]
    _, paths = all_inclusion_proofs(leaves)
    assert len({id(path) for path in paths}) == len(paths)
    paths[0].append(b"\x00" * 32)
    assert all(len(path) <= 3 for path in paths[1:])


def test_all_inclusion_proofs_refuses_an_empty_tree() -> None:
    with pytest.raises(ValueError):
        all_inclusion_proofs([])


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
def test_root_from_inclusion_refuses_positions_outside_the_tree(size: int) -> None:
    leaves, _, paths = _tree_of(size)
    for index in (size, size + 1, -1):
        assert root_from_inclusion(leaves[0], index, size, paths[0]) is None
    assert root_from_inclusion(leaves[0], 0, 0, []) is None


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
def test_root_from_inclusion_refuses_hashes_of_the_wrong_length(size: int) -> None:
    leaves, _, paths = _tree_of(size)
    last = size - 1
    assert root_from_inclusion(leaves[last][:31], last, size, paths[last]) is None
    assert root_from_inclusion(leaves[last] + b"\x00", last, size, paths[last]) is None
    if paths[last]:
        short_node = [paths[last][0][:31], *paths[last][1:]]
        assert root_from_inclusion(leaves[last], last, size, short_node) is None
        hex_node = [paths[last][0].hex(), *paths[last][1:]]  # a str, not bytes
        assert root_from_inclusion(leaves[last], last, size, hex_node) is None  # type: ignore[list-item]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
def test_root_from_inclusion_refuses_paths_of_the_wrong_length(size: int) -> None:
    leaves, root, paths = _tree_of(size)
    for index in range(size):
        path = paths[index]
        assert root_from_inclusion(leaves[index], index, size, path) == root  # the control case
        assert root_from_inclusion(leaves[index], index, size, [*path, root]) is None
        if path:
            assert root_from_inclusion(leaves[index], index, size, path[:-1]) is None


# -- BatchProof.to_bytes and with_batchproof: hand-written JCS must be JCS


@st.composite
def batch_proofs(draw: st.DrawFn) -> BatchProof:
    size = draw(st.integers(1, MAX_BATCH_EVENTS), label="size")
    return BatchProof(
        index=draw(st.integers(0, size - 1), label="index"),
        size=size,
        path=draw(st.lists(st.binary(min_size=32, max_size=32).map(bytes.hex), max_size=10), label="path"),
        signature=draw(st.binary(min_size=64, max_size=64)).hex(),
    )


@PROPS
@given(batch_proofs())
def test_batchproof_bytes_are_its_canonical_json(proof: BatchProof) -> None:
    assert proof.to_bytes() == canonical_bytes(proof.model_dump())
    assert BatchProof.model_validate(json.loads(proof.to_bytes())) == proof


UNICODE_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
EVENTS = st.builds(
    doc,
    st.integers(0, 10**6),
    data=st.dictionaries(UNICODE_TEXT, UNICODE_TEXT | st.integers(-(2**53 - 1), 2**53 - 1), max_size=4),
    subject=st.none() | UNICODE_TEXT,
)


@PROPS
@given(EVENTS, batch_proofs())
def test_with_batchproof_equals_the_canonical_json_of_the_event_with_its_proof(
    envelope: Envelope, proof: BatchProof
) -> None:
    # Keys of the data (any Unicode) sort after "batchproof" only at the top level; the splice
    # must hold whatever the payload holds.
    signing = envelope.signing_bytes()
    spliced = with_batchproof(signing, proof)
    assert spliced == canonical_bytes({**envelope.unsigned_dict(), "batchproof": proof.model_dump()})
    assert spliced == envelope.model_copy(update={"batchproof": proof}).to_bytes()


def test_opened_events_store_the_spliced_bytes() -> None:
    _, events = opened([doc(0, subject="case/1"), doc(1), doc(2, subject="ß")])
    for envelope, forms in events:
        assert envelope.batchproof is not None
        assert forms.signing == canonical_bytes(envelope.unsigned_dict())
        assert forms.signed == with_batchproof(forms.signing, envelope.batchproof)
        with_proof_dict = {**envelope.unsigned_dict(), "batchproof": envelope.batchproof.model_dump()}
        assert forms.signed == canonical_bytes(with_proof_dict)
        assert forms.signed == envelope.to_bytes()


@pytest.mark.parametrize("node", ['a"b\\c', "AB" * 32, "ab" * 31, "ab" * 33, "ab " + "cd" * 31])
def test_batchproof_paths_are_lowercase_sha256_hex_only(node: str) -> None:
    # to_bytes writes path nodes without escaping: the model must admit nothing needing it,
    # and one spelling per hash, so an event has one stored form.
    with pytest.raises(ValidationError):
        BatchProof(index=0, size=2, path=[node], signature="0" * 128)


# -- sign_batch -> wire -> open_batch


@pytest.mark.parametrize("count", [1, 2, 3, 7, 16, 33])
def test_every_opened_event_verifies_alone_under_the_signers_key(count: int) -> None:
    events = docs(count)
    batch, out = opened(events)
    assert batch.source == "tax" and batch.signer == TAX.key_id
    assert [envelope.id for envelope, _ in out] == [e.id for e in events]  # ids and order kept
    for index, (envelope, forms) in enumerate(out):
        assert envelope.batchproof is not None
        assert envelope.signature is None and envelope.is_signed
        assert (envelope.batchproof.index, envelope.batchproof.size) == (index, count)
        assert envelope.batchproof.signature == batch.signature
        assert envelope.unsigned_dict() == events[index].unsigned_dict()  # nothing else changed
        assert envelope.has_valid_signature(TAX.public)
        assert envelope.has_valid_signature(TAX.public, forms.signing)
        assert not envelope.has_valid_signature(OTHER.public)
    assert len({leaf_hash(forms.signed) for _, forms in out}) == count


@pytest.mark.parametrize("count", [1, 5, 12])
def test_opened_events_round_trip_as_the_block_stores_them(count: int) -> None:
    _, out = opened(docs(count))
    for envelope, forms in out:
        assert envelope.canonical_forms() == forms
        assert envelope.signing_bytes() == forms.signing
        stored = envelope.to_dict()  # what a block holds
        assert canonical_bytes(stored) == forms.signed
        assert Envelope.model_validate(stored) == envelope
        again, again_forms = parse_event(forms.signed)
        assert again == envelope
        assert again_forms == forms
        assert again.has_valid_signature(TAX.public, again_forms.signing)


def test_an_opened_event_verifies_with_an_independent_rfc9162_and_ed25519_check() -> None:
    # The promise of the design: any RFC 9162 verifier plus one plain Ed25519 check, from the
    # stored event alone. Rebuilt here without BatchProof.verify or canonical_bytes for the
    # signed root message.
    events = docs(6)
    _, out = opened(events)
    bodies = [canonical_bytes(e.unsigned_dict()) for e in events]
    root = root_from_leaf_hashes([hashlib.sha256(b"\x00" + body).digest() for body in bodies])
    message = json.dumps(
        {"context": BATCH_ROOT_CONTEXT, "root": root.hex(), "size": len(events)}, sort_keys=True, separators=(",", ":")
    ).encode()
    verifier = Ed25519PublicKey.from_public_bytes(TAX.public.raw)
    for _envelope, forms in out:
        stored = json.loads(forms.signed)
        proof = stored.pop("batchproof")
        signing = canonical_bytes(stored)
        assert verify_inclusion(
            hashlib.sha256(b"\x00" + signing).digest(),
            proof["index"],
            proof["size"],
            [bytes.fromhex(node) for node in proof["path"]],
            root,
        )
        verifier.verify(bytes.fromhex(proof["signature"]), message)  # raises if it does not hold


def test_sign_batch_drops_earlier_signatures_and_signs_as_the_batch_key() -> None:
    # Events made (and signed) under another key: the batch re-signs them all as its own key.
    signed_elsewhere = [
        make_event(OTHER, source="tax", type=BUSINESS_TYPE, data=e.data, event_id=e.id, time=TIME) for e in docs(3)
    ]
    batch = sign_batch(TAX, signed_elsewhere)
    assert batch == sign_batch(TAX, docs(3))  # the same batch as from the unsigned events
    assert all("signature" not in event and event["signer"] == TAX.key_id for event in batch.events)
    _, out = open_batch(batch.to_bytes())
    assert all(envelope.has_valid_signature(TAX.public) for envelope, _ in out)


def test_open_batch_accepts_any_json_encoding_of_the_batch() -> None:
    # A publisher need not send RFC 8785: events and leaves come from the parsed values.
    batch = sign_batch(TAX, docs(4))
    _, canonical = open_batch(batch.to_bytes())
    pretty = json.dumps(json.loads(batch.to_bytes()), indent=2, ensure_ascii=True).encode()
    _, relaxed = open_batch(pretty)
    assert relaxed == canonical


# -- tampering and domain separation


def _edit_title(index: int) -> Callable[[dict[str, Any]], object]:
    def edit(value: dict[str, Any]) -> None:
        value["events"][index]["data"]["title"] = "forged"

    return edit


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(_edit_title(0), id="first-event-data"),
        pytest.param(_edit_title(3), id="middle-event-data"),
        pytest.param(_edit_title(6), id="last-event-data"),
        pytest.param(lambda v: v["events"].reverse(), id="events-reordered"),
        pytest.param(lambda v: v["events"].pop(), id="last-event-dropped"),
        pytest.param(lambda v: v["events"].pop(0), id="first-event-dropped"),
        pytest.param(lambda v: v["events"].append(doc(99).unsigned_dict()), id="event-appended"),
        pytest.param(lambda v: v.update(signature=_flip_hex(v["signature"], 5)), id="batch-signature"),
    ],
)
def test_a_tampered_batch_verifies_for_none_of_its_events(edit: Callable[[dict[str, Any]], object]) -> None:
    # The signature covers the root and size: one changed, moved or missing event changes both.
    batch = sign_batch(TAX, docs(7))
    _, out = open_batch(edited_wire(batch, edit))
    assert out
    assert not any(envelope.has_valid_signature(TAX.public) for envelope, _ in out)


def test_each_part_of_an_events_batch_proof_is_bound() -> None:
    _, out = opened(docs(7))
    for envelope, _ in out:
        proof = envelope.batchproof
        assert proof is not None and envelope.has_valid_signature(TAX.public)  # the control case
        tampered = [
            with_proof(envelope, index=(proof.index + 1) % proof.size),
            with_proof(envelope, size=proof.size + 1),
            with_proof(envelope, size=proof.size - 1) if proof.size > 1 + proof.index else None,
            with_proof(envelope, path=proof.path[:-1]),
            with_proof(envelope, path=[*proof.path, proof.path[0]]),
            with_proof(envelope, signature=_flip_hex(proof.signature, 0)),
            with_proof(envelope, signature=_flip_hex(proof.signature, 127)),
            *(
                with_proof(envelope, path=[*proof.path[:i], _flip_hex(node, 63), *proof.path[i + 1 :]])
                for i, node in enumerate(proof.path)
            ),
            envelope.model_copy(update={"data": {**envelope.data, "title": "forged"}}),
            envelope.model_copy(update={"id": envelope.id + "x"}),
        ]
        for forged in filter(None, tampered):
            assert not forged.has_valid_signature(TAX.public), forged.batchproof


def test_a_proof_taken_to_another_event_of_the_batch_fails() -> None:
    _, out = opened(docs(4))
    (first, _), (second, _) = out[0], out[1]
    assert not second.model_copy(update={"batchproof": first.batchproof}).has_valid_signature(TAX.public)


def test_a_batch_proof_event_fails_under_another_key() -> None:
    _, out = opened(docs(3))
    envelope = out[1][0]
    assert not envelope.has_valid_signature(OTHER.public)
    # Claiming the other key as signer changes the signing bytes, and the root was not signed by it.
    claimed = envelope.model_copy(update={"signer": OTHER.key_id})
    assert not claimed.has_valid_signature(OTHER.public)
    assert not claimed.has_valid_signature(TAX.public)


def test_batch_and_event_signatures_do_not_pass_for_each_other() -> None:
    # A batch of one: its root is the event's leaf hash, the closest the two messages get.
    event = doc(0)
    batch = sign_batch(TAX, [event])
    root = leaf_hash(event.signing_bytes())
    assert TAX.public.verify(bytes.fromhex(batch.signature), batch_root_message(root, 1))  # the control case
    assert not event.model_copy(update={"signature": batch.signature}).has_valid_signature(TAX.public)
    # ... and the other way: an event's own signature as a batch signature.
    own = event.signed_by(TAX)
    assert own.signature is not None and own.has_valid_signature(TAX.public)
    as_batch = event.model_copy(update={"batchproof": BatchProof(index=0, size=1, path=[], signature=own.signature)})
    assert not as_batch.has_valid_signature(TAX.public)


def test_an_envelope_with_both_a_signature_and_a_batch_proof_is_refused() -> None:
    _, out = opened([doc(0)])
    envelope, _ = out[0]
    both = {**envelope.to_dict(), "signature": envelope.signed_by(TAX).signature}
    with pytest.raises(ValidationError):
        Envelope.model_validate(both)
    with pytest.raises(EventRejected) as caught:
        parse_event(json.dumps(both).encode())
    assert caught.value.reason == RejectionReason.MALFORMED_ENVELOPE


@pytest.mark.parametrize("respell", [str.upper, lambda node: node[:2] + " " + node[2:]], ids=["upper", "space"])
def test_a_respelled_path_is_not_a_second_valid_form_of_the_event(respell: Callable[[str], str]) -> None:
    _, out = opened(docs(4))
    envelope, forms = out[2]
    assert envelope.batchproof is not None
    forged = {
        **envelope.to_dict(),
        "batchproof": {**envelope.batchproof.model_dump(), "path": [respell(n) for n in envelope.batchproof.path]},
    }
    with pytest.raises(EventRejected) as caught:  # not a second stored form (another leaf) of it
        parse_event(json.dumps(forged).encode())
    assert caught.value.reason == RejectionReason.MALFORMED_ENVELOPE


# -- what open_batch and sign_batch refuse


def _set_event_field(name: str, value: object, index: int = 1) -> Callable[[dict[str, Any]], object]:
    def edit(batch: dict[str, Any]) -> None:
        batch["events"][index][name] = value

    return edit


def test_open_batch_refuses_bytes_that_are_not_a_batch() -> None:
    single = make_event(TAX, source="tax", type=BUSINESS_TYPE, data={}, event_id="e-1").to_bytes()
    for raw in [b"", b"\xff\xfe garbage", b"[1, 2]", b'"batch"', b"{}", single, b'{"source": "tax"}']:
        assert refusal(raw) == RejectionReason.MALFORMED_ENVELOPE, raw


def test_open_batch_refuses_duplicate_json_keys() -> None:
    # They would let two readers see two different batches behind one signature.
    raw = sign_batch(TAX, docs(2)).to_bytes()
    assert refusal(raw[:-1] + b',"source":"land"}') == RejectionReason.MALFORMED_ENVELOPE


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        pytest.param(lambda v: v.update(events=[]), RejectionReason.MALFORMED_ENVELOPE, id="no-events"),
        pytest.param(
            lambda v: v.update(events=[doc(n).unsigned_dict() for n in range(MAX_BATCH_EVENTS + 1)]),
            RejectionReason.MALFORMED_ENVELOPE,
            id="too-many-events",
        ),
        pytest.param(lambda v: v.update(extra=1), RejectionReason.MALFORMED_ENVELOPE, id="unknown-batch-field"),
        pytest.param(
            lambda v: v.update(signature="AB" * 64), RejectionReason.MALFORMED_ENVELOPE, id="bad-signature-hex"
        ),
        pytest.param(
            lambda v: v["events"].append("not an event"), RejectionReason.MALFORMED_ENVELOPE, id="event-not-object"
        ),
        pytest.param(_set_event_field("time", "yesterday"), RejectionReason.INVALID_TIME, id="event-bad-time"),
        pytest.param(_set_event_field("schemaversion", "1"), RejectionReason.MALFORMED_ENVELOPE, id="event-invalid"),
        pytest.param(_set_event_field("signature", "ab" * 64), RejectionReason.MALFORMED_ENVELOPE, id="event-signed"),
        pytest.param(
            _set_event_field("batchproof", {"index": 0, "size": 1, "path": [], "signature": "ab" * 64}),
            RejectionReason.MALFORMED_ENVELOPE,
            id="event-has-proof",
        ),
        pytest.param(_set_event_field("source", "land"), RejectionReason.SUBJECT_MISMATCH, id="event-other-source"),
        pytest.param(
            _set_event_field("signer", OTHER.key_id), RejectionReason.SUBJECT_MISMATCH, id="event-other-signer"
        ),
        pytest.param(lambda v: v.update(source="land"), RejectionReason.SUBJECT_MISMATCH, id="batch-other-source"),
        pytest.param(_set_event_field("type", STATE_CHANGING_TYPE), RejectionReason.UNAUTHORIZED, id="state-changing"),
        pytest.param(_set_event_field("id", "evt-0", index=2), RejectionReason.CONFLICTING_ID, id="duplicate-ids"),
    ],
)
def test_open_batch_refuses_a_bad_batch_as_a_whole(
    edit: Callable[[dict[str, Any]], object], reason: RejectionReason
) -> None:
    raw = edited_wire(sign_batch(TAX, docs(3)), edit)
    assert refusal(raw) == reason


def test_the_refusals_above_would_open_without_the_fault() -> None:
    # So each refusal is about its one fault, not the helper's bytes.
    assert len(open_batch(edited_wire(sign_batch(TAX, docs(3)), lambda v: None))[1]) == 3
    assert STATE_CHANGING_TYPE in STATE_CHANGING_TYPES
    assert not EVENT_TYPES.any_version_changes_state(BUSINESS_TYPE)


@pytest.mark.parametrize("event_type", STATE_CHANGING_TYPES)
def test_no_state_changing_type_travels_in_a_batch(event_type: str) -> None:
    # Keys, identity, policy and contracts change the rules that judge the events after them.
    raw = edited_wire(sign_batch(TAX, docs(3)), _set_event_field("type", event_type, index=2))
    assert refusal(raw) == RejectionReason.UNAUTHORIZED
    with pytest.raises(ValueError, match="alone"):
        sign_batch(TAX, [doc(0), doc(1, type=event_type)])


def _minimal_events(count: int) -> list[Envelope]:
    """The smallest events the envelope allows: short id, source and type, no data."""
    return [
        Envelope(
            id=f"{n:x}",
            source="a",
            type="a.b",
            schemaversion=1,
            time="2025-01-01T00:00:00Z",
            data={},
            signer=TAX.key_id,
        )
        for n in range(count)
    ]


def test_a_large_batch_opens_with_full_length_paths() -> None:
    # 900 events: the first 512 sit in a perfect subtree of 512 plus one sibling, so their
    # paths have the longest length the model allows (10).
    _, out = opened(_minimal_events(900), key=TAX)
    assert len(out) == 900
    first, forms = out[0]
    assert first.batchproof is not None and len(first.batchproof.path) == 10
    assert parse_event(forms.signed)[0] == first  # the validated model accepts what open_batch built
    assert all(envelope.has_valid_signature(TAX.public) for envelope, _ in out)


def test_a_batch_of_max_batch_events_minimal_events_opens() -> None:
    _, out = opened(_minimal_events(MAX_BATCH_EVENTS), key=TAX)
    assert len(out) == MAX_BATCH_EVENTS


def unsigned_batch(events: list[Envelope]) -> EventBatch:
    """A batch as a careless or hostile client might send it: sign_batch would refuse it."""
    return EventBatch(source="tax", signer=TAX.key_id, signature="0" * 128, events=[e.unsigned_dict() for e in events])


def test_open_batch_refuses_a_message_over_the_byte_limit() -> None:
    too_big = [doc(0, data={"blob": "x" * MAX_BATCH_BYTES})]
    with pytest.raises(ValueError, match="limit"):
        sign_batch(TAX, too_big)
    raw = unsigned_batch(too_big).to_bytes()
    assert len(raw) > MAX_BATCH_BYTES
    assert refusal(raw) == RejectionReason.OVERSIZED
    # Padding alone (whitespace is valid JSON) counts too: the limit is on the message.
    small = sign_batch(TAX, docs(2)).to_bytes()
    assert refusal(small + b" " * (MAX_BATCH_BYTES - len(small) + 1)) == RejectionReason.OVERSIZED
    assert len(open_batch(small + b" " * (MAX_BATCH_BYTES - len(small)))[1]) == 2  # at the limit: fine


def test_the_largest_batch_opens_within_the_nats_payload_limit() -> None:
    # A full message of 1024 events: each stored event gains a proof of ten hashes and the
    # signature, and the block holding them must still fit one NATS message.
    filler = "x" * ((MAX_BATCH_BYTES // MAX_BATCH_EVENTS) - 370)
    batch = sign_batch(
        TAX,
        [doc(n, data={"document_id": f"d-{n}", "sha256": "ab" * 32, "title": filler}) for n in range(MAX_BATCH_EVENTS)],
    )
    raw = batch.to_bytes()
    assert MAX_BATCH_BYTES - 20_000 < len(raw) <= MAX_BATCH_BYTES
    _, out = open_batch(raw)
    assert sum(len(forms.signed) for _, forms in out) < MAX_PAYLOAD // 2


def test_a_batched_event_is_held_to_the_single_event_size_limit() -> None:
    big = doc(0, data={"document_id": "d", "sha256": "ab" * 32, "title": "x" * MAX_EVENT_BYTES})
    with pytest.raises(ValueError, match="limit"):
        sign_batch(TAX, [big])
    raw = unsigned_batch([big]).to_bytes()
    assert len(raw) <= MAX_BATCH_BYTES
    with pytest.raises(EventRejected) as caught:
        open_batch(raw)
    assert caught.value.reason == RejectionReason.OVERSIZED


@pytest.mark.parametrize(
    ("events", "match"),
    [
        pytest.param([], "1 to", id="empty"),
        pytest.param([doc(n, data={}) for n in range(MAX_BATCH_EVENTS + 1)], "1 to", id="too-many"),
        pytest.param([doc(0), doc(1, source="land")], "one source", id="mixed-sources"),
        pytest.param([doc(0), doc(1), doc(0)], "repeat", id="duplicate-ids"),
        pytest.param([doc(0), doc(1, type=STATE_CHANGING_TYPE)], "alone", id="state-changing"),
    ],
)
def test_sign_batch_refuses_what_open_batch_would(events: list[Envelope], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sign_batch(TAX, events)


# -- EventBatch.msg_id


def test_batch_msg_id_is_stable_safe_and_distinct() -> None:
    batch = sign_batch(TAX, docs(3))
    again = sign_batch(TAX, docs(3))  # Ed25519 is deterministic: a re-sent batch is the same message
    assert again.to_bytes() == batch.to_bytes()
    assert again.msg_id == batch.msg_id
    assert re.fullmatch(EVENT_ID_PATTERN, batch.msg_id)
    others = [
        sign_batch(TAX, docs(4)),
        sign_batch(TAX, docs(3)[::-1]),
        sign_batch(TAX, [doc(0), doc(1), doc(2, data={})]),
        sign_batch(OTHER, docs(3, key=OTHER)),
    ]
    assert len({batch.msg_id, *(other.msg_id for other in others)}) == 1 + len(others)


def test_batch_msg_id_follows_the_signature_not_the_encoding() -> None:
    batch = sign_batch(TAX, docs(2))
    pretty = json.dumps(json.loads(batch.to_bytes()), indent=1).encode()
    reopened, _ = open_batch(pretty)
    assert reopened.msg_id == batch.msg_id


# -- the block cutter: a batch counts as its events


def cutter(max_count: int = 5, preferred_bytes: int = 1000) -> BlockCutter[str]:
    return BlockCutter(BlockLimits(max_count=max_count, preferred_bytes=preferred_bytes, max_wait_s=1.0))


def test_an_item_counts_its_events_towards_the_count_limit() -> None:
    c = cutter(max_count=5)
    assert c.add("a", 1, count=3) == []
    assert c.add("b", 1, count=2) == [["a", "b"]]  # 5 events: the limit is reached
    assert c.pending == 0
    assert c.add("c", 1, count=4) == []  # the count starts over after a cut
    assert c.add("d", 1) == [["c", "d"]]


def test_the_count_limit_cuts_before_an_item_that_would_overflow_it() -> None:
    c = cutter(max_count=5)
    assert c.add("a", 1, count=3) == []
    assert c.add("b", 1, count=3) == [["a"]]  # 6 > 5: cut before "b", which starts the next block
    assert c.pending == 1
    assert c.add("c", 1, count=2) == [["b", "c"]]


def test_an_item_of_more_events_than_the_limit_goes_alone() -> None:
    c = cutter(max_count=5)
    assert c.add("huge", 1, count=6) == [["huge"]]
    assert c.pending == 0
    assert c.add("a", 1) == []
    assert c.add("huge", 1, count=9) == [["a"], ["huge"]]  # the pending block first, in order
    assert c.pending == 0
    assert c.add("full", 1, count=5) == [["full"]]  # exactly the limit fits, and cuts at once


def test_a_timer_cut_resets_the_event_count() -> None:
    c = cutter(max_count=5)
    c.add("a", 1, count=4)
    assert c.cut() == ["a"]
    assert c.add("b", 1, count=4) == []
    assert c.pending == 1


def test_bytes_and_counts_both_bound_a_block() -> None:
    c = cutter(max_count=10, preferred_bytes=100)
    assert c.add("a", 60, count=2) == []
    assert c.add("b", 50, count=2) == [["a"]]  # 110 bytes overflow, though 4 events would fit
    assert c.add("c", 10, count=8) == [["b", "c"]]  # 60 bytes fit; 2 + 8 events reach the limit
    assert c.add("d", 10, count=9) == []
    assert c.add("e", 10, count=2) == [["d"]]  # 20 bytes fit, 11 events would not


# -- the orderer's intake: preparse_message, then sequence


@pytest.fixture(scope="module")
def tax_state(chain_factory: type[ChainBuilder]) -> ChainState:
    """Genesis with the department tax and its key, as after its department.registered."""
    state = chain_factory().genesis_state()
    state.add_principal(Principal("tax", "department", "Tax", "tax"))
    state.add_key(TAX.public, "tax")
    return state


def _batch_intake(batch: EventBatch, dept: str = "tax", *, msg_id: str | None = None, seq: int = 7) -> Intake:
    return Intake(batch_subject(dept), batch.to_bytes(), msg_id, seq)


def test_batch_subjects_are_recognised() -> None:
    assert is_batch_subject(batch_subject("tax"))
    assert not is_batch_subject(event_subject("tax", BUSINESS_TYPE))
    assert not is_batch_subject("gov.events.tax.x._batch")
    assert not is_batch_subject("gov.other.tax._batch")


def test_preparse_opens_a_batch_into_one_item_per_event() -> None:
    events = docs(5)
    batch = sign_batch(TAX, events)
    intake = _batch_intake(batch, msg_id=batch.msg_id)
    parsed = preparse_message(intake)
    assert [p.rejection for p in parsed] == [None] * 5
    assert [p.envelope.id for p in parsed if p.envelope] == [e.id for e in events]
    _, out = open_batch(batch.to_bytes())
    for item, (envelope, forms) in zip(parsed, out, strict=True):
        assert item.envelope == envelope
        assert item.intake.msg_id == envelope.id  # a receipt finds the event by its own id
        assert item.intake.data == forms.signed == envelope.to_bytes()  # what the block stores
        assert (item.intake.subject, item.intake.stream_seq) == (intake.subject, intake.stream_seq)
        assert item.leaf == leaf_hash(forms.signed)
        assert item.signing == forms.signing
        assert item.size == len(forms.signed)


def test_preparse_of_a_single_event_is_unchanged() -> None:
    event = doc(0).signed_by(TAX)
    parsed = preparse_message(Intake(event_subject("tax", BUSINESS_TYPE), event.to_bytes(), event.id, 1))
    assert len(parsed) == 1 and parsed[0].rejection is None and parsed[0].envelope == event


@pytest.mark.parametrize("msg_id", ["batch", None])
def test_a_batch_on_another_departments_subject_is_one_rejection(msg_id: str | None) -> None:
    batch = sign_batch(TAX, docs(4))
    intake = _batch_intake(batch, "land", msg_id=batch.msg_id if msg_id else None, seq=42)
    parsed = preparse_message(intake)
    assert len(parsed) == 1
    rejection = parsed[0].rejection
    assert rejection is not None and parsed[0].envelope is None
    assert rejection.reason == RejectionReason.SUBJECT_MISMATCH
    assert rejection.event_id == (batch.msg_id if msg_id else "seq-42")
    assert rejection.source == "land"  # the subject's department: where its permissions let it publish
    assert base64.b64decode(rejection.record()["original_b64"]) == batch.to_bytes()  # nothing is lost


def test_an_unopenable_batch_is_one_rejection() -> None:
    parsed = preparse_message(Intake(batch_subject("tax"), b"{not json", "m-1", 3))
    assert len(parsed) == 1 and parsed[0].rejection is not None
    assert parsed[0].rejection.reason == RejectionReason.MALFORMED_ENVELOPE
    assert parsed[0].rejection.event_id == "m-1"


def test_preparse_never_raises_on_a_batch_subject_without_a_department() -> None:
    batch = sign_batch(TAX, docs(2))
    subject = "gov.events.._batch"
    assert not is_batch_subject(subject)
    parsed = preparse_message(Intake(subject, batch.to_bytes(), None, 1))
    assert len(parsed) == 1 and parsed[0].rejection is not None
    assert parsed[0].rejection.reason in (RejectionReason.MALFORMED_ENVELOPE, RejectionReason.SUBJECT_MISMATCH)


def test_sequence_accepts_every_event_of_a_batch_from_a_registered_key(tax_state: ChainState) -> None:
    events = docs(6)
    parsed = preparse_message(_batch_intake(sign_batch(TAX, events)))
    result = sequence(tax_state.copy(), parsed, {}, block_time=TIME)
    assert result.rejections == []
    assert [e.id for e in result.envelopes] == [e.id for e in events]
    assert result.leaves == [leaf_hash(e.to_bytes()) for e in result.envelopes]
    assert not result.state_changed


@pytest.mark.parametrize("position", [0, 3, 5])
def test_sequence_refuses_only_the_event_the_policy_does_not_grant(tax_state: ChainState, position: int) -> None:
    events = docs(6)
    events[position] = doc(position, type=UNGRANTED_TYPE, data={})
    assert UNGRANTED_TYPE not in {
        t for t, grants in tax_state.policy.publish.items() if any(g.kind == "department" for g in grants)
    }
    parsed = preparse_message(_batch_intake(sign_batch(TAX, events)))
    result = sequence(tax_state.copy(), parsed, {}, block_time=TIME)
    assert [e.id for e in result.envelopes] == [e.id for i, e in enumerate(events) if i != position]
    assert len(result.rejections) == 1
    rejection = result.rejections[0]
    assert rejection.reason == RejectionReason.UNAUTHORIZED
    assert rejection.event_id == events[position].id
    assert rejection.source == "tax"
    # The record holds that event alone, in its verifiable signed form, not the whole batch.
    assert base64.b64decode(rejection.record()["original_b64"]) == parsed[position].intake.data


def test_sequence_refuses_every_event_of_a_batch_from_an_unregistered_key(tax_state: ChainState) -> None:
    parsed = preparse_message(_batch_intake(sign_batch(OTHER, docs(3, key=OTHER))))
    result = sequence(tax_state.copy(), parsed, {}, block_time=TIME)
    assert result.envelopes == []
    assert [r.reason for r in result.rejections] == [RejectionReason.UNKNOWN_KEY] * 3


def test_sequence_refuses_a_batch_event_whose_proof_was_tampered(tax_state: ChainState) -> None:
    parsed = preparse_message(_batch_intake(sign_batch(TAX, docs(4))))
    victim = parsed[2]
    assert victim.envelope is not None and victim.envelope.batchproof is not None
    forged = with_proof(victim.envelope, signature=_flip_hex(victim.envelope.batchproof.signature, 3))
    forged_forms = forged.canonical_forms()
    parsed[2] = Parsed(
        Intake(victim.intake.subject, forged_forms.signed, forged.id, victim.intake.stream_seq),
        forged,
        leaf_hash(forged_forms.signed),
        forged_forms.signing,
    )
    result = sequence(tax_state.copy(), parsed, {}, block_time=TIME)
    assert [e.id for e in result.envelopes] == ["evt-0", "evt-1", "evt-3"]
    assert [(r.event_id, r.reason) for r in result.rejections] == [("evt-2", RejectionReason.BAD_SIGNATURE)]


def test_a_re_sent_batch_is_a_run_of_harmless_duplicates(tax_state: ChainState) -> None:
    batch = sign_batch(TAX, docs(3))
    first = sequence(tax_state.copy(), preparse_message(_batch_intake(batch, seq=1)), {}, block_time=TIME)
    on_chain = {EventKey(e.source, e.id): leaf for e, leaf in zip(first.envelopes, first.leaves, strict=True)}
    again = sequence(tax_state.copy(), preparse_message(_batch_intake(batch, seq=2)), on_chain, block_time=TIME)
    assert (again.envelopes, again.rejections, again.duplicates) == ([], [], 3)


@PROPS
@given(st.binary(min_size=32, max_size=32), st.integers(1, MAX_BATCH_EVENTS))
def test_the_signed_root_message_is_the_canonical_json_it_claims(root: bytes, size: int) -> None:
    # batch_root_message writes its JSON out by hand for speed; any verifier rebuilds it with JCS.
    expected = canonical_bytes({"context": BATCH_ROOT_CONTEXT, "root": root.hex(), "size": size})
    assert batch_root_message(root, size) == expected
