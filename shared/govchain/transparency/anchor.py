"""Anchoring one chain's checkpoints in another chain.

Chains that share a NATS cluster are independent: each has its own orderer and its own
witnesses. Anchoring adds a cross-check that needs no new trust: a department of chain B
registers chain A's witnessed checkpoint note as a document of B (``document.registered``,
kind :data:`ANCHOR_KIND`, its SHA-256 as the document hash). From then on A cannot present
another history at that size without B's ordered, signed, witnessed log contradicting it, and
anyone holding the note proves the anchor with B's ordinary document check and inclusion proof.
The note itself (signatures and cosignatures included) stays where it was published, on A's
stream CHECKPOINTS; only its hash goes into B.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from govchain.transparency.checkpoint import LogCheckpoint
from govchain.transparency.note import parse_note

ANCHOR_KIND = "log-checkpoint"
"""The ``kind`` of a ``document.registered`` event that anchors another chain's checkpoint."""


@dataclass(frozen=True)
class Anchor:
    """What a checkpoint note becomes on the anchoring chain."""

    checkpoint: LogCheckpoint
    note_sha256: str

    def document(self) -> dict[str, str]:
        """The ``document.registered`` payload: its id names the log and size, its hash the note."""
        return {
            "document_id": f"anchor:{self.note_sha256[:16]}:{self.checkpoint.size}",
            "sha256": self.note_sha256,
            "title": f"checkpoint of {self.checkpoint.origin} at size {self.checkpoint.size}"[:300],
            "kind": ANCHOR_KIND,
        }


def anchor_of(note: bytes) -> Anchor:
    """The anchor of a checkpoint note, signatures included (they are what makes it witnessed);
    raises MalformedNote / MalformedCheckpoint on anything that is not one."""
    checkpoint = LogCheckpoint.parse(parse_note(note).text)
    return Anchor(checkpoint, hashlib.sha256(note).hexdigest())
