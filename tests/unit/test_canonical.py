"""RFC 8785 (JCS) canonical bytes, checked against the RFC's own examples."""

from __future__ import annotations

import hashlib
import json
import math
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.protocol.canonical import (
    canonical_bytes,
    canonical_hash,
    reference_canonical_bytes,
    sha256,
    sha256_hex,
)
from govchain.protocol.errors import CanonicalizationError
from tests.unit.strategies import ANY_KEY, PROPS, SAFE_INT, UTF8_TEXT, json_values


def test_rfc8785_section_3_2_2_sample() -> None:
    # RFC 8785 §3.2.2: input (as parsed JSON) and its canonical form.
    source = (
        '{\n  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n'
        '  "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n'
        '  "literals": [null, true, false]\n}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    ).encode()
    assert canonical_bytes(json.loads(source)) == expected


def test_rfc8785_section_3_2_3_sorts_keys_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: the emoji (surrogates D83D DE00) sorts before U+FB33 although its
    # code point is higher; U+0080 is not escaped, \r is.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    ).encode("utf-8")
    assert canonical_bytes(value) == expected


# RFC 8785 Appendix B: IEEE 754 bit patterns and their JCS serialization.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B)
def test_rfc8785_appendix_b_numbers(bits: str, expected: str) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canonical_bytes(number) == expected.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1e30, b"1e+30"),
        (4.50, b"4.5"),
        (1.0, b"1"),
        (-0.0, b"0"),
        (1e-7, b"1e-7"),
        (1e21, b"1e+21"),
        (1e20, b"100000000000000000000"),
        (2**53 - 1, b"9007199254740991"),
        (-(2**53 - 1), b"-9007199254740991"),
        ("é€😀", '"é€😀"'.encode()),  # non-ASCII is raw UTF-8, never \u-escaped
        ("\u001f\t", b'"\\u001f\\t"'),  # controls are escaped, short forms where JSON has them
        ({"b": [], "a": {}, "c": None}, b'{"a":{},"b":[],"c":null}'),
        ({"b": {"z": 1, "y": 2}, "a": 1}, b'{"a":1,"b":{"y":2,"z":1}}'),
        ([3, 1, 2], b"[3,1,2]"),  # arrays keep their order
    ],
)
def test_serialization(value: object, expected: bytes) -> None:
    assert canonical_bytes(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        2**53,
        2**53 + 1,
        -(2**53 + 1),
        10**30,
        {"nested": [1, {"deep": float("nan")}]},
        {1: "non-string key"},
        {"a set": {1, 2}},
        "\ud800",  # a lone surrogate has no UTF-8 form
    ],
)
def test_values_without_canonical_form_raise(value: object) -> None:
    with pytest.raises(CanonicalizationError):
        canonical_bytes(value)


def test_canonical_hash_is_sha256_of_the_canonical_bytes_not_the_input_order() -> None:
    expected = hashlib.sha256(b'{"a":1,"b":2}').hexdigest()
    assert canonical_hash({"b": 2, "a": 1}) == expected
    assert canonical_hash({"a": 1, "b": 2}) == expected
    assert canonical_hash({"a": 1, "b": 3}) != expected


def test_sha256_helpers() -> None:
    # FIPS 180-2 test vector "abc".
    digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_hex(b"abc") == digest
    assert sha256(b"abc") == bytes.fromhex(digest)


# -- the C-encoder fast path against the reference implementation

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"), max_size=12)
)
_KEYS = st.text(st.characters(codec="utf-8"), max_size=6) | st.from_regex(r"[a-z_]{0,8}", fullmatch=True)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(_JSON)
def test_canonical_bytes_equal_the_reference_implementation(value: object) -> None:
    # Floats, astral and non-ASCII keys take the reference path, the rest the C encoder:
    # both must give the same bytes for any value.
    assert canonical_bytes(value) == reference_canonical_bytes(value)


class _Text(str):
    pass


class _Number(int):
    pass


@pytest.mark.parametrize("value", [{"k": _Text("v")}, {"k": _Number(7)}, {"k": True}, [_Number(1), ("t",)]])
def test_subclasses_and_tuples_take_the_reference_path_and_agree(value: object) -> None:
    assert canonical_bytes(value) == reference_canonical_bytes(value)


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
