"""Property-based tests: canonical bytes, envelope parsing and chain verification under mutation."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from govchain.protocol.block import Block
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.envelope import Envelope, make_event, parse_envelope
from govchain.protocol.errors import BlockVerificationError, EventRejected
from govchain.protocol.keys import SigningKey
from govchain.protocol.state import ChainState, Principal
from govchain.protocol.validation import validate_event
from govchain.protocol.verify import ChainVerifier

if TYPE_CHECKING:
    from .conftest import ChainBuilder

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SAFE_INT = st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
JSON_SCALARS = st.none() | st.booleans() | SAFE_INT | st.text(max_size=20)
FINITE = st.floats(allow_nan=False, allow_infinity=False)


def json_values(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
        max_leaves=25,
    )


def reversed_insertion_order(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: reversed_insertion_order(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_insertion_order(v) for v in value]
    return value


# -- canonical bytes


@FAST
@given(json_values(JSON_SCALARS))
def test_canonical_bytes_deterministic_and_faithful(value: Any) -> None:
    raw = canonical_bytes(value)
    assert canonical_bytes(copy.deepcopy(value)) == raw
    assert canonical_bytes(reversed_insertion_order(value)) == raw
    assert json.loads(raw) == value
    assert canonical_bytes(json.loads(raw)) == raw  # canonical form is a fixed point
    raw.decode("utf-8")


@FAST
@given(json_values(JSON_SCALARS | FINITE))
def test_canonical_floats_roundtrip_to_the_same_number(value: Any) -> None:
    raw = canonical_bytes(value)
    assert canonical_bytes(reversed_insertion_order(value)) == raw
    # JCS numbers are IEEE doubles in the shortest round-trip form: read as doubles, the same
    # numbers come back (read as Python ints, 1e20's "100000000000000000000" would not).
    as_doubles = json.loads(raw, parse_int=float)
    assert as_doubles == value


@FAST
@given(
    st.floats(
        allow_nan=False,
        allow_infinity=False,
        min_value=-(2.0**53),
        max_value=2.0**53,
        exclude_min=True,
        exclude_max=True,
    )
)
def test_canonical_float_is_a_fixed_point(number: float) -> None:
    raw = canonical_bytes(number)
    assert canonical_bytes(json.loads(raw)) == raw
    assert b" " not in raw and not raw.endswith(b".0")


# -- envelope parsing

KEY = SigningKey.generate()
EVENT = make_event(
    KEY,
    source="tax",
    type="document.registered",
    data={"document_id": "d-1", "sha256": "ab" * 32, "title": "证明 1", "kind": "certificate"},
    subject="case-7",
    event_id="evt-1",
    time="2025-03-04T05:06:07.123456Z",
)
WIRE = EVENT.to_bytes()


def _parse_or_reject(raw: bytes) -> Envelope | None:
    try:
        envelope = parse_envelope(raw)
    except EventRejected:
        return None
    assert envelope.signature is not None
    envelope.to_bytes()  # whatever parses can be hashed and signed
    return envelope


@FAST
@given(st.binary(max_size=2048))
def test_parse_envelope_random_bytes_only_rejects(raw: bytes) -> None:
    _parse_or_reject(raw)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=12), json_values(JSON_SCALARS | st.floats()), max_size=8))
def test_parse_envelope_random_objects_only_rejects(value: dict[str, Any]) -> None:
    _parse_or_reject(json.dumps(value).encode())


ENVELOPE_FIELDS = sorted(EVENT.to_dict())


@FAST
@given(
    st.dictionaries(
        st.sampled_from(ENVELOPE_FIELDS),
        st.none() | json_values(JSON_SCALARS | st.floats()),
        min_size=1,
        max_size=4,
    )
)
def test_parse_envelope_shaped_objects_only_rejects(changes: dict[str, Any]) -> None:
    value = EVENT.to_dict()
    for name, new in changes.items():
        if new is None:
            value.pop(name, None)
        else:
            value[name] = new
    envelope = _parse_or_reject(json.dumps(value, allow_nan=True).encode())
    if envelope is not None and envelope != EVENT:
        assert not envelope.has_valid_signature(KEY.public)


@pytest.fixture(scope="module")
def tax_state(chain_factory: type[ChainBuilder]) -> ChainState:
    """A chain state in which KEY is the registered key of department tax."""
    builder = chain_factory()
    state = builder.genesis_state()
    state.add_principal(Principal("tax", "department", "Tax", "tax"))
    state.add_key(KEY.public, "tax")
    validate_event(state, EVENT)  # the unmutated event is valid
    return state


@FAST
@given(index=st.integers(min_value=0, max_value=len(WIRE) - 1), byte=st.integers(0, 255))
def test_flipped_byte_is_rejected_or_harmless(tax_state: ChainState, index: int, byte: int) -> None:
    assume(WIRE[index] != byte)
    mutated = WIRE[:index] + bytes([byte]) + WIRE[index + 1 :]
    envelope = _parse_or_reject(mutated)
    if envelope is None:
        event("rejected by parse_envelope")
        return
    if envelope == EVENT:  # a no-op on the parsed value (e.g. an equivalent escape)
        event("no-op")
        return
    event("parsed; signature fails")
    assert not envelope.has_valid_signature(KEY.public)
    with pytest.raises(EventRejected):
        validate_event(tax_state, envelope)


# -- chain verification under mutation


@pytest.fixture(scope="module")
def chain_dicts(chain_factory: type[ChainBuilder]) -> list[dict[str, Any]]:
    builder = chain_factory()
    builder.seal([builder.register("tax"), builder.register("land")])
    builder.seal([builder.document("tax", kind="permit"), builder.document("land")])
    builder.seal([builder.document("land", title="第三")])
    blocks = [block.model_dump() for block in builder.blocks]
    verifier = ChainVerifier(check_events=True)
    for block in blocks:
        verifier.verify(Block.model_validate(block))
    return blocks


def leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in leaf_paths(v, (*prefix, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in leaf_paths(v, (*prefix, i))]
    return [prefix] if isinstance(value, (str, int)) else []


def other_value(original: Any) -> st.SearchStrategy[Any]:
    if isinstance(original, bool):
        return st.just(not original)
    if isinstance(original, int):
        return st.integers(-1000, 999).map(lambda d: original + (d if d < 0 else d + 1))
    # a different string: random text, or the same string with one character changed
    # (which keeps hex hashes and signatures well-formed, so the check behind the parser runs)
    alphabet = "0123456789abcdef" if all(c in "0123456789abcdef" for c in original) else None
    one_char = st.builds(
        lambda i, c: original[:i] + c + original[i + 1 :],
        st.integers(0, max(len(original) - 1, 0)),
        st.sampled_from(alphabet) if alphabet else st.characters(codec="utf-8"),
    )
    return (one_char | st.text(max_size=70)).filter(lambda s: s != original)


def set_path(value: Any, path: tuple[Any, ...], new: Any) -> None:
    for part in path[:-1]:
        value = value[part]
    value[path[-1]] = new


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_single_field_mutation_is_caught(chain_dicts: list[dict[str, Any]], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(chain_dicts) - 1), label="block")
    mutated = copy.deepcopy(chain_dicts[index])
    path = data.draw(st.sampled_from(leaf_paths(mutated)), label="path")
    original = mutated
    for part in path:
        original = original[part]
    set_path(mutated, path, data.draw(other_value(original), label="new value"))
    check_events = data.draw(st.booleans(), label="check_events")

    try:
        block = Block.from_bytes(json.dumps(mutated).encode(), height_hint=index)
    except BlockVerificationError:
        event("refused by the block parser")
        return
    event("refused by the verifier")
    verifier = ChainVerifier(check_events=check_events)
    blocks = [Block.model_validate(b) for b in chain_dicts[:index]] + [block]
    with pytest.raises(BlockVerificationError):
        for b in blocks:
            verifier.verify(b)
    assert verifier.height == index - 1
