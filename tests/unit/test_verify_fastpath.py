"""The verifier's and the block reader's fast paths equal the reference paths they shortcut.

``verify._open_fast`` may only accept an event the reference (the envelope model, its signed
normal form, RFC 8785) accepts, and must then give the same envelope, signing and leaf bytes;
``block._parse_fast`` may only accept a block ``parse_json_object`` + the model accept, and
must give the same block. Anything else they leave to the reference (None).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govchain.protocol import verify
from govchain.protocol.batch import open_batch, sign_batch
from govchain.protocol.block import Block, _parse_fast
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.jsontext import MAX_EVENT_DEPTH, parse_json_object
from govchain.protocol.keys import SigningKey

KEY = SigningKey.generate()
SINGLE = make_event(
    KEY,
    source="tax",
    type="document.registered",
    subject="case-1",
    data={"document_id": "d-1", "sha256": "ab" * 32, "title": 'Tïtle "q" \n'},
).to_dict()
_, OPENED = open_batch(
    sign_batch(
        KEY,
        [
            make_event(
                KEY, source="tax", type="document.registered", data={"document_id": f"d-{i}", "n": i, "ok": True}
            )
            for i in range(5)
        ],
    ).to_bytes()
)
BATCHED = [forms.record for _, forms in OPENED]
GOOD = [SINGLE, *BATCHED]

ODD_VALUES = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
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
    "tax\n",
    "2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00Z\n",
    "2026-13-01T00:00:00Z",
    "\ud800",
    [],
    {},
    ["ab" * 32],
    {"a": 1},
    [1, [2, [3]]],
    "application/json",
]


def reference(event: dict[str, Any]) -> tuple[Envelope, bytes, bytes] | None:
    """What the reference path makes of an event: None where it refuses it."""
    try:
        envelope = Envelope.model_validate(event)
        if not envelope.is_signed or envelope.to_dict() != event:
            return None
        return envelope, envelope.signing_bytes(), canonical_bytes(event)
    except Exception:  # noqa: BLE001 - any refusal
        return None


def assert_agrees(event: Any) -> None:
    fast = verify._open_fast(event) if type(event) is dict else None
    if fast is None:
        return
    ref = reference(event)
    assert ref is not None, f"the fast path accepted what the reference refuses: {event!r}"
    envelope, signing, signed = fast
    assert envelope == ref[0]
    assert envelope.model_dump() == ref[0].model_dump()
    assert envelope.model_fields_set == ref[0].model_fields_set
    assert envelope.to_dict() == event
    assert signing == ref[1]
    assert signed == ref[2]


@pytest.mark.parametrize("event", GOOD, ids=["single", *[f"batched{i}" for i in range(len(BATCHED))]])
def test_good_events_take_the_fast_path_and_agree(event: dict[str, Any]) -> None:
    assert verify._open_fast(event) is not None
    assert_agrees(event)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(0, len(GOOD) - 1),
    edits=st.lists(
        st.tuples(
            st.sampled_from(
                [
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
                    "batchproof.index",
                    "batchproof.size",
                    "batchproof.path",
                    "batchproof.signature",
                    "batchproof.extra",
                    "batchproof.path.0",
                    "data.k",
                ]
            ),
            st.sampled_from([*ODD_VALUES, "<delete>"]),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_damaged_events_are_refused_or_agree(which: int, edits: list[tuple[str, Any]]) -> None:
    event = copy.deepcopy(GOOD[which])
    for where, value in edits:
        target, key = event, where
        parts = where.split(".")
        try:
            for part in parts[:-1]:
                target = target[int(part)] if isinstance(target, list) else target[part]
            key = parts[-1]
            if isinstance(target, list):
                index = int(key)
                if value == "<delete>":
                    del target[index]
                else:
                    target[index] = value
            elif value == "<delete>":
                target.pop(key, None)
            else:
                target[key] = copy.deepcopy(value)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            continue
    assert_agrees(event)


def test_a_deep_payload_goes_to_the_reference() -> None:
    event = copy.deepcopy(SINGLE)
    deep: Any = 1
    for _ in range(5000):
        deep = [deep]
    event["data"] = {"deep": deep}
    assert verify._open_fast(event) is None or reference(event) is not None


def reference_block(raw: bytes) -> Block | None:
    try:
        return Block.model_validate(parse_json_object(raw, what="block", max_depth=MAX_EVENT_DEPTH + 2))
    except Exception:  # noqa: BLE001 - any refusal
        return None


def _block_json() -> dict[str, Any]:
    from govchain.protocol.genesis import make_genesis_block, make_genesis_event

    orderer = SigningKey.generate()
    block = make_genesis_block(make_genesis_event("fast", [KEY], [orderer]), orderer)
    value = json.loads(block.to_bytes())
    value["events"] = GOOD
    return value


BLOCK = _block_json()


def nested(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: None,
        lambda b: b["events"][0]["data"].update(deep=nested(MAX_EVENT_DEPTH - 2)),  # exactly at the limit
        lambda b: b["events"][0]["data"].update(deep=nested(MAX_EVENT_DEPTH - 1)),  # one beyond
        lambda b: b["header"].update(height="1"),
        lambda b: b["header"].update(height=2**60),
        lambda b: b["header"].update(extra=1),
        lambda b: b.update(extra=1),
        lambda b: b.update(hash="AB" * 32),
        lambda b: b.update(signature="ab" * 63),
        lambda b: b.update(events={}),
        lambda b: b["events"].append([]),
        lambda b: b["events"][0]["data"].update(big=2**60),
        lambda b: b["events"][0]["data"].update(big=2**53 + 1),
    ],
)
def test_block_fast_parse_agrees_with_the_reference(mutate: Any) -> None:
    value = copy.deepcopy(BLOCK)
    mutate(value)
    raw = json.dumps(value, separators=(",", ":")).encode()
    fast, ref = _parse_fast(raw), reference_block(raw)
    if fast is not None:
        assert ref is not None and fast == ref
        assert fast.events == ref.events


@pytest.mark.parametrize(
    "raw",
    [
        b'{"header":{},"header":{}}',
        b"\xef\xbb\xbf{}",
        b'{"a":NaN}',
        "{}".encode("utf-16"),
        b"[" * 5000,
        b"",
    ],
)
def test_block_fast_parse_leaves_odd_text_to_the_reference(raw: bytes) -> None:
    assert _parse_fast(raw) is None


def test_duplicate_keys_inside_an_event_are_left_to_the_reference() -> None:
    raw = json.dumps(BLOCK, separators=(",", ":")).encode()
    doubled = raw.replace(b'"specversion":"1.0"', b'"specversion":"1.0","specversion":"1.0"', 1)
    assert doubled != raw
    assert _parse_fast(doubled) is None
    assert reference_block(doubled) is None
