"""Anchoring a checkpoint note in another chain: what it records, and what it refuses."""

from __future__ import annotations

import hashlib

import pytest

from govchain.protocol import events as ev
from govchain.protocol.keys import SigningKey
from govchain.transparency.anchor import ANCHOR_KIND, anchor_of
from govchain.transparency.checkpoint import LogCheckpoint, sign_checkpoint
from govchain.transparency.errors import TransparencyError
from govchain.transparency.vkeys import Ed25519Signer


def note(origin: str, size: int = 42) -> bytes:
    return sign_checkpoint(
        LogCheckpoint(origin, size, bytes(range(32))), [Ed25519Signer(origin, SigningKey.generate())]
    )


def test_an_anchor_is_a_valid_document_named_after_the_log_and_hashing_the_whole_note() -> None:
    signed = note("govchain.example/east")
    anchor = anchor_of(signed)
    document = ev.DocumentRegistered.model_validate(anchor.document())  # what the registry accepts
    assert document.sha256 == hashlib.sha256(signed).hexdigest()  # signatures included
    assert document.kind == ANCHOR_KIND and (anchor.checkpoint.origin, anchor.checkpoint.size) == (
        "govchain.example/east",
        42,
    )
    assert document.document_id == f"anchor:{document.sha256[:16]}:42"


def test_a_long_origin_still_makes_a_document_the_registry_accepts() -> None:
    anchor = anchor_of(note("govchain.example/" + "x" * 400, size=10**12))
    ev.DocumentRegistered.model_validate(anchor.document())


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe\n",  # not UTF-8
        b"x" * (4 * 1024 * 1024),  # 4 MB of one line
        ("[" * 100_000).encode(),  # deep nesting, to a JSON reader
        b"govchain.example/east\n42\nAAAA\n\n",  # no signature line
        b"govchain.example/east\nforty-two\nAAAA\n\n\xe2\x80\x94 name abcd\n",  # not a checkpoint
    ],
)
def test_anything_but_a_checkpoint_note_is_refused_with_a_typed_error(raw: bytes) -> None:
    with pytest.raises(TransparencyError):
        anchor_of(raw)
