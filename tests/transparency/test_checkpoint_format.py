"""Checkpoints and cosignatures byte for byte, and an independent verifier's view of them."""

from __future__ import annotations

import base64

import pytest

from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import EMPTY_ROOT
from govchain.transparency.checkpoint import LogCheckpoint, add_signatures, open_checkpoint, sign_checkpoint
from govchain.transparency.cosignature import CosignatureSigner, CosignatureVerifier
from govchain.transparency.errors import InvalidSignature, MalformedCheckpoint, MalformedNote, UnverifiedNote
from govchain.transparency.note import NoteSignature, format_note, parse_note
from govchain.transparency.verification import open_note, verify_note
from govchain.transparency.vkeys import Ed25519Signer, Ed25519Verifier, signing_key_from_seed

from . import independent_note
from .conftest import Clock, Log

ROOT = bytes(range(32))


def test_body_is_origin_size_root_and_extensions_each_newline_terminated() -> None:
    checkpoint = LogCheckpoint("gov.example/log", 20852163, ROOT, ("ext one", "ext two"))
    assert checkpoint.body() == f"gov.example/log\n20852163\n{base64.b64encode(ROOT).decode()}\next one\next two\n"
    assert LogCheckpoint.parse(checkpoint.body()) == checkpoint


def test_the_signed_note_is_body_blank_line_em_dash_lines() -> None:
    key = signing_key_from_seed(bytes(range(32)))
    signer = Ed25519Signer("gov.example/log", key)
    note = sign_checkpoint(LogCheckpoint("gov.example/log", 0, EMPTY_ROOT), [signer])
    body = b"gov.example/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    signature = base64.b64encode(signer.key_id.to_bytes(4, "big") + key.sign(body)).decode()
    assert note == body + b"\n" + f"\u2014 gov.example/log {signature}\n".encode()
    assert note.count("\u2014".encode()) == 1 and "\u2014".encode() == b"\xe2\x80\x94"


@pytest.mark.parametrize(
    "text",
    [
        "origin\n12\n",  # too few lines
        "\n12\n" + base64.b64encode(ROOT).decode() + "\n",  # empty origin
        "o\n012\n" + base64.b64encode(ROOT).decode() + "\n",  # leading zero
        "o\n-1\n" + base64.b64encode(ROOT).decode() + "\n",
        "o\n+1\n" + base64.b64encode(ROOT).decode() + "\n",
        "o\n1_000\n" + base64.b64encode(ROOT).decode() + "\n",
        "o\n\u0661\n" + base64.b64encode(ROOT).decode() + "\n",  # Arabic-Indic digit one
        "o\n9223372036854775808\n" + base64.b64encode(ROOT).decode() + "\n",  # 2^63
        "o\n1\n" + base64.b64encode(ROOT[:31]).decode() + "\n",  # 31-byte root
        "o\n1\n" + base64.b64encode(ROOT).decode().rstrip("=") + "\n",  # unpadded
        "o\n1\n" + base64.b64encode(ROOT).decode(),  # no final newline
        "o\n1\n" + base64.b64encode(ROOT).decode() + "\n\n",  # empty extension line
    ],
)
def test_malformed_bodies_are_refused(text: str) -> None:
    with pytest.raises(MalformedCheckpoint):
        LogCheckpoint.parse(text)


def test_largest_size_round_trips() -> None:
    checkpoint = LogCheckpoint("o", 2**63 - 1, ROOT)
    assert LogCheckpoint.parse(checkpoint.body()) == checkpoint


def test_independent_verifier_accepts_what_we_sign(log: Log) -> None:
    log.grow_to(1000)
    note = log.signed()
    text = independent_note.verify_log_signature(note, log.vkey)
    origin, size, root, extensions = independent_note.read_checkpoint(text)
    assert (origin, size, root, extensions) == (log.origin, 1000, log.tree.root(), [])


def test_independent_verifier_checks_our_cosignatures(log: Log) -> None:
    log.grow_to(7)
    witness = CosignatureSigner("witness.example/w1", SigningKey.generate(), Clock(1_700_000_123))
    note = sign_checkpoint(log.checkpoint(), [log.signer, witness])
    assert independent_note.verify_cosignature(note, witness.verifier.vkey) == 1_700_000_123
    assert independent_note.verify_log_signature(note, log.vkey) == log.checkpoint().body().encode()


def test_a_cosignature_is_no_log_signature_and_vice_versa(log: Log) -> None:
    """The 0x04 key id and the cosignature/v1 prefix keep the two apart even for one key."""
    log.grow_to(3)
    cosigner = CosignatureSigner(log.origin, log.key)  # the same key and name, used as a witness
    assert cosigner.key_id != log.signer.key_id
    only_cosigned = sign_checkpoint(log.checkpoint(), [cosigner])
    with pytest.raises(UnverifiedNote):
        open_checkpoint(only_cosigned, [log.signer.verifier])
    forged = NoteSignature(log.origin, log.signer.key_id, parse_note(only_cosigned).signatures[0].signature[8:])
    with pytest.raises(InvalidSignature):
        open_checkpoint(format_note(log.checkpoint().body(), [forged]), [log.signer.verifier])


def test_cosignature_line_layout_is_key_id_timestamp_signature(log: Log) -> None:
    log.grow_to(5)
    cosigner = CosignatureSigner("w.example/x", SigningKey.generate())
    line = cosigner.cosign(log.checkpoint().body(), 1_679_315_147)
    raw = line.key_id.to_bytes(4, "big") + line.signature
    assert len(raw) == 4 + 8 + 64
    assert raw[4:12] == (1_679_315_147).to_bytes(8, "big")
    verifier = CosignatureVerifier.from_vkey(cosigner.verifier.vkey)
    assert verifier.verify(log.checkpoint().body().encode(), line.signature)
    with pytest.raises(ValueError):
        cosigner.cosign(log.checkpoint().body(), 0)  # a witness never omits the timestamp


def test_cosignature_covers_extension_lines() -> None:
    cosigner = CosignatureSigner("w.example/x", SigningKey.generate())
    body = LogCheckpoint("o", 1, ROOT, ("Extendo",)).body()
    line = cosigner.cosign(body, 5)
    assert cosigner.verifier.verify(body.encode(), line.signature)
    assert not cosigner.verifier.verify(body.replace("Extendo", "Extend@").encode(), line.signature)


def test_add_signatures_appends_witness_lines_once(log: Log) -> None:
    log.grow_to(2)
    note = log.signed()
    cosigner = CosignatureSigner("w.example/x", SigningKey.generate())
    line = cosigner.cosign(log.checkpoint().body(), 9)
    merged = add_signatures(add_signatures(note, [line]), [line])
    assert merged == note + line.line().encode()
    opened = verify_note(parse_note(merged), [log.signer.verifier, cosigner.verifier])
    assert len(opened.verified) == 2


@pytest.mark.parametrize(
    "bad",
    [
        b"o\n1\nAAAA\n\n\xe2\x80\x94 name QUJDREVG\r\n",  # carriage return
        b"o\n1\n\n\xe2\x80\x94 na+me QUJDREVG\n",  # '+' in a name
        b"o\n1\n\n\xe2\x80\x94 name\xc2\xa0x QUJDREVG\n",  # no-break space in a name
        b"o\n1\n\n- name QUJDREVG\n",  # hyphen, not em dash
        b"o\n1\n\n\xe2\x80\x94 name QUJD\n",  # fewer than 5 bytes
        b"o\n1\n\n\xe2\x80\x94 name QUJDREVG=\n",  # non-canonical base64
        b"o\n1\n\n\xe2\x80\x94  name QUJDREVG\n",  # empty name
        b"o\n1\n\n\xe2\x80\x94 name QUJDREVG\n\n",  # blank line at the end
        b"o\n1\n\n\xe2\x80\x94 name QUJDREVG\nextra",  # trailing text
        b"o\n1\n\xe2\x80\x94 name QUJDREVG\n",  # no blank line
        b"\xed\xa0\x80o\n1\n\n\xe2\x80\x94 name QUJDREVG\n",  # encoded surrogate
    ],
)
def test_malformed_notes(bad: bytes) -> None:
    with pytest.raises(MalformedNote):
        parse_note(bad)


def test_open_checkpoint_parses_only_after_verification(log: Log) -> None:
    log.grow_to(4)
    checkpoint, opened = open_checkpoint(log.signed(), [log.signer.verifier])
    assert checkpoint == log.checkpoint() and opened.verified[0].name == log.origin
    other = Ed25519Verifier(log.origin, SigningKey.generate().public.raw)
    with pytest.raises(UnverifiedNote):
        open_checkpoint(log.signed(), [other])
    unsigned_garbage = format_note("not a checkpoint\n", [NoteSignature("x", 1, b"\0" * 64)])
    with pytest.raises(UnverifiedNote):
        open_checkpoint(unsigned_garbage, [log.signer.verifier])
    assert open_note(log.signed(), [log.signer.verifier]).text == log.checkpoint().body()
