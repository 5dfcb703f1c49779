"""What the chain says of one key, for the gateway's two questions about it: may this envelope
be published (its signer and signature), and whom does a signed-in session speak for.

Both are answered with the kernel's and the registry's own rules, over a chain state holding
just that key and its owner (from the identity service's ``gov.identity.key`` query), so the
gateway never judges a signer differently from the orderer, nor a viewer differently from
the registry.
"""

from __future__ import annotations

from typing import Any

from govchain.protocol.envelope import Envelope
from govchain.protocol.errors import EventRejected
from govchain.protocol.state import ChainState, KeyRecord, Principal
from govchain.protocol.validation import check_signer
from govchain.services.registry.access import Viewer


def key_state(answer: dict[str, Any], chain_id: str) -> ChainState:
    """A chain state holding the one key of a ``gov.identity.key`` answer and its owner, at the
    height of the next block (the one an event published now could enter at the earliest)."""
    state = ChainState(chain_id=chain_id, height=int(answer["as_of_height"]) + 1)
    if answer.get("key") is not None:
        record = KeyRecord.from_json(answer["key"])
        state.keys[record.key_id] = record  # by the key itself, never by what the answer calls it
    if answer.get("owner") is not None:
        owner = Principal.from_json(answer["owner"])
        state.principals[owner.id] = owner
    return state


def signer_refusal(
    state: ChainState,
    envelope: Envelope,
    signing_bytes: bytes | None = None,
    *,
    batch_root: bytes | None = None,
) -> EventRejected | None:
    """Why the orderer would refuse ``envelope``'s signer or signature as of ``state``, or None:
    ``unknown_key``, ``signer_not_of_source``, ``bad_signature`` or ``key_revoked``, in its order."""
    try:
        check_signer(state, envelope, signing_bytes, batch_root=batch_root)
    except EventRejected as refusal:
        return refusal
    return None


def session_viewer(state: ChainState, principal: str, key_id: str) -> Viewer:
    """The viewer a session of ``principal`` signed in with ``key_id`` is: the registry's, while
    that key is still the principal's and usable; the public once it is revoked or rotated out."""
    record = state.keys.get(key_id)
    usable = record is not None and record.owner == principal and record.usable_at(state.height)
    return Viewer.of(state, principal) if usable and principal in state.principals else Viewer()
