"""Opening a signed note: which of the keys we trust signed it, with the spec's refusal rules.

c2sp.org/signed-note: signatures from unknown keys are ignored (even if they share a name *or*
an id with a known key, but not both); a signature from a known key that fails to verify makes
the whole note refused; a note no known key signed is refused. Duplicate lines are handled as
Go's reference ``note.Open`` does, so both accept and refuse the same notes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from govchain.transparency.errors import AmbiguousKey, InvalidSignature, UnverifiedNote
from govchain.transparency.note import Note, NoteSignature, parse_note
from govchain.transparency.vkeys import NoteVerifier


@dataclass(frozen=True, slots=True)
class VerifiedNote:
    """A note with the signatures known keys made (``verified``) and the rest (``unverified``)."""

    text: str
    verified: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]


def verifier_map(verifiers: Iterable[NoteVerifier]) -> dict[tuple[str, int], NoteVerifier]:
    """Index keys by (name, key id); refuse two keys a signature line could not tell apart."""
    known: dict[tuple[str, int], NoteVerifier] = {}
    for verifier in verifiers:
        slot = (verifier.name, verifier.key_id)
        if slot in known and known[slot] != verifier:
            raise AmbiguousKey(f"ambiguous key {verifier.name}+{verifier.key_id:08x}")
        known[slot] = verifier
    return known


def verify_note(note: Note, verifiers: Iterable[NoteVerifier]) -> VerifiedNote:
    """Check ``note``'s signatures against ``verifiers``.

    Raises InvalidSignature when a known key's signature fails, UnverifiedNote when no known
    key signed. A repeated signature by a known key counts once."""
    known = verifier_map(verifiers)
    text = note.text.encode("utf-8")
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    seen: set[tuple[str, int]] = set()
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            if sig not in unverified:
                unverified.append(sig)
            continue
        if (sig.name, sig.key_id) in seen:
            continue
        seen.add((sig.name, sig.key_id))
        if not verifier.verify(text, sig.signature):
            raise InvalidSignature(sig.name, sig.key_id)
        verified.append(sig)
    if not verified:
        raise UnverifiedNote("note has no verifiable signatures")
    return VerifiedNote(note.text, tuple(verified), tuple(unverified))


def open_note(data: bytes, verifiers: Iterable[NoteVerifier]) -> VerifiedNote:
    """Parse and verify a signed note (Go's ``note.Open``); raise a TransparencyError."""
    return verify_note(parse_note(data), verifiers)
