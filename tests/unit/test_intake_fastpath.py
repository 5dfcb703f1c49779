"""The orderer's intake fast paths equal the reference readers they shortcut.

``fastpath.open_batch_fast`` may only accept a batch message that ``batch.open_batch`` accepts,
and must then give the same batch, envelopes (fields set included), signing and leaf bytes,
records and root; ``fastpath.open_event_fast`` likewise against ``envelope.parse_event``.
Anything else they leave to the reference (None). The sealing shortcut (``block_wire``) must
give the block that ``Block.to_bytes`` gives, to every reader.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govchain.bus.subjects import batch_subject, event_subject
from govchain.crypto import CryptoError, suite_by_name
from govchain.protocol.batch import open_batch, sign_batch
from govchain.protocol.block import Block, seal_block
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.envelope import Envelope, make_event, parse_event, utc_now
from govchain.protocol.fastpath import open_batch_fast, open_event_fast, tree_paths
from govchain.protocol.genesis import genesis_payload, make_genesis_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import Frontier, all_inclusion_proofs, leaf_hash
from govchain.protocol.state import ChainState, Principal
from govchain.protocol.verify import Checkpoint
from govchain.services.ledger import sequencer
from govchain.services.ledger.sequencer import Intake, block_wire, preparse_message, seal_judged, sequence

KEY = SigningKey.generate()


def _docs(count: int, key: SigningKey = KEY, prefix: str = "doc", **extra: Any) -> list[Envelope]:
    return [
        make_event(
            key,
            source="tax",
            type="document.registered",
            event_id=f"{prefix}-{i}",
            subject="case-1" if i % 2 else None,
            data={"document_id": f"d-{i}", "sha256": "ab" * 32, "title": f'Tïtle "{i}" \n\u2028', **extra},
        )
        for i in range(count)
    ]


BATCH = json.loads(sign_batch(KEY, _docs(5)).to_bytes())
SINGLE = json.loads(_docs(1)[0].to_bytes())

ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    0.5,
    2**53,
    2**60,
    1e21,
    "",
    "x",
    "1.0",
    "A" * 65,
    "ab" * 32,
    "AB" * 32,
    "ab" * 64,
    "tax",
    "tax\n",
    "other",
    "x" * 257,
    "document.registered",
    "department.registered",
    "doc-0",
    "2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00Z\n",
    "2026-13-01T00:00:00Z",
    "\ud800",
    "é",
    [],
    {},
    ["ab" * 32],
    {"a": 1},
    {"é": 1},
    [1, [2, [3]]],
    "application/json",
]

EVENT_FIELDS = [
    "specversion",
    "id",
    "source",
    "type",
    "schemaversion",
    "subject",
    "time",
    "datacontenttype",
    "data",
    "signer",
    "signature",
    "batchproof",
    "extra",
    "data.k",
    "data.title",
]


def reference_batch(raw: bytes, suite: Any = None) -> Any:
    try:
        return open_batch(raw, suite)
    except Exception:  # noqa: BLE001 - any refusal
        return None


def assert_batch_agrees(raw: bytes, suite: Any = None) -> bool:
    """True when the fast path took ``raw`` (and then agreed with the reference)."""
    fast = open_batch_fast(raw, suite)
    if fast is None:
        return False
    ref = reference_batch(raw, suite)
    assert ref is not None, f"the fast path accepted a batch the reference refuses: {raw[:300]!r}"
    assert fast[0] == ref[0]
    assert fast[0].model_fields_set == ref[0].model_fields_set
    assert len(fast[1]) == len(ref[1])
    for (envelope, forms), (ref_envelope, ref_forms) in zip(fast[1], ref[1], strict=True):
        assert envelope == ref_envelope
        assert envelope.model_dump() == ref_envelope.model_dump()
        assert envelope.model_fields_set == ref_envelope.model_fields_set
        assert envelope.batchproof is not None and ref_envelope.batchproof is not None
        assert envelope.batchproof.model_fields_set == ref_envelope.batchproof.model_fields_set
        assert (forms.signing, forms.signed, forms.batch_root) == (
            ref_forms.signing,
            ref_forms.signed,
            ref_forms.batch_root,
        )
        assert forms.record == ref_forms.record
        assert canonical_bytes(forms.record) == forms.signed
    return True


def _edit(value: Any, where: str, new: Any) -> None:
    parts = where.split(".")
    target = value
    try:
        for part in parts[:-1]:
            target = target[int(part)] if isinstance(target, list) else target[part]
        key = parts[-1]
        if isinstance(target, list):
            if new == "<delete>":
                del target[int(key)]
            else:
                target[int(key)] = copy.deepcopy(new)
        elif new == "<delete>":
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(new)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        pass


def _encodings(value: Any) -> list[bytes]:
    """The canonical bytes (what the fast path takes), and other spellings of the same value."""
    out = []
    try:
        out.append(canonical_bytes(value))
    except Exception:  # noqa: BLE001 - no canonical form: only the other spellings
        pass
    for kwargs in ({"separators": (",", ":")}, {"sort_keys": True}, {"sort_keys": True, "separators": (",", ":")}):
        try:
            out.append(json.dumps(value, ensure_ascii=False, **kwargs).encode("utf-8", "surrogatepass"))  # type: ignore[arg-type]
        except (ValueError, TypeError):
            pass
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64, 100])
def test_good_batches_take_the_fast_path_and_agree(size: int) -> None:
    raw = sign_batch(KEY, _docs(size)).to_bytes()
    assert assert_batch_agrees(raw)


def test_other_suites_agree() -> None:
    try:
        suite = suite_by_name("gm")
        key = SigningKey.generate(suite)
    except CryptoError:
        pytest.skip("the gm backend is not installed here")
    raw = sign_batch(key, _docs(7, key)).to_bytes()
    assert assert_batch_agrees(raw, suite)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from(["source", "signer", "signature", "events", "extra", "events.0", "events.9"]),
                st.builds(lambda i, f: f"events.{i}.{f}", st.integers(0, 4), st.sampled_from(EVENT_FIELDS)),
            ),
            st.sampled_from([*ODD_VALUES, "<delete>"]),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_damaged_batches_are_left_to_the_reference_or_agree(edits: list[tuple[str, Any]]) -> None:
    value = copy.deepcopy(BATCH)
    for where, new in edits:
        _edit(value, where, new)
    for raw in _encodings(value):
        assert_batch_agrees(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_byte_level_damage_is_left_to_the_reference_or_agrees(data: st.DataObject) -> None:
    raw = bytearray(sign_batch(KEY, _docs(3)).to_bytes())
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(raw) - 1))
        kind = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        if kind == "flip":
            raw[at] = data.draw(st.integers(0, 255))
        elif kind == "delete":
            del raw[at]
        else:
            raw[at:at] = data.draw(st.sampled_from([b" ", b'"', b"\\", b",", b"{", b"\\u0041", b"\xff", b"0"]))
    assert_batch_agrees(bytes(raw))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda raw: raw.replace(b'"specversion":"1.0"', b'"specversion":"1.0","specversion":"1.0"', 1),
        lambda raw: raw.replace(b'"source":"tax"}', b'"source":"tax","source":"tax"}', 1),
        lambda raw: raw.replace(b'"doc-0"', b'"doc\\u002d0"', 1),
        lambda raw: raw.replace(b"\xc3\xaf", b"\\u00ef", 1),
        lambda raw: raw.replace(b'"schemaversion":1', b'"schemaversion":1.0', 1),
        lambda raw: raw.replace(b'"schemaversion":1', b'"schemaversion":true', 1),
        lambda raw: b"\xef\xbb\xbf" + raw,
        lambda raw: raw + b" ",
        lambda raw: b" " + raw,
        lambda raw: raw.replace(b",", b", ", 1),
        lambda raw: raw.decode().encode("utf-16"),
        lambda raw: raw[:-1],
        lambda raw: raw.replace(b'"title":', b'"title":NaN,"t":', 1),
    ],
)
def test_other_spellings_are_left_to_the_reference(mutate: Any) -> None:
    raw = sign_batch(KEY, _docs(3)).to_bytes()
    assert open_batch_fast(mutate(raw)) is None


def test_limits_are_left_to_the_reference() -> None:
    deep: Any = 0
    for _ in range(40):
        deep = [deep]
    for extra in ({"deep": deep}, {"big": 2**53}, {"pad": "x" * 70_000}, {"f": 0.1}):
        value = copy.deepcopy(BATCH)
        value["events"][0]["data"].update(extra)
        for raw in _encodings(value):
            assert_batch_agrees(raw)
            assert open_batch_fast(raw) is None or reference_batch(raw) is not None


@pytest.mark.parametrize("levels", [28, 29, 30, 31, 32])
def test_the_depth_limit_is_the_reference_one(levels: int) -> None:
    """The reference bounds a batch at 34 levels; the fast path takes exactly what it takes."""
    deep: Any = 0
    for _ in range(levels):
        deep = [deep]
    value = copy.deepcopy(BATCH)
    value["events"][0]["data"]["deep"] = deep
    raw = canonical_bytes(value)
    assert (open_batch_fast(raw) is not None) == (reference_batch(raw) is not None)
    assert_batch_agrees(raw)


# -- single events


def reference_event(raw: bytes) -> Any:
    try:
        return parse_event(raw)
    except Exception:  # noqa: BLE001 - any refusal
        return None


def assert_event_agrees(raw: bytes) -> None:
    fast = open_event_fast(raw)
    if fast is None:
        return
    ref = reference_event(raw)
    assert ref is not None, f"the fast path accepted an event the reference refuses: {raw[:300]!r}"
    assert fast[0] == ref[0] and fast[0].model_fields_set == ref[0].model_fields_set
    assert (fast[1].signing, fast[1].signed) == (ref[1].signing, ref[1].signed)
    assert fast[1].record == ref[1].record


def test_a_good_event_takes_the_fast_path_and_agrees() -> None:
    for envelope in _docs(3):
        raw = envelope.to_bytes()
        assert open_event_fast(raw) is not None
        assert_event_agrees(raw)
    _, opened = open_batch(sign_batch(KEY, _docs(3)).to_bytes())
    for _, forms in opened:  # an event that carries a batch proof, published alone
        assert open_event_fast(forms.signed) is not None
        assert_event_agrees(forms.signed)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(EVENT_FIELDS), st.sampled_from([*ODD_VALUES, "<delete>"])), min_size=1, max_size=3
    )
)
def test_damaged_events_are_left_to_the_reference_or_agree(edits: list[tuple[str, Any]]) -> None:
    value = copy.deepcopy(SINGLE)
    for where, new in edits:
        _edit(value, where, new)
    for raw in _encodings(value):
        assert_event_agrees(raw)


# -- the orderer's intake and sealing, fast against reference


def _state() -> tuple[ChainState, SigningKey]:
    orderer = SigningKey.generate()
    state = ChainState.from_genesis(genesis_payload(make_genesis_event("fast", [SigningKey.generate()], [orderer])))
    state.add_principal(Principal("tax", "department", "Tax", "tax"))
    state.add_key(KEY.public, "tax")
    return state, orderer


def test_the_intake_judges_alike_with_and_without_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    messages = [Intake(batch_subject("tax"), sign_batch(KEY, _docs(4)).to_bytes(), "b-1", 1)]
    alone = _docs(2, prefix="alone")
    messages += [Intake(event_subject("tax", e.type), e.to_bytes(), e.id, 2 + n) for n, e in enumerate(alone)]
    messages.append(messages[-1])  # a re-send: the same bytes again
    fast = [p for m in messages for p in preparse_message(m)]
    monkeypatch.setattr(sequencer, "open_batch_parts", lambda raw, suite=None: None)
    monkeypatch.setattr(sequencer, "open_event_fast", lambda raw: None)
    slow = [p for m in messages for p in preparse_message(m)]
    assert fast == slow  # envelopes, leaves, signing and signed bytes, records, roots, intakes
    state, _ = _state()
    when = utc_now()
    judged = [sequence(state.copy(), parsed, {}, block_time=when) for parsed in (fast, slow)]
    assert judged[0].envelopes == judged[1].envelopes and judged[0].signed == judged[1].signed
    assert not judged[0].rejections and len(judged[0].envelopes) == 6
    assert judged[0].duplicates == 1


def test_the_sealed_block_is_seal_block_and_its_wire_reads_back() -> None:
    state, orderer = _state()
    parsed = preparse_message(Intake(batch_subject("tax"), sign_batch(KEY, _docs(6)).to_bytes(), "b-1", 1))
    when = utc_now()
    judged = sequence(state, parsed, {}, block_time=when)
    log = Frontier()
    log.append(os.urandom(32))
    checkpoint = Checkpoint(0, "ab" * 32, log, state)
    sealed = seal_judged(checkpoint, judged, block_time=when, key=orderer)
    expected_log = log.copy()
    for leaf in judged.leaves:
        expected_log.append(leaf)
    expected = seal_block(
        chain_id=state.chain_id,
        height=1,
        prev_hash="ab" * 32,
        events=judged.records,
        leaf_hashes=judged.leaves,
        log_after=expected_log,
        time=when,
        orderer_key=orderer,
    )
    assert sealed.block == expected
    assert sealed.checkpoint.log.root() == expected_log.root() and sealed.checkpoint.height == 1
    assert sealed.applied.first_leaf_index == 1 and sealed.applied.leaf_hashes == judged.leaves
    assert Block.from_bytes(sealed.wire) == expected
    assert json.loads(sealed.wire) == json.loads(expected.to_bytes())
    assert [leaf_hash(canonical_bytes(e)) for e in Block.from_bytes(sealed.wire).events] == judged.leaves


def test_block_wire_refuses_a_mismatch() -> None:
    state, orderer = _state()
    parsed = preparse_message(Intake(batch_subject("tax"), sign_batch(KEY, _docs(2)).to_bytes(), "b-1", 1))
    judged = sequence(state, parsed, {}, block_time=utc_now())
    sealed = seal_judged(Checkpoint(0, "ab" * 32, Frontier(), state), judged, block_time=utc_now(), key=orderer)
    with pytest.raises(ValueError):
        block_wire(sealed.block, judged.signed[:1])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300))
def test_tree_paths_are_the_rfc_9162_paths(size: int) -> None:
    leaves = [os.urandom(32) for _ in range(size)]
    root, paths = all_inclusion_proofs(leaves)
    assert tree_paths(leaves) == (root, [[node.hex() for node in path] for path in paths])
