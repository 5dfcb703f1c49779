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
from govchain.protocol.batch import EventBatch
from govchain.protocol.envelope import Envelope, event_msg_id
from govchain.protocol.errors import GovChainError, RejectionReason
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import leaf_hash
from govchain.protocol.requests import sign_request

REQUEST_TIMEOUT_S = 5.0


class LedgerQueryError(GovChainError):
    """The ledger answered a query with an error (unknown event, bad heights, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class GovChainClient:
    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.js = nc.jetstream()

    async def publish(self, envelope: Envelope) -> PubAck:
        """Publish a signed event. Its ``Nats-Msg-Id`` is derived from its signed bytes
        (:func:`~govchain.protocol.envelope.event_msg_id`), so an identical re-send is
        de-duplicated and nobody can have another's event dropped as a duplicate."""
        wire = envelope.to_bytes()
        return await self.js.publish(
            subjects.event_subject(envelope.source, envelope.type),
            wire,
            stream=subjects.EVENTS_STREAM,
            headers={"Nats-Msg-Id": event_msg_id(wire)},
        )

    async def publish_batch(self, batch: EventBatch) -> PubAck:
        """Publish a batch envelope (:func:`govchain.protocol.batch.sign_batch`) as one message."""
        return await self.js.publish(
            subjects.batch_subject(batch.source),
            batch.to_bytes(),
            stream=subjects.EVENTS_STREAM,
            headers={"Nats-Msg-Id": batch.msg_id},
        )

    async def submit_batch(self, batch: EventBatch, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Publish a batch and wait for a receipt of each of its events, in batch order.

        A batch refused as a whole is recorded once, under its ``msg_id``; each of its events
        then gets that refusal as its receipt."""
        await self.publish_batch(batch)
        ids = [str(event["id"]) for event in batch.events]
        deadline = time.monotonic() + timeout
        receipts: dict[str, dict[str, Any]] = {}
        delay = 0.02
        while True:
            if not receipts:  # once any event has a receipt, the batch was opened: no whole refusal
                whole = await self.receipt(batch.msg_id, batch.source)
                if whole["status"] == "rejected":
                    return [{**whole, "event_id": event_id, "batch_id": batch.msg_id} for event_id in ids]
            for event_id in ids:
                if event_id not in receipts:
                    receipt = await self.receipt(event_id, batch.source)
                    if receipt["status"] != "pending":
                        receipts[event_id] = receipt
            if len(receipts) == len(ids):
                return [receipts[event_id] for event_id in ids]
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(ids) - len(receipts)} events of {batch.msg_id} still pending after {timeout}s")
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
        return await self.request(subjects.LEDGER_RECEIPT, {"event_id": event_id, "source": source})

    async def wait_receipt(
        self, event_id: str, source: str, timeout: float = 30.0, *, wire: bytes | None = None
    ) -> dict[str, Any]:
        """Poll until the event is committed or rejected; raise TimeoutError if it stays pending.

        With ``wire`` (the bytes this client published), a refusal of *other* bytes under the
        same source and id (someone else's forgery, refused) is not taken for this event's:
        the event stays pending until its own verdict."""
        deadline = time.monotonic() + timeout
        delay = 0.02
        own = None if wire is None else hashlib.sha256(wire).hexdigest()
        while True:
            receipt = await self.receipt(event_id, source)
            refused_other = (receipt["status"] == "rejected" and own is not None
                             and receipt.get("original_sha256") not in (None, own))
            if receipt["status"] != "pending" and not refused_other:
                return receipt
            if time.monotonic() > deadline:
                if refused_other:
                    return receipt  # no verdict of our own: report what stands under the id
                raise TimeoutError(f"event {event_id} still pending after {timeout}s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def submit(self, envelope: Envelope, timeout: float = 30.0) -> dict[str, Any]:
        """Publish and wait for the receipt of *this* event.

        A committed receipt whose leaf differs from this event's means its id was already
        used by another event (JetStream de-duplicated ours): that is a refusal, not a success.
        """
        wire = envelope.to_bytes()
        await self.publish(envelope)
        receipt = await self.wait_receipt(envelope.id, envelope.source, timeout, wire=wire)
        ours = leaf_hash(wire).hex()
        if receipt["status"] == "committed" and receipt["leaf_hash"] != ours:
            return {
                "source": envelope.source,
                "event_id": envelope.id,
                "status": "rejected",
                "reason": RejectionReason.CONFLICTING_ID.value,
                "detail": f"id {envelope.id} of {envelope.source} is already used by another event on chain",
            }
        return receipt

    async def inclusion_proof(
        self, event_id: str, at_height: int | None = None, *, source: str | None = None
    ) -> dict[str, Any]:
        """The RFC 9162 proof of ``source/event_id`` against a signed head. Without ``source``
        the ledger answers only when one source alone used the id (else ``ambiguous_id``)."""
        return await self.request(
            subjects.LEDGER_PROOF, {"event_id": event_id, "source": source, "at_height": at_height}
        )

    async def consistency_proof(self, first_height: int, second_height: int) -> dict[str, Any]:
        return await self.request(
            subjects.LEDGER_CONSISTENCY, {"first_height": first_height, "second_height": second_height}
        )

    async def head(self) -> dict[str, Any]:
        return await self.request(subjects.LEDGER_HEAD, {})

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
        return await self.request(subjects.IDENTITY_RESOLVE, {"did": did, "min_height": min_height})

    async def verify_credential(self, credential: dict[str, Any], *, min_height: int | None = None) -> dict[str, Any]:
        """``{"valid", "reason", ...}``: proof, issuer authority and revocations as of the chain."""
        return await self.request(
            subjects.IDENTITY_VERIFY_CREDENTIAL, {"credential": credential, "min_height": min_height}
        )
