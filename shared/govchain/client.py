"""The client a department's system, the CLI or a downstream service uses to talk to GovChain."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

from nats.aio.client import Client
from nats.js.api import PubAck

from govchain.bus import subjects
from govchain.bus.errors import NATS_ERRORS
from govchain.bus.subjects import DEFAULT, ChainNames
from govchain.crypto import INTL, CryptoSuite, keeps_sha256_tree
from govchain.protocol import events as ev
from govchain.protocol.batch import EventBatch, open_batch
from govchain.protocol.block import Block
from govchain.protocol.envelope import Envelope, event_msg_id
from govchain.protocol.errors import EventRejected, GovChainError, RejectionReason
from govchain.protocol.genesis import genesis_suite
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import leaf_hasher, verify_inclusion
from govchain.protocol.requests import sign_request
from govchain.protocol.state import ChainState
from govchain.transparency.checkpoint import Tree, tree_origin
from govchain.transparency.policy import CosignedCheckpoint, verify_cosigned
from govchain.transparency.vkeys import Ed25519Verifier

REQUEST_TIMEOUT_S = 5.0


class LedgerQueryError(GovChainError):
    """The ledger answered a query with an error (unknown event, bad heights, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def log_vkeys(state: ChainState, tree: Tree = "chain") -> list[str]:
    """The note verifier keys (c2sp.org/signed-note vkeys) the checkpoints of ``tree`` are signed
    with, as of ``state``: each orderer key not revoked, under the chain's origin; on a chain
    whose orderer keys are not Ed25519 (gm), its Ed25519 checkpoint key named in genesis, under
    the chain's origin for its own tree and under ``<origin>/sha256`` for its SHA-256 tree.
    Empty for the SHA-256 tree of a chain that keeps none (intl: its own tree is SHA-256)."""
    if tree != "chain":
        if state.checkpoint_key is None or not keeps_sha256_tree(state.suite):
            return []
        return [Ed25519Verifier(tree_origin(state.log_origin, tree), state.checkpoint_key.raw).vkey]
    if state.checkpoint_key is not None:
        return [Ed25519Verifier(state.log_origin, state.checkpoint_key.raw).vkey]
    return [
        Ed25519Verifier(state.log_origin, record.public_key.raw).vkey
        for record in state.keys.values()
        if record.owner == ev.LEDGER and not record.revoked
    ]


def witness_requirement(state: ChainState, tree: Tree = "chain") -> tuple[list[str], int]:
    """(the witnesses' cosignature vkeys, the quorum) of the chain's witness policy for the
    checkpoints of ``tree`` as of ``state`` (for ``sha256``: the policy's ``sha256`` part);
    ([], 0) when it names none."""
    policy = state.witness_policy
    part = policy if tree == "chain" or policy is None else policy.sha256
    if part is None:
        return [], 0
    return [w.vkey for w in part.witnesses], part.quorum


def verify_witnessed(note: bytes, state: ChainState, *, now: int | None = None) -> CosignedCheckpoint:
    """Check a checkpoint note against the chain's own policy as of ``state``: signed by an
    orderer key under the chain's origin and cosigned by at least the quorum of its witnesses.

    Returns the checkpoint and who cosigned it; raises a
    :class:`~govchain.transparency.errors.TransparencyError` (``QuorumNotMet`` below the quorum)."""
    witnesses, quorum = witness_requirement(state)
    return verify_cosigned(note, log_vkeys(state), witnesses, quorum, now=now)


class GovChainClient:
    """A department's or a downstream system's handle on one chain: publish, receipts, proofs,
    checkpoints, questions. ``names``: which chain, when several share the NATS cluster."""

    def __init__(self, nc: Client, suite: CryptoSuite | None = None, *, names: ChainNames = DEFAULT) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.names = names
        self._suite = suite

    async def crypto_suite(self) -> CryptoSuite:
        """The chain's crypto suite: as given, else as its genesis block names it (read once)."""
        if self._suite is None:
            try:
                msg = await self.js.get_msg(self.names.blocks_stream, subjects.block_sequence(0))
            except NATS_ERRORS:
                return INTL  # no genesis yet (or no right to read it): not cached, asked again next time
            if msg.data is None:
                return INTL
            self._suite = genesis_suite(Envelope.model_validate(Block.from_bytes(msg.data, height_hint=0).events[0]))
        return self._suite

    async def publish(self, envelope: Envelope) -> PubAck:
        """Publish a signed event. Its ``Nats-Msg-Id`` is derived from its signed bytes
        (:func:`~govchain.protocol.envelope.event_msg_id`), so an identical re-send is
        de-duplicated and nobody can have another's event dropped as a duplicate."""
        wire = envelope.to_bytes()
        return await self.js.publish(
            self.names.event_subject(envelope.source, envelope.type),
            wire,
            stream=self.names.events_stream,
            headers={"Nats-Msg-Id": event_msg_id(wire)},
        )

    async def publish_batch(self, batch: EventBatch) -> PubAck:
        """Publish a batch envelope (:func:`govchain.protocol.batch.sign_batch`) as one message."""
        return await self.js.publish(
            self.names.batch_subject(batch.source),
            batch.to_bytes(),
            stream=self.names.events_stream,
            headers={"Nats-Msg-Id": batch.msg_id},
        )

    async def submit_batch(self, batch: EventBatch, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Publish a batch and wait for the verdict on each of *its* events, in batch order.

        A batch refused as a whole is recorded once, under its ``msg_id``; each of its events
        then gets that refusal. A receipt is asked for by source and id, and an id may already
        hold something else: an event an earlier run committed (this one, signed anew, is then
        refused as ``conflicting_id``, as :meth:`submit` says for a single event) or the
        refusal of other bytes (this event's verdict is still to come). So each receipt is
        checked against the event's own leaf and bytes, as the orderer opens the batch.
        Raises TimeoutError when some event has no verdict of its own in time."""
        suite = await self.crypto_suite()
        try:
            _, opened = open_batch(batch.to_bytes(), suite)
            own: dict[str, bytes | None] = {envelope.id: forms.signed for envelope, forms in opened}
        except EventRejected:  # the ledger will refuse it whole; its verdict is all there is
            own = {str(event["id"]): None for event in batch.events}
        await self.publish_batch(batch)
        deadline, delay = time.monotonic() + timeout, 0.02
        verdicts: dict[str, dict[str, Any]] = {}
        latest: dict[str, dict[str, Any]] = {}
        while True:
            if not verdicts:  # once any event has a verdict, the batch was opened: no whole refusal
                whole = await self.receipt(batch.msg_id, batch.source)
                if whole["status"] == "rejected":
                    return [{**whole, "event_id": event_id, "batch_id": batch.msg_id} for event_id in own]
            for event_id, signed in own.items():
                if event_id not in verdicts:
                    latest[event_id] = receipt = await self.receipt(event_id, batch.source)
                    verdict = own_verdict(receipt, signed, suite)
                    if verdict is not None:
                        verdicts[event_id] = verdict
            if len(verdicts) == len(own):
                return [verdicts[event_id] for event_id in own]
            if time.monotonic() > deadline:
                undecided = [event_id for event_id in own if event_id not in verdicts]
                if all(latest[event_id]["status"] != "pending" for event_id in undecided):
                    return [verdicts.get(event_id, latest[event_id]) for event_id in own]  # what stands under the id
                raise TimeoutError(f"{len(undecided)} events of {batch.msg_id} still pending after {timeout}s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def request(self, subject: str, payload: dict[str, Any]) -> dict[str, Any]:
        reply = await self.nc.request(subject, json.dumps(payload).encode(), timeout=REQUEST_TIMEOUT_S)
        answer = json.loads(reply.data)
        if isinstance(answer, dict) and "error" in answer and "code" in answer:
            raise LedgerQueryError(answer["code"], answer["error"])
        return dict(answer)

    async def receipt(self, event_id: str, source: str) -> dict[str, Any]:
        """The verdict on the event ``source/event_id``: committed, rejected or pending."""
        return await self.request(self.names.ledger_receipt, {"event_id": event_id, "source": source})

    async def wait_receipt(
        self, event_id: str, source: str, timeout: float = 30.0, *, wire: bytes | None = None
    ) -> dict[str, Any]:
        """Poll until the event is committed or rejected; raise TimeoutError if it stays pending.

        With ``wire`` (the bytes this client published), the receipt is judged as the verdict on
        those bytes (:func:`own_verdict`): a refusal of *other* bytes under the same source and
        id (someone else's forgery, refused) is not taken for this event's, and another event
        committed under the id is this one's ``conflicting_id`` refusal."""
        deadline = time.monotonic() + timeout
        delay = 0.02
        suite = None if wire is None else await self.crypto_suite()
        while True:
            receipt = await self.receipt(event_id, source)
            verdict = own_verdict(receipt, wire, suite)
            if verdict is not None:
                return verdict
            if time.monotonic() > deadline:
                if receipt["status"] != "pending":
                    return receipt  # no verdict of our own: report what stands under the id
                raise TimeoutError(f"event {event_id} still pending after {timeout}s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def submit(self, envelope: Envelope, timeout: float = 30.0) -> dict[str, Any]:
        """Publish and wait for the verdict on *this* event (see :meth:`wait_receipt`): a
        committed receipt of another event under its id is a refusal, not a success."""
        wire = envelope.to_bytes()
        await self.publish(envelope)
        return await self.wait_receipt(envelope.id, envelope.source, timeout, wire=wire)

    async def inclusion_proof(
        self, event_id: str, at_height: int | None = None, *, source: str | None = None
    ) -> dict[str, Any]:
        """The RFC 9162 proof of ``source/event_id`` against a signed head. Without ``source``
        the ledger answers only when one source alone used the id (else ``ambiguous_id``)."""
        return await self.request(
            self.names.ledger_proof, {"event_id": event_id, "source": source, "at_height": at_height}
        )

    async def consistency_proof(self, first_height: int, second_height: int, *, tree: str = "chain") -> dict[str, Any]:
        """RFC 9162 consistency proof between two heights' logs; ``tree="sha256"``: in a gm
        chain's SHA-256 tree (the one its SHA-256 checkpoints carry)."""
        return await self.request(
            self.names.ledger_consistency,
            {"first_height": first_height, "second_height": second_height, "tree": tree},
        )

    async def head(self) -> dict[str, Any]:
        return await self.request(self.names.ledger_head, {})

    async def checkpoint(self, *, tree: str = "chain") -> dict[str, Any]:
        """The newest witnessed checkpoint as the ledger publishes it: ``note`` (the signed
        c2sp.org/tlog-checkpoint), ``size``, ``root``, ``height``, ``cosigners``, the ``policy``
        it was cosigned under, and the ledger's own ``head_size`` (the cosigned size may lag).
        Not verified: use :meth:`witnessed_checkpoint`. ``tree="sha256"``: a gm chain's SHA-256
        checkpoint (origin ``<origin>/sha256``, cosigned by the policy's ``sha256`` witnesses)."""
        return await self.request(self.names.ledger_checkpoint, {"tree": tree})

    async def witnessed_checkpoint(
        self,
        *,
        log_vkeys: str | list[str],
        witness_vkeys: list[str],
        quorum: int,
        now: int | None = None,
    ) -> tuple[CosignedCheckpoint, dict[str, Any]]:
        """The newest checkpoint, verified against a k-of-n witness policy the caller trusts
        (e.g. :func:`witness_requirement` of a chain state it verified itself): signed by one
        of ``log_vkeys`` and cosigned by at least ``quorum`` of ``witness_vkeys``. Returns the
        verified checkpoint with the witnesses that cosigned it, and the ledger's answer.
        Raises ``QuorumNotMet`` (or another TransparencyError) if it does not check out."""
        answer = await self.checkpoint()
        verified = verify_cosigned(str(answer["note"]).encode("utf-8"), log_vkeys, witness_vkeys, quorum, now=now)
        if verified.checkpoint.size != answer["size"] or verified.checkpoint.root.hex() != answer["root"]:
            raise LedgerQueryError("bad_answer", "the ledger's checkpoint record contradicts its own note")
        return verified, answer

    async def witnessed_inclusion_proof(
        self,
        event_id: str,
        *,
        source: str | None = None,
        log_vkeys: str | list[str],
        witness_vkeys: list[str],
        quorum: int,
        now: int | None = None,
    ) -> tuple[dict[str, Any], CosignedCheckpoint]:
        """The RFC 9162 proof of ``source/event_id`` against the newest checkpoint cosigned by
        ``quorum`` of ``witness_vkeys`` (see :meth:`witnessed_checkpoint`), its path checked
        here to the checkpoint's root: the event is in the history the witnesses saw. Raises
        ``LedgerQueryError`` ``not_witnessed`` when the event came after that checkpoint, and
        ``bad_answer`` when the proof does not lead to its root."""
        verified, answer = await self.witnessed_checkpoint(
            log_vkeys=log_vkeys, witness_vkeys=witness_vkeys, quorum=quorum, now=now
        )
        height = int(answer["height"])
        newest = await self.inclusion_proof(event_id, None, source=source)
        if int(newest["block_height"]) > height:
            raise LedgerQueryError(
                "not_witnessed",
                f"the event is in block {newest['block_height']}, after the newest witnessed checkpoint "
                f"(block {height}, size {verified.checkpoint.size})",
            )
        proof = await self.inclusion_proof(event_id, height, source=source)
        checkpoint = verified.checkpoint
        if proof["tree_size"] != checkpoint.size or not verify_inclusion(
            bytes.fromhex(proof["leaf_hash"]),
            int(proof["leaf_index"]),
            checkpoint.size,
            [bytes.fromhex(step) for step in proof["path"]],
            checkpoint.root,
            await self.crypto_suite(),
        ):
            raise LedgerQueryError("bad_answer", "the proof does not lead to the witnessed checkpoint's root")
        return proof, verified

    async def head_height(self) -> int:
        """Height of the newest block the ledger has indexed."""
        return int((await self.head())["header"]["height"])

    async def query(
        self,
        subject: str,
        params: dict[str, Any],
        *,
        as_principal: tuple[SigningKey, str] | None = None,
        on_behalf_of: str | None = None,
    ) -> dict[str, Any]:
        """Ask a service; with ``as_principal`` (key, principal id) the request is signed, which
        is what any answer beyond public data needs. A delegate service (the gateway) adds
        ``on_behalf_of`` for a principal it authenticated."""
        body = dict(params)
        if as_principal is not None:
            key, principal = as_principal
            body["auth"] = sign_request(key, principal, subject, params, on_behalf_of=on_behalf_of).model_dump(
                exclude_none=True
            )
        return await self.request(subject, body)

    async def resolve_did(self, did: str, *, min_height: int | None = None) -> dict[str, Any]:
        """A DID resolution result: ``didDocument``, ``didDocumentMetadata``, ``didResolutionMetadata``.

        ``min_height`` asks for an answer that includes that block (read your own writes)."""
        return await self.request(self.names.identity_resolve, {"did": did, "min_height": min_height})

    async def verify_credential(self, credential: dict[str, Any], *, min_height: int | None = None) -> dict[str, Any]:
        """``{"valid", "reason", ...}``: proof, issuer authority and revocations as of the chain."""
        return await self.request(
            self.names.identity_verify_credential, {"credential": credential, "min_height": min_height}
        )


def own_verdict(
    receipt: dict[str, Any], signed: bytes | None, suite: CryptoSuite | None = None
) -> dict[str, Any] | None:
    """``receipt`` as the verdict on the event whose signed bytes are ``signed``; None while
    there is none yet (pending, or a refusal of other bytes under the same source and id).
    Without the bytes (a batch that does not open), any verdict is taken. ``suite`` is the
    chain's (its leaf hash; SHA-256 when None)."""
    if signed is None:
        return None if receipt["status"] == "pending" else receipt
    if receipt["status"] == "committed":
        if receipt["leaf_hash"] == leaf_hasher(suite)(signed).hex():
            return receipt
        return {
            "source": receipt["source"],
            "event_id": receipt["event_id"],
            "status": "rejected",
            "reason": RejectionReason.CONFLICTING_ID.value,
            "detail": f"id {receipt['event_id']} of {receipt['source']} is already used by another event on chain "
            f"(block {receipt['height']})",
        }
    if receipt["status"] == "rejected" and receipt.get("original_sha256") in (None, hashlib.sha256(signed).hexdigest()):
        return receipt
    return None
