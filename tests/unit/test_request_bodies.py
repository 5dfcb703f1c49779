"""How a service reads a request body (govchain.bus.requests_total), and signed-request times."""

from __future__ import annotations

import json

import pytest

from govchain.bus.requests_total import MAX_REQUEST_BYTES, RequestRefused, read_request, refusal
from govchain.protocol.requests import AccessDenied, authenticate, sign_request

from .conftest import ChainBuilder


def refused(raw: bytes) -> RequestRefused:
    with pytest.raises(RequestRefused) as info:
        read_request(raw)
    return info.value


def test_a_plain_request_reads_as_its_object_and_an_empty_body_as_no_fields() -> None:
    assert read_request(b'{"event_id": "e-1", "at_height": 3}') == {"event_id": "e-1", "at_height": 3}
    assert read_request(b"") == {} and read_request(b" \n") == {}


def test_text_beyond_the_basic_plane_arrives_as_surrogate_pairs_and_is_kept() -> None:
    raw = json.dumps({"text": "数据 😀"}).encode()  # ensure_ascii: the emoji travels as \ud83d\ude00
    assert b"\\ud83d\\ude00" in raw
    assert read_request(raw) == {"text": "数据 😀"}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"hello", "not valid JSON"),
        (b'{"a": "\xff"}', "not valid JSON"),
        (b"[1]", "must be a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "100000 levels deep"),
        (b'{"a": ' + b"[" * 65 + b"]" * 65 + b"}", "66 levels deep"),
        (b'{"a": ' + b"9" * 5000 + b"}", "5000 digits"),
        (b'{"a": 1e999}', "NaN, Infinity"),
        (b'{"a": -Infinity}', "-Infinity is not JSON"),
        (b'{"a": ["\\ud800"]}', "lone UTF-16 surrogate"),
        (b'{"\\udc00": 1}', "lone UTF-16 surrogate"),
        (b'{"a": {"b": "x\\u0000"}}', "NUL"),
        (b'{"a": 1, "a": 2}', "duplicate JSON key"),
    ],
)
def test_a_malformed_body_is_refused_with_what_is_wrong(raw: bytes, words: str) -> None:
    error = refused(raw)
    assert error.code == "malformed_request" and words in error.detail


def test_size_is_checked_before_anything_reads_the_body() -> None:
    error = refused(b"[" * (MAX_REQUEST_BYTES + 1))
    assert error.code == "too_large" and str(MAX_REQUEST_BYTES) in error.detail


def test_a_refusal_is_short() -> None:
    error = refused(b'{"' + b"k" * 10_000 + b'": 1, "' + b"k" * 10_000 + b'": 2}')
    answer = refusal(error.code, error.detail)
    assert answer["code"] == "malformed_request" and len(answer["error"]) <= 200


def test_a_signed_request_whose_time_has_no_timezone_is_unauthenticated(builder: ChainBuilder) -> None:
    state = builder.genesis_state()
    proof = sign_request(builder.root, "root", "gov.registry.departments", {})
    assert authenticate(state, "gov.registry.departments", {}, proof) == "root"
    naive = proof.model_copy(update={"time": proof.time.removesuffix("Z")})
    with pytest.raises(AccessDenied) as info:
        authenticate(state, "gov.registry.departments", {}, naive)
    assert info.value.code == "unauthenticated" and "timezone" in info.value.detail
