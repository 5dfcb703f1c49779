"""CloudEvents 1.0: the CloudEvents form of GovChain events (``to_cloudevent``/``from_cloudevent``).

Checked three ways:

- against the official CloudEvents JSON schema (cloudevents/formats/cloudevents.json, vendored
  in tests/standards/cloudevents/, see README.md), with its ``uri-reference`` and ``date-time``
  formats enforced;
- against the spec's type system for attributes (spec.md §"Type System", §"Extension Context
  Attributes"): every attribute but ``data`` is a Boolean, Integer (32-bit), String, Binary,
  URI(-reference) or Timestamp, never a map or a list, and extension names are [a-z0-9]{1,20};
- through the official Python SDK (``cloudevents``, pinned in the [test] extra): structured and
  binary HTTP mode out and back, after which the event still verifies.

The fault these pin: a batched event carried ``batchproof`` as a JSON object, which is no
CloudEvents type and which binary mode turned into a Python repr header.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from jsonschema import Draft7Validator, FormatChecker

from govchain.protocol.batch import open_batch, sign_batch
from govchain.protocol.envelope import (
    CLOUDEVENT_EXTENSIONS,
    MAX_CLOUDEVENT_BYTES,
    Envelope,
    batchproof_attribute,
    from_cloudevent,
    make_event,
    parse_cloudevent,
    to_cloudevent,
)
from govchain.protocol.errors import EventRejected, RejectionReason
from govchain.protocol.keys import SigningKey

HERE = Path(__file__).parent
SCHEMA = json.loads((HERE / "cloudevents" / "cloudevents.json").read_text(encoding="utf-8"))
VALIDATOR = Draft7Validator(SCHEMA, format_checker=FormatChecker())

KEY = SigningKey.generate()
INT32 = range(-(2**31), 2**31)
EXTENSION_NAME = re.compile(r"[a-z0-9]{1,20}")  # MUST be a-z0-9; SHOULD be at most 20 characters
CONTEXT_ATTRIBUTES = {"specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time"}


def single_event() -> Envelope:
    return make_event(
        KEY,
        source="tax",
        type="document.registered",
        subject="doc-1",
        data={"document_id": "doc-1", "sha256": "ab" * 32, "title": "证明 / certificate"},
    )


def batched_events(count: int = 5) -> list[Envelope]:
    events = [
        make_event(
            KEY,
            source="tax",
            type="document.registered",
            data={"document_id": f"doc-{i}", "sha256": "cd" * 32, "title": f"T{i}"},
        )
        for i in range(count)
    ]
    _, opened = open_batch(sign_batch(KEY, events).to_bytes())
    return [envelope for envelope, _forms in opened]


def ce_type_problems(event: dict[str, Any]) -> list[str]:
    """Attributes that are not of a CloudEvents type, or extension names the spec does not allow."""
    problems = []
    for name, value in event.items():
        if name in ("data", "data_base64"):
            continue
        if name not in CONTEXT_ATTRIBUTES and EXTENSION_NAME.fullmatch(name) is None:
            problems.append(f"{name}: not a CloudEvents attribute name")
        if isinstance(value, bool) or isinstance(value, str):
            continue
        if isinstance(value, int) and value in INT32:
            continue
        problems.append(f"{name}: {type(value).__name__} is no CloudEvents type")
    return problems


def all_events() -> list[Envelope]:
    return [single_event(), *batched_events()]


@pytest.mark.parametrize("envelope", all_events(), ids=lambda e: "batched" if e.batchproof else "signed")
def test_the_cloudevents_form_validates_against_the_official_schema(envelope: Envelope) -> None:
    event = to_cloudevent(envelope)
    assert sorted(VALIDATOR.iter_errors(event), key=str) == []
    assert ce_type_problems(event) == []
    assert set(event) - CONTEXT_ATTRIBUTES - {"data"} <= set(CLOUDEVENT_EXTENSIONS)
    assert event["specversion"] == "1.0" and event["datacontenttype"] == "application/json"
    json.dumps(event, allow_nan=False)


def test_the_schema_and_the_type_check_do_catch_what_they_claim() -> None:
    """Controls: the vendored schema and the type check refuse known-bad events."""
    event = to_cloudevent(single_event())
    assert any(VALIDATOR.iter_errors({**event, "time": "yesterday"}))
    assert any(VALIDATOR.iter_errors({**event, "source": "not a uri reference"}))
    assert any(VALIDATOR.iter_errors({k: v for k, v in event.items() if k != "id"}))
    # The native record of a batched event (what a block stores) carries the proof as a map.
    native = batched_events()[0].to_dict()
    assert ce_type_problems(native) == ["batchproof: dict is no CloudEvents type"]
    assert ce_type_problems({**event, "schemaversion": 2**31}) == ["schemaversion: int is no CloudEvents type"]
    assert ce_type_problems({**event, "BatchProof": "x"}) == ["BatchProof: not a CloudEvents attribute name"]


def test_batchproof_is_one_base64_string_of_the_proofs_canonical_bytes() -> None:
    envelope = batched_events(3)[1]
    assert envelope.batchproof is not None
    value = to_cloudevent(envelope)["batchproof"]
    assert value == batchproof_attribute(envelope.batchproof)
    raw = base64.b64decode(value, validate=True)
    assert raw == envelope.batchproof.to_bytes()
    assert json.loads(raw) == envelope.batchproof.model_dump()


@pytest.mark.parametrize("envelope", all_events(), ids=lambda e: "batched" if e.batchproof else "signed")
def test_the_cloudevents_form_round_trips_and_verifies(envelope: Envelope) -> None:
    back = from_cloudevent(json.loads(json.dumps(to_cloudevent(envelope))))
    assert back == envelope
    assert back.to_bytes() == envelope.to_bytes()
    assert back.has_valid_signature(KEY.public)


def _bad_batchproofs() -> dict[str, Any]:
    proof = batched_events(2)[0].batchproof
    assert proof is not None
    good = batchproof_attribute(proof)
    raw = proof.to_bytes()
    return {
        "a map, as the native record has it": proof.model_dump(),
        "base64url alphabet": base64.urlsafe_b64encode(raw + b" ").decode(),  # '-'/'_' where b64 has '+'/'/'
        "no padding": good.rstrip("="),
        "not base64": "!!!" + good,
        "non-canonical JSON inside": base64.b64encode(json.dumps(proof.model_dump(), indent=1).encode()).decode(),
        "not JSON inside": base64.b64encode(b"batchproof").decode(),
        "wrong fields inside": base64.b64encode(b'{"index":0}').decode(),
        "a number": 7,
    }


@pytest.mark.parametrize(("value"), _bad_batchproofs().values(), ids=_bad_batchproofs().keys())
def test_any_other_batchproof_encoding_is_refused(value: Any) -> None:
    event = to_cloudevent(batched_events(2)[0])
    with pytest.raises(EventRejected) as refused:
        from_cloudevent({**event, "batchproof": value})
    assert refused.value.reason == RejectionReason.MALFORMED_ENVELOPE


def test_from_cloudevent_refuses_what_the_signature_would_not_cover() -> None:
    event = to_cloudevent(single_event())
    for bad, reason in [
        ({**event, "traceparent": "00-abc"}, RejectionReason.MALFORMED_ENVELOPE),
        ({k: v for k, v in event.items() if k != "signature"}, RejectionReason.MALFORMED_ENVELOPE),
        ({**event, "data_base64": "e30="}, RejectionReason.MALFORMED_ENVELOPE),
        ({**event, "schemaversion": "1.0"}, RejectionReason.MALFORMED_ENVELOPE),
        ({**event, "time": "yesterday"}, RejectionReason.INVALID_TIME),
    ]:
        with pytest.raises(EventRejected) as refused:
            from_cloudevent(bad)
        assert refused.value.reason == reason
    with pytest.raises(EventRejected):
        from_cloudevent(["not", "an", "event"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the official SDK


def sdk_event(envelope: Envelope) -> CloudEvent:
    return JSONFormat().read(None, json.dumps(to_cloudevent(envelope)).encode())


@pytest.mark.parametrize("envelope", all_events(), ids=lambda e: "batched" if e.batchproof else "signed")
def test_sdk_binary_mode_carries_every_attribute_as_a_plain_header(envelope: Envelope) -> None:
    message = ce_http.to_binary(sdk_event(envelope), JSONFormat())
    for name, value in message.headers.items():
        assert value.isascii() and value.isprintable(), (name, value)
        assert not value.startswith(("{", "[", "%7B")), f"{name} carries a map: {value}"
    if envelope.batchproof is not None:
        assert message.headers["ce-batchproof"] == batchproof_attribute(envelope.batchproof)
    assert message.headers["ce-schemaversion"] == "1"
    assert message.headers["content-type"] == "application/json"

    received = ce_http.from_binary(message, JSONFormat())
    back = from_cloudevent({**received.get_attributes(), "data": received.get_data()})
    assert back == envelope
    assert back.has_valid_signature(KEY.public)


@pytest.mark.parametrize("envelope", all_events(), ids=lambda e: "batched" if e.batchproof else "signed")
def test_sdk_structured_mode_validates_and_round_trips(envelope: Envelope) -> None:
    message = ce_http.to_structured(sdk_event(envelope), JSONFormat())
    assert message.headers["content-type"].startswith("application/cloudevents+json")
    body = json.loads(message.body)
    assert sorted(VALIDATOR.iter_errors(body), key=str) == []
    assert ce_type_problems(body) == []
    back = from_cloudevent(body)
    assert back == envelope and back.has_valid_signature(KEY.public)


def test_sdk_binary_mode_of_a_map_valued_attribute_is_the_fault_this_avoids() -> None:
    """What happened before: the proof as a map became the Python repr of a dict in a header."""
    native = batched_events(2)[0].to_dict()
    native_event = JSONFormat().read(None, json.dumps(native).encode())
    header = ce_http.to_binary(native_event, JSONFormat()).headers["ce-batchproof"]
    assert header.startswith("{'index':")  # a Python dict repr: no CloudEvents value at all


# --------------------------------------------------------------------------- bytes from outside


@pytest.mark.parametrize("envelope", all_events(), ids=lambda e: "batched" if e.batchproof else "signed")
def test_structured_bytes_parse_back_to_the_event(envelope: Envelope) -> None:
    raw = json.dumps(to_cloudevent(envelope), ensure_ascii=False).encode()
    assert parse_cloudevent(raw) == envelope


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{" * 100 + b"}" * 100, RejectionReason.MALFORMED_ENVELOPE),
        (b"[]", RejectionReason.MALFORMED_ENVELOPE),
        (b"\xff", RejectionReason.MALFORMED_ENVELOPE),
        (b'{"id": "a", "id": "b"}', RejectionReason.MALFORMED_ENVELOPE),
        (b" " * (MAX_CLOUDEVENT_BYTES + 1), RejectionReason.OVERSIZED),
    ],
    ids=["too deep", "not an object", "not UTF-8", "duplicate key", "too large"],
)
def test_hostile_bytes_get_a_typed_refusal(raw: bytes, reason: RejectionReason) -> None:
    with pytest.raises(EventRejected) as refused:
        parse_cloudevent(raw)
    assert refused.value.reason == reason


def test_huge_integers_are_refused_not_raised() -> None:
    event = to_cloudevent(single_event())
    for bad in ({**event, "schemaversion": "9" * 5000}, {**event, "data": {"n": 2**60}}):
        with pytest.raises(EventRejected):
            parse_cloudevent(json.dumps(bad).encode())
