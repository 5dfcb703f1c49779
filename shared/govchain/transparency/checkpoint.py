"""c2sp.org/tlog-checkpoint: a log's signed tree head as a note body.

Body: origin line, tree size in decimal (no leading zeros), base64 RFC 9162 root, then optional
non-empty extension lines. The ledger signs one per published tree size; witnesses cosign it;
clients check it before trusting any inclusion proof (an unsigned root proves nothing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from govchain.transparency.errors import MalformedCheckpoint, MalformedNote
from govchain.transparency.note import (
    NoteSignature,
    b64decode_canonical,
    b64encode,
    check_text,
    format_note,
    parse_note,
)
from govchain.transparency.verification import VerifiedNote, open_note
from govchain.transparency.vkeys import NoteSigner, NoteVerifier

MAX_TREE_SIZE = 2**63 - 1
"""Sizes beyond a signed 64-bit integer are refused: no log is that big, and stores use int64."""
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


SHA256_ORIGIN_SUFFIX = "/sha256"

Tree = Literal["chain", "sha256"]
"""Which of a chain's logs: its own tree (SHA-256 on intl, SM3 on gm), or the SHA-256 tree a
gm chain keeps beside it over the same leaves, for stock witnesses (on an intl chain the
chain's own tree is already SHA-256)."""


def sha256_tree_origin(origin: str) -> str:
    """The origin of a gm chain's SHA-256 checkpoints: its own origin and ``/sha256``.

    Its chain's own checkpoints (the SM3 tree) keep the plain origin, so the two trees are two
    logs to a witness: each origin names one tree and one note key (the same Ed25519 key under
    another name, hence another key ID), and no checkpoint of one can pass for the other's."""
    return origin + SHA256_ORIGIN_SUFFIX


def tree_origin(origin: str, tree: Tree) -> str:
    """The checkpoint origin of ``tree`` on a chain whose own origin is ``origin``."""
    return origin if tree == "chain" else sha256_tree_origin(origin)


def parse_size(text: str) -> int:
    """ASCII decimal with no leading zeros, at most 2^63 - 1; ValueError otherwise."""
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"not a canonical decimal size: {text[:40]!r}")
    value = int(text)
    if value > MAX_TREE_SIZE:
        raise ValueError("size beyond 2^63 - 1")
    return value


@dataclass(frozen=True, slots=True)
class LogCheckpoint:
    """A tree head: which log (origin), how many leaves, and the RFC 9162 root at that size."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise MalformedCheckpoint("an origin is one non-empty line")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedCheckpoint(f"tree size out of range: {self.size}")
        if len(self.root) != 32:
            raise MalformedCheckpoint("a root hash is 32 bytes")
        if any(not line or "\n" in line for line in self.extensions):
            raise MalformedCheckpoint("extension lines are single non-empty lines")

    def body(self) -> str:
        """The note text, final newline included: exactly what the log signs."""
        text = "".join(f"{line}\n" for line in (self.origin, str(self.size), b64encode(self.root), *self.extensions))
        try:
            check_text(text)
        except MalformedNote as exc:
            raise MalformedCheckpoint(str(exc)) from None
        return text

    @classmethod
    def parse(cls, text: str) -> LogCheckpoint:
        """A checkpoint from a note text; raise MalformedCheckpoint."""
        if not text.endswith("\n"):
            raise MalformedCheckpoint("a checkpoint body ends with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):
            raise MalformedCheckpoint("a checkpoint body is at least three non-empty lines")
        try:
            size = parse_size(lines[1])
        except ValueError as exc:
            raise MalformedCheckpoint(f"tree size: {exc}") from None
        try:
            root = b64decode_canonical(lines[2])
        except ValueError:
            raise MalformedCheckpoint("the root hash is canonical base64") from None
        return cls(lines[0], size, root, tuple(lines[3:]))


def sign_checkpoint(
    checkpoint: LogCheckpoint, signers: Sequence[NoteSigner], existing: Iterable[NoteSignature] = ()
) -> bytes:
    """The checkpoint as a signed note: one line per signer, then ``existing`` lines (kept as
    they are, except those a signer here replaces), like Go's ``note.Sign``."""
    text = checkpoint.body().encode("utf-8")
    fresh = [NoteSignature(s.name, s.key_id, s.sign(text)) for s in signers]
    replaced = {(s.name, s.key_id) for s in fresh}
    kept = [s for s in existing if (s.name, s.key_id) not in replaced]
    return format_note(checkpoint.body(), fresh + kept)


def open_checkpoint(data: bytes, verifiers: Iterable[NoteVerifier]) -> tuple[LogCheckpoint, VerifiedNote]:
    """Verify a checkpoint note against trusted keys, then parse its body.

    The body is parsed only after a trusted signature verified (the signed-note rule: the text
    means nothing until then). Raises a TransparencyError."""
    note = open_note(data, verifiers)
    return LogCheckpoint.parse(note.text), note


def add_signatures(data: bytes, lines: Iterable[NoteSignature]) -> bytes:
    """The note with more signature lines appended (a log adding witness cosignatures); lines
    already present are not repeated."""
    note = parse_note(data)
    merged = list(note.signatures)
    merged.extend(s for s in lines if s not in merged)
    return format_note(note.text, merged)
