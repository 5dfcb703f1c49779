"""The witness policy on chain (``witness.policy_set``): its form, that only the root authority
sets it, how every verifier's chain state carries it, and the leaf size every event is held to
so that any leaf fits a c2sp.org/tlog-tiles entry bundle."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from govchain.client import log_vkeys, verify_witnessed, witness_requirement
from govchain.protocol import events as ev
from govchain.protocol.batch import open_batch, sign_batch
from govchain.protocol.envelope import (
    MAX_EVENT_BYTES,
    MAX_LEAF_BYTES,
    make_event,
    parse_cloudevent,
    parse_event,
    to_cloudevent,
)
from govchain.protocol.errors import EventRejected, RejectionReason
from govchain.protocol.genesis import make_genesis_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.state import ChainState, apply_event
from govchain.protocol.validation import validate_event
from govchain.services.cli.witness import parse_witness_spec
from govchain.transparency.checkpoint import LogCheckpoint, add_signatures, sign_checkpoint
from govchain.transparency.cosignature import CosignatureSigner
from govchain.transparency.errors import QuorumNotMet, UnverifiedNote
from govchain.transparency.tiles import entry_bundle, parse_entry_bundle
from govchain.transparency.vkeys import Ed25519Signer, format_vkey

from .conftest import Clock

ROOT, ORDERER, TAX = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()


def signer(name: str) -> CosignatureSigner:
    return CosignatureSigner(name, SigningKey.generate(), Clock())


COURT, AUDIT = signer("court.example/w"), signer("audit.example/w")


def entry(w: CosignatureSigner, url: str | None = "http://w.example:8790") -> dict[str, str]:
    found = {"name": w.name, "vkey": w.verifier.vkey}
    if url:
        found["url"] = url
    return found


def chain() -> ChainState:
    genesis = make_genesis_event("policy-chain", [ROOT], [ORDERER])
    state = ChainState.from_genesis(ev.ChainGenesis.model_validate(genesis.data))
    department = make_event(
        ROOT,
        source="root",
        type="department.registered",
        data={"department_id": "tax", "name": "Tax", "public_key": TAX.public.hex},
    )
    apply_event(state, department, validate_event(state, department))
    return state


def policy_event(key: SigningKey = ROOT, source: str = "root", **data: object) -> object:
    body = {"witnesses": [entry(COURT), entry(AUDIT)], "quorum": 2, **data}
    return make_event(key, source=source, type=ev.WITNESS_POLICY_TYPE, data=body)


def test_the_root_sets_the_policy_and_every_state_carries_it() -> None:
    state = chain()
    assert state.witness_policy is None and state.log_origin == "govchain.example/policy-chain"
    assert witness_requirement(state) == ([], 0)
    state.height = 7
    event = policy_event()
    apply_event(state, event, validate_event(state, event))
    assert witness_requirement(state) == ([COURT.verifier.vkey, AUDIT.verifier.vkey], 2)
    assert state.witness_policy_height == 7
    again = ChainState.from_json(state.to_json())  # snapshots (orderer, projections) keep it
    assert again.witness_policy == state.witness_policy and again.witness_policy_height == 7
    assert "witness_policy" not in chain().to_json()  # absent until set: older snapshots read alike
    assert ev.EVENT_TYPES.changes_state(ev.WITNESS_POLICY_TYPE, 1)

    renamed = policy_event(origin="gov.example.cn/govchain/main")
    apply_event(state, renamed, validate_event(state, renamed))
    assert state.log_origin == "gov.example.cn/govchain/main"
    assert log_vkeys(state) == [Ed25519Signer("gov.example.cn/govchain/main", ORDERER).verifier.vkey]


def test_no_one_but_the_root_names_witnesses() -> None:
    state = chain()
    with pytest.raises(EventRejected) as refused:
        validate_event(state, policy_event(TAX, "tax"))
    assert refused.value.reason is RejectionReason.UNAUTHORIZED


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"quorum": 3}, "cannot be met"),
        ({"witnesses": [entry(COURT), entry(COURT)]}, "named once"),
        ({"witnesses": [{"name": "other.example/w", "vkey": COURT.verifier.vkey}], "quorum": 1}, "not 'other"),
        (
            {
                "witnesses": [{"name": COURT.name, "vkey": Ed25519Signer(COURT.name, ORDERER).verifier.vkey}],
                "quorum": 1,
            },
            "type 0x04",
        ),
        (
            {
                "witnesses": [
                    {
                        "name": COURT.name,
                        "vkey": "+".join([COURT.name, "00000000", COURT.verifier.vkey.split("+", 2)[2]]),
                    }
                ],
                "quorum": 1,
            },
            "key id",
        ),
        ({"witnesses": [entry(COURT, "ftp://w.example")], "quorum": 1}, "url"),
        ({"origin": "has space"}, "origin"),
        ({"origin": "a+b"}, "origin"),
        ({"quorum": -1}, "quorum"),
    ],
)
def test_a_malformed_policy_is_an_invalid_payload(data: dict[str, object], problem: str) -> None:
    body = {"witnesses": [entry(COURT), entry(AUDIT)], "quorum": 2, **data}
    with pytest.raises(ValidationError, match=problem):
        ev.WitnessPolicySet.model_validate(body)
    event = make_event(ROOT, source="root", type=ev.WITNESS_POLICY_TYPE, data=body)
    with pytest.raises(EventRejected) as refused:
        validate_event(chain(), event)
    assert refused.value.reason is RejectionReason.INVALID_PAYLOAD


def test_the_same_key_under_two_names_is_refused() -> None:
    key = SigningKey.generate()
    first, second = CosignatureSigner("a.example/w", key), CosignatureSigner("b.example/w", key)
    with pytest.raises(ValidationError, match="own key"):
        ev.WitnessPolicySet.model_validate({"witnesses": [entry(first), entry(second)], "quorum": 1})


def test_the_cli_reads_witness_specs() -> None:
    vkey = COURT.verifier.vkey
    assert parse_witness_spec(f"{COURT.name}={vkey}@http://court:8790/") == {
        "name": COURT.name,
        "vkey": vkey,
        "url": "http://court:8790",
    }
    assert parse_witness_spec(f"{vkey}@https://court.example") == {
        "name": COURT.name,
        "vkey": vkey,
        "url": "https://court.example",
    }
    assert parse_witness_spec(vkey) == {"name": COURT.name, "vkey": vkey}
    with pytest.raises(ValueError):
        parse_witness_spec("court=not-a-vkey")
    assert format_vkey(COURT.name, 0x04, COURT.verifier.public_key) == vkey


def test_a_checkpoint_is_judged_by_the_chains_own_policy() -> None:
    state = chain()
    event = policy_event()
    apply_event(state, event, validate_event(state, event))
    body = LogCheckpoint(state.log_origin, 12, bytes(range(32)))
    note = sign_checkpoint(body, [Ed25519Signer(state.log_origin, ORDERER)])
    with pytest.raises(QuorumNotMet):
        verify_witnessed(note, state)
    one = add_signatures(note, [COURT.cosign(body.body(), 1_760_000_000)])
    with pytest.raises(QuorumNotMet):
        verify_witnessed(one, state)
    both = add_signatures(one, [AUDIT.cosign(body.body(), 1_760_000_001)])
    assert [w.name for w in verify_witnessed(both, state).witnesses] == [COURT.name, AUDIT.name]
    # Signed by the orderer key under another origin: not this chain's checkpoint.
    elsewhere = sign_checkpoint(
        LogCheckpoint("elsewhere.example/log", 12, bytes(32)), [Ed25519Signer("elsewhere.example/log", ORDERER)]
    )
    with pytest.raises(UnverifiedNote):
        verify_witnessed(elsewhere, state)


# -- every leaf fits an entry bundle


def _sized(total: int, key: SigningKey = TAX) -> bytes:
    """A signed event whose canonical bytes are exactly ``total`` long."""
    base = make_event(key, source="tax", type="document.registered", data={"pad": ""}, event_id="sized").to_bytes()
    event = make_event(
        key, source="tax", type="document.registered", data={"pad": "x" * (total - len(base))}, event_id="sized"
    )
    assert len(event.to_bytes()) == total
    return event.to_bytes()


def test_a_leaf_of_65535_bytes_is_accepted_and_fits_a_bundle() -> None:
    assert MAX_LEAF_BYTES == 65_535 < MAX_EVENT_BYTES
    raw = _sized(MAX_LEAF_BYTES)
    _, forms = parse_event(raw)
    assert forms.signed == raw
    assert parse_entry_bundle(entry_bundle([forms.signed, b"x"])) == [raw, b"x"]


def test_a_larger_leaf_is_refused_as_oversized_wherever_it_comes_from() -> None:
    raw = _sized(MAX_LEAF_BYTES + 1)
    with pytest.raises(EventRejected) as refused:
        parse_event(raw)
    assert refused.value.reason is RejectionReason.OVERSIZED and "65535" in refused.value.detail
    # Spaces make the wire bytes bigger, not the leaf: the canonical form is what counts.
    fits = _sized(MAX_LEAF_BYTES)
    spaced = fits.replace(b'","', b'" , "')
    assert len(spaced) > MAX_LEAF_BYTES and parse_event(spaced)[1].signed == fits
    # The same event as a CloudEvent, and inside a batch (its batch proof counts too):
    event = parse_event(_sized(MAX_LEAF_BYTES))[0]
    big = event.model_copy(update={"data": {"pad": event.data["pad"] + "x"}}).signed_by(TAX)
    with pytest.raises(EventRejected) as refused:
        parse_cloudevent(json.dumps(to_cloudevent(big)).encode())
    assert refused.value.reason is RejectionReason.OVERSIZED
    fits_alone = event.model_copy(update={"data": {"pad": event.data["pad"][:-40]}})
    assert len(fits_alone.signed_by(TAX).to_bytes()) <= MAX_LEAF_BYTES  # alone, signed: it fits
    with pytest.raises(ValueError, match="65535"):
        sign_batch(TAX, [fits_alone, make_event(TAX, source="tax", type="document.registered", data={"pad": ""})])
    small = sign_batch(TAX, [make_event(TAX, source="tax", type="document.registered", data={"pad": "x"})])
    assert all(len(forms.signed) <= MAX_LEAF_BYTES for _, forms in open_batch(small.to_bytes())[1])
