"""c2sp.org/tlog-witness wire format: the ``add-checkpoint`` request and response bodies.

Request: ``old <size>\\n``, at most 63 consistency-proof lines (one base64 hash each), an empty
line, then the checkpoint note. Response (200): the witness's cosignature lines. A 409 answer
is the witness's latest cosigned size, ``text/x.tlog.size``. Both the witness (parsing) and the
log (formatting, then reading the answer) use this module, so they cannot drift apart.

The parser reads at most 65 lines before the note, whatever the body holds, so a hostile body
costs no more than its (capped) length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from govchain.transparency.checkpoint import parse_size
from govchain.transparency.errors import MalformedNote, MalformedWitnessRequest
from govchain.transparency.note import NoteSignature, b64decode_canonical, b64encode, parse_signature_line

MAX_PROOF_LINES = 63
"""A client MUST NOT send more; a consistency proof of a 2^63-leaf tree has fewer."""
SIZE_CONTENT_TYPE = "text/x.tlog.size"
NOTE_CONTENT_TYPE = "text/plain; charset=utf-8"
_MAX_LINE = 200
"""No line before the note is longer (an ``old`` line is at most 24 bytes, a hash line 44)."""


@dataclass(frozen=True, slots=True)
class AddCheckpointRequest:
    """What a log asks a witness to cosign: the size it believes the witness holds, a
    consistency proof from that size, and the new signed checkpoint (not yet verified)."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], checkpoint_note: bytes) -> bytes:
    """The request body a log POSTs to ``<witness>/add-checkpoint``."""
    if len(proof) > MAX_PROOF_LINES or any(len(h) != 32 for h in proof):
        raise ValueError("a consistency proof is at most 63 hashes of 32 bytes")
    lines = [f"old {old_size}\n", *(f"{b64encode(h)}\n" for h in proof), "\n"]
    return "".join(lines).encode("ascii") + checkpoint_note


def parse_add_checkpoint(body: bytes) -> AddCheckpointRequest:
    """Split a request body; raise MalformedWitnessRequest (HTTP 400) if it is not one."""
    line, at = _line(body, 0)
    if not line.startswith(b"old "):
        raise MalformedWitnessRequest("the body starts with an old size line")
    try:
        old_size = parse_size(line[4:].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise MalformedWitnessRequest("the old size is a canonical decimal") from None
    proof: list[bytes] = []
    while True:
        line, at = _line(body, at)
        if not line:
            break
        if len(proof) == MAX_PROOF_LINES:
            raise MalformedWitnessRequest(f"more than {MAX_PROOF_LINES} consistency proof lines")
        try:
            digest = b64decode_canonical(line.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise MalformedWitnessRequest("a proof line is one base64 hash") from None
        if len(digest) != 32:
            raise MalformedWitnessRequest("a proof line is one 32-byte hash")
        proof.append(digest)
    if at == len(body):
        raise MalformedWitnessRequest("no checkpoint follows the empty line")
    return AddCheckpointRequest(old_size, tuple(proof), body[at:])


def format_size(size: int) -> bytes:
    """A 409 answer's body: the latest cosigned size and a newline."""
    return f"{size}\n".encode("ascii")


def parse_size_answer(body: bytes) -> int:
    """The size in a 409 answer; MalformedWitnessRequest if it is not one."""
    if not body.endswith(b"\n"):
        raise MalformedWitnessRequest("a size answer ends with a newline")
    try:
        return parse_size(body[:-1].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise MalformedWitnessRequest("a size answer is a canonical decimal") from None


def format_cosignatures(signatures: Sequence[NoteSignature]) -> bytes:
    """A 200 answer's body: one note signature line per cosignature."""
    return "".join(s.line() for s in signatures).encode("utf-8")


def parse_cosignatures(body: bytes, *, max_lines: int = 16) -> list[NoteSignature]:
    """The signature lines of a 200 answer (not yet verified: merge them into the note and
    verify with the witness keys you trust). Raises MalformedWitnessRequest."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedWitnessRequest("a cosignature answer is UTF-8") from None
    if not text.endswith("\n"):
        raise MalformedWitnessRequest("a cosignature answer is newline-terminated lines")
    lines = text[:-1].split("\n", max_lines)
    if len(lines) > max_lines:
        raise MalformedWitnessRequest(f"more than {max_lines} cosignature lines")
    try:
        return [parse_signature_line(line) for line in lines]
    except MalformedNote as exc:
        raise MalformedWitnessRequest(str(exc)) from None


def _line(body: bytes, start: int) -> tuple[bytes, int]:
    """The line at ``start`` without its newline, and where the next begins."""
    end = body.find(b"\n", start, start + _MAX_LINE + 1)
    if end < 0:
        raise MalformedWitnessRequest("a line before the checkpoint is missing or too long")
    return body[start:end], end + 1
