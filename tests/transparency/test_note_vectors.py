"""Our signed-note, vkey and cosignature code against other implementations' published bytes
(vectors/c2sp_vectors.json names each source)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import pytest

from govchain.transparency.checkpoint import LogCheckpoint
from govchain.transparency.cosignature import CosignatureVerifier, cosignature_timestamp, cosigned_message
from govchain.transparency.errors import AmbiguousKey, InvalidSignature, MalformedKey, MalformedNote, UnverifiedNote
from govchain.transparency.note import NoteSignature, format_note, parse_note
from govchain.transparency.verification import open_note, verifier_map
from govchain.transparency.vkeys import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    Ed25519Signer,
    Ed25519Verifier,
    format_signer_key,
    parse_signer_key,
    parse_vkey,
    signing_key_from_seed,
)

from .conftest import VECTORS

GO = VECTORS["go_sumdb_note"]


def peter() -> Ed25519Verifier:
    return Ed25519Verifier.from_vkey(GO["peter_vkey"])


def enoch() -> Ed25519Verifier:
    return Ed25519Verifier.from_vkey(GO["enoch_vkey"])


def test_go_vkey_parses_and_its_key_id_is_recomputed() -> None:
    verifier = peter()
    assert verifier.name == "PeterNeumann"
    assert f"{verifier.key_id:08x}" == GO["peter_key_id"]
    assert verifier.vkey == GO["peter_vkey"]


def test_signing_with_the_go_signer_key_gives_go_s_exact_note() -> None:
    name, alg, key = parse_signer_key(GO["peter_skey"])
    assert (name, alg) == ("PeterNeumann", ALG_ED25519)
    signer = Ed25519Signer(name, key)
    note = format_note(GO["text"], [NoteSignature(signer.name, signer.key_id, signer.sign(GO["text"].encode()))])
    assert note == GO["signed_by_peter"].encode("utf-8")
    assert format_signer_key(name, ALG_ED25519, key) == GO["peter_skey"]


def test_enoch_root_is_the_all_zero_seed_of_go_s_example() -> None:
    signer = Ed25519Signer("EnochRoot", signing_key_from_seed(bytes.fromhex(GO["enoch_seed_hex"])))
    assert signer.verifier.vkey == GO["enoch_vkey"]
    line = NoteSignature(signer.name, signer.key_id, signer.sign(GO["text"].encode())).line()
    assert line == GO["enoch_sig_line"]


def test_open_with_one_known_key_keeps_the_other_unverified() -> None:
    opened = open_note(GO["signed_by_peter_and_enoch"].encode(), [peter()])
    assert opened.text == GO["text"]
    assert [s.name for s in opened.verified] == ["PeterNeumann"]
    assert [s.name for s in opened.unverified] == ["EnochRoot"]


def test_open_with_both_keys_verifies_both_in_order() -> None:
    opened = open_note(GO["signed_by_peter_and_enoch"].encode(), [peter(), enoch()])
    assert [s.name for s in opened.verified] == ["PeterNeumann", "EnochRoot"]
    assert opened.unverified == ()


def test_open_without_known_keys_is_unverified() -> None:
    with pytest.raises(UnverifiedNote):
        open_note(GO["signed_by_peter_and_enoch"].encode(), [])


def test_a_known_key_whose_signature_fails_refuses_the_note() -> None:
    with pytest.raises(InvalidSignature, match="PeterNeumann\\+c74f20a3"):
        open_note(GO["invalid_signature_note"].encode(), [peter()])


def test_duplicate_signatures_count_once_and_bad_unknown_ones_stay_unverified() -> None:
    peter_sig, enoch_sig = GO["peter_sig_line"], GO["enoch_sig_line"]
    mangled_enoch = enoch_sig[:60] + "ABCD" + enoch_sig[60:]
    note = GO["text"] + "\n" + peter_sig + peter_sig + enoch_sig + enoch_sig + mangled_enoch
    opened = open_note(note.encode(), [peter()])
    assert len(opened.verified) == 1
    assert len(opened.unverified) == 2  # the identical Enoch lines once, the mangled one apart


@pytest.mark.parametrize("index", range(len(GO["malformed_notes"])))
def test_go_s_malformed_notes_are_malformed(index: int) -> None:
    with pytest.raises(MalformedNote):
        open_note(GO["malformed_notes"][index].encode("utf-8"), [peter()])


def test_invalid_utf8_is_malformed() -> None:
    data = bytes.fromhex(GO["malformed_note_invalid_utf8_prefix_hex"]) + GO["signed_by_peter"].encode()
    with pytest.raises(MalformedNote):
        open_note(data, [peter()])


def test_more_than_100_signatures_is_malformed() -> None:
    many = GO["text"] + "\n" + GO["too_many_signatures"]["line"] * GO["too_many_signatures"]["count"]
    with pytest.raises(MalformedNote):
        open_note(many.encode(), [peter()])
    with pytest.raises(MalformedNote):
        open_note(many.encode(), [])
    hundred = GO["text"] + "\n" + GO["peter_sig_line"] * 100
    assert len(open_note(hundred.encode(), [peter()]).verified) == 1


def test_go_s_bad_vkeys_and_every_mangling_are_refused() -> None:
    for bad in GO["bad_vkeys"]:
        with pytest.raises(MalformedKey):
            parse_vkey(bad)
    vkey = GO["peter_vkey"]
    for i in range(len(vkey) + 1):
        for j in range(i + 1, len(vkey) + 1):
            if (i, j) != (0, len(vkey)):
                with pytest.raises(MalformedKey):
                    Ed25519Verifier.from_vkey(vkey[i:j])
    for i in range(len(vkey)):
        mangled = vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :]
        with pytest.raises(MalformedKey):
            Ed25519Verifier.from_vkey(mangled)


def test_go_s_signer_key_manglings_are_refused() -> None:
    skey = GO["peter_skey"]
    for i in range(len(skey) + 1):
        for j in range(i + 1, len(skey) + 1):
            if (i, j) != (0, len(skey)):
                with pytest.raises(MalformedKey):
                    parse_signer_key(skey[i:j])
    for i in range(len(skey)):
        mangled = skey[:i] + chr(ord(skey[i]) + 1) + skey[i + 1 :]
        with pytest.raises(MalformedKey):
            parse_signer_key(mangled)


def test_go_sumdb_tree_note_is_a_checkpoint_body_byte_for_byte() -> None:
    tlog = VECTORS["go_sumdb_tlog"]
    root = hashlib.sha256(b"\x00" + tlog["root_is_record_hash_of"].encode()).digest()
    checkpoint = LogCheckpoint(tlog["origin"], tlog["size"], root)
    assert checkpoint.body() == tlog["body"]
    assert LogCheckpoint.parse(tlog["body"]) == checkpoint


def test_c2sp_signed_note_example_verifies() -> None:
    example = VECTORS["c2sp_signed_note"]
    opened = open_note(example["note"].encode(), [Ed25519Verifier.from_vkey(example["vkey"])])
    assert opened.text == "This is an example message.\n"


def test_c2sp_cosignature_example_timestamp_and_signed_message() -> None:
    example = VECTORS["c2sp_tlog_cosignature"]
    note = parse_note((example["checkpoint_body"] + "\n" + example["cosignature_line"]).encode())
    (sig,) = note.signatures
    assert sig.name == "witness.example.com/w1"
    assert cosignature_timestamp(sig.signature) == example["timestamp"]
    message = cosigned_message(example["checkpoint_body"].encode(), example["timestamp"])
    assert message == example["signed_message"].encode()
    assert sig.line() == example["cosignature_line"]


def test_transparency_dev_cosignature_vkeys_and_timestamps() -> None:
    tdev = VECTORS["transparency_dev_formats"]
    verifier = CosignatureVerifier.from_vkey(tdev["cosignature_vkey"])
    assert verifier.vkey == tdev["cosignature_vkey"]
    assert parse_vkey(tdev["cosignature_vkey"]).alg == ALG_COSIGNATURE_V1
    assert str(parse_vkey(tdev["ed25519_vkey"])) == tdev["ed25519_vkey"]  # base64 holding "+" parses
    with pytest.raises(MalformedKey):
        CosignatureVerifier.from_vkey(tdev["ed25519_vkey"])  # a type 0x01 key is no cosigner
    for bad in tdev["bad_vkeys"]:
        with pytest.raises(MalformedKey):
            parse_vkey(bad)
    stamped = base64.b64decode(tdev["timestamped_signature"])[4:]
    assert cosignature_timestamp(stamped) == tdev["timestamp"]
    assert cosignature_timestamp(base64.b64decode(tdev["plain_ed25519_signature"])[4:]) is None


def test_two_keys_with_one_name_and_id_are_ambiguous() -> None:
    """Go's VerifierList refuses them; so do we, once configured (the same key twice is fine)."""

    @dataclass(frozen=True)
    class Collider:
        name: str
        key_id: int

        def verify(self, text: bytes, signature: bytes) -> bool:
            return False

    twin = Collider("PeterNeumann", peter().key_id)
    assert len(verifier_map([peter(), peter()])) == 1
    with pytest.raises(AmbiguousKey, match="PeterNeumann\\+c74f20a3"):
        verifier_map([peter(), twin])
