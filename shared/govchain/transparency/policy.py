"""A client's witness policy: trust a checkpoint only when the log signed it and at least k of
the n witnesses it trusts cosigned it, so no single operator can show it a private fork.

A cosignature from a witness the client does not list is ignored; one from a listed witness that
fails to verify refuses the whole note (c2sp.org/signed-note: someone tampered with it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from govchain.transparency.checkpoint import LogCheckpoint
from govchain.transparency.cosignature import CosignatureVerifier, cosignature_timestamp
from govchain.transparency.errors import QuorumNotMet, UnverifiedNote
from govchain.transparency.note import parse_note
from govchain.transparency.verification import verify_note
from govchain.transparency.vkeys import Ed25519Verifier


@dataclass(frozen=True, slots=True)
class WitnessCosignature:
    """A verified cosignature: which witness (its vkey) and when it cosigned."""

    vkey: str
    name: str
    timestamp: int


@dataclass(frozen=True, slots=True)
class CosignedCheckpoint:
    """A checkpoint that passed the policy, with the log key and the witnesses that vouched."""

    checkpoint: LogCheckpoint
    log_vkey: str
    witnesses: tuple[WitnessCosignature, ...]


def verify_cosigned(
    checkpoint_note: bytes,
    log_vkey: str | Sequence[str],
    witness_vkeys: Sequence[str],
    quorum: int,
    *,
    now: int | None = None,
) -> CosignedCheckpoint:
    """Check a cosigned checkpoint against a k-of-n policy; return who signed it.

    ``log_vkey``: the log's Ed25519 vkey(s) (type 0x01); one must have signed. ``witness_vkeys``:
    the trusted witnesses' cosignature vkeys (type 0x04), each counted once. With ``now``, a
    cosignature dated in the future does not count. Raises QuorumNotMet below ``quorum``, or
    another TransparencyError if the note is malformed, unsigned by the log, or tampered with."""
    log_keys = [log_vkey] if isinstance(log_vkey, str) else list(log_vkey)
    logs = [Ed25519Verifier.from_vkey(v) for v in log_keys]
    witnesses = [CosignatureVerifier.from_vkey(v) for v in dict.fromkeys(witness_vkeys)]
    if not 0 <= quorum <= len(witnesses):
        raise ValueError(f"a quorum of {quorum} cannot be met by {len(witnesses)} witnesses")
    note = verify_note(parse_note(checkpoint_note), [*logs, *witnesses])
    by_slot = {(v.name, v.key_id): v for v in witnesses}
    log_slots = {(v.name, v.key_id): v for v in logs}
    signed_by_log = [log_slots[(s.name, s.key_id)] for s in note.verified if (s.name, s.key_id) in log_slots]
    if not signed_by_log:
        raise UnverifiedNote("the checkpoint carries no verified signature of the log")
    cosigned: list[WitnessCosignature] = []
    for sig in note.verified:
        witness = by_slot.get((sig.name, sig.key_id))
        if witness is None:
            continue
        stamp = cosignature_timestamp(sig.signature)
        if stamp is None or (now is not None and stamp > now):
            continue
        cosigned.append(WitnessCosignature(witness.vkey, witness.name, stamp))
    if len(cosigned) < quorum:
        raise QuorumNotMet(len(cosigned), quorum)
    return CosignedCheckpoint(LogCheckpoint.parse(note.text), signed_by_log[0].vkey, tuple(cosigned))
