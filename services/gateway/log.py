"""The event log as a transparency log (c2sp.org/tlog-tiles), under ``/log/``:

* ``GET /log/checkpoint``: the newest witnessed checkpoint, a c2sp.org/tlog-checkpoint signed
  note carrying the orderer key's signature and the witnesses' cosignatures (``text/plain``,
  never cached: it moves);
* ``GET /log/tile/<L>/<N>[.p/<W>]``: hash tiles, public and immutable (cacheable for a year by
  any proxy or CDN: a tile's path names its content);
* ``GET /log/tile/entries/<N>[.p/<W>]``: entry bundles, the full signed events (the leaves);
* ``GET /log/sha256/checkpoint`` and ``GET /log/sha256/tile/...``: a gm chain's SHA-256 tree
  over the same leaves, a tlog of its own (origin ``<origin>/sha256``, for stock C2SP
  witnesses and tlog clients; docs/crypto-profiles.md). On an intl chain, whose own tree is
  SHA-256, they serve the same as ``/log/``.

Entries and privacy: the hash tiles reveal nothing but hashes, and are all a standard tlog
client needs to verify inclusion of a leaf it holds and consistency between two checkpoints.
The entries are the events themselves, in full; the README's "what the public sees of the
chain" keeps citizens' pseudonyms and the fields that link a person's events from the public
(the explorer shows them redacted). An entry bundle cannot be redacted without breaking its
hashes, so it is served only to a signed-in officer or auditor (``Authorization: Bearer``, as
for the API), like the full events on stream BLOCKS, and marked ``private`` for caches.

``GET /api/v1/chain/checkpoint`` gives the same checkpoint as JSON, checked here: the witnesses
that cosigned it, the quorum of the policy it was cosigned under, and how far it lags the head.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from govchain.protocol import events as ev
from govchain.protocol.canonical import canonical_bytes
from govchain.services.gateway.context import (
    Gateway,
    OptionalSession,
    api_error,
    checked_event_id,
    checked_source,
    gateway_of,
)
from govchain.services.gateway.errors import ERROR_RESPONSES
from govchain.services.gateway.limits import limiter, public_limit
from govchain.transparency.errors import EntryTooLarge, MalformedTilePath, TransparencyError
from govchain.transparency.policy import verify_cosigned
from govchain.transparency.tiles import entry_bundle, parse_tile_path
from govchain.transparency.vkeys import Ed25519Verifier

router = APIRouter(tags=["log"], responses=ERROR_RESPONSES)

IMMUTABLE = "public, max-age=31536000, immutable"
PRIVATE_IMMUTABLE = "private, max-age=31536000, immutable"
NOTE_TYPE = "text/plain; charset=utf-8"
TILE_TYPE = "application/octet-stream"


@router.get(
    "/log/checkpoint",
    summary="The newest witnessed checkpoint (c2sp.org/tlog-checkpoint signed note)",
    response_class=Response,
    responses={200: {"content": {NOTE_TYPE: {}}, "description": "the signed note"}},
)
@limiter.limit(public_limit)
async def checkpoint(request: Request) -> Response:
    return await _checkpoint_note(request, "chain")


@router.get(
    "/log/sha256/checkpoint",
    summary="A gm chain's SHA-256 checkpoint (origin <origin>/sha256), for stock C2SP witnesses",
    response_class=Response,
    responses={200: {"content": {NOTE_TYPE: {}}, "description": "the signed note"}},
)
@limiter.limit(public_limit)
async def sha256_checkpoint(request: Request) -> Response:
    return await _checkpoint_note(request, "sha256")


async def _checkpoint_note(request: Request, tree: str) -> Response:
    gateway = gateway_of(request)
    answer = await gateway.ask(gateway.names.ledger_checkpoint, {"tree": tree})
    return Response(str(answer["note"]).encode("utf-8"), media_type=NOTE_TYPE, headers={"Cache-Control": "no-store"})


@router.get(
    "/log/tile/{path:path}",
    summary="A hash tile or, for officers and auditors, an entry bundle (c2sp.org/tlog-tiles)",
    response_class=Response,
    responses={200: {"content": {TILE_TYPE: {}}, "description": "the tile's bytes"}},
)
@limiter.limit(public_limit)
async def tile(request: Request, path: str, session: OptionalSession) -> Response:
    return await _tile(request, path, session, "chain")


@router.get(
    "/log/sha256/tile/{path:path}",
    summary="A hash tile (or entry bundle: the same leaves) of a gm chain's SHA-256 tree",
    response_class=Response,
    responses={200: {"content": {TILE_TYPE: {}}, "description": "the tile's bytes"}},
)
@limiter.limit(public_limit)
async def sha256_tile(request: Request, path: str, session: OptionalSession) -> Response:
    return await _tile(request, path, session, "sha256")


async def _tile(request: Request, path: str, session: OptionalSession, tree: str) -> Response:
    try:
        found, entries = parse_tile_path(f"tile/{path}")
    except MalformedTilePath as exc:
        raise api_error(404, "not_found", str(exc)) from None
    gateway = gateway_of(request)
    if entries:
        viewer = await gateway.viewer(session)
        if not viewer.sees_internal():
            status, code = (401, "unauthenticated") if session is None else (403, "forbidden")
            raise api_error(
                status,
                code,
                "entry bundles are the full events, pseudonyms included: they are served "
                "to signed-in officers and auditors; hash tiles are public",
            )
        data = await _bundle(gateway, found.first_node, found.width)
        return Response(data, media_type=TILE_TYPE, headers={"Cache-Control": PRIVATE_IMMUTABLE})
    answer = await gateway.ask(
        gateway.names.ledger_tile, {"level": found.level, "index": found.index, "width": found.width, "tree": tree}
    )
    return Response(base64.b64decode(answer["data"]), media_type=TILE_TYPE, headers={"Cache-Control": IMMUTABLE})


async def _bundle(gateway: Gateway, start: int, width: int) -> bytes:
    """Leaves ``start`` .. ``start + width - 1``, read from their blocks, as an entry bundle."""
    located = await gateway.ask(gateway.names.ledger_leaves, {"start": start, "count": width})
    locations = [(int(h), int(p)) for h, p in located["locations"]]
    if len(locations) != width:
        raise api_error(404, "not_found", f"the log has no {width} leaves from {start}")
    heights = sorted({height for height, _ in locations})
    blocks = dict(zip(heights, await asyncio.gather(*(gateway.block(h) for h in heights)), strict=True))
    try:
        return entry_bundle(canonical_bytes(blocks[height].events[position]) for height, position in locations)
    except (EntryTooLarge, IndexError) as exc:
        # An event from before leaves were limited to 65,535 bytes (or a block that is not what
        # the ledger's index says): this bundle cannot be served; the hash tiles still can.
        raise api_error(404, "not_found", f"no entry bundle at {start}: {exc}") from None


@router.get("/api/v1/chain/checkpoint", summary="The newest witnessed checkpoint, checked, with its witnesses")
@limiter.limit(public_limit)
async def checkpoint_summary(request: Request) -> dict[str, Any]:
    return await witnessed_summary(gateway_of(request))


@router.get(
    "/api/v1/chain/checkpoint/evidence/{source}/{event_id}",
    summary="What a browser needs to check an event against the newest witnessed checkpoint itself",
)
@limiter.limit(public_limit)
async def checkpoint_evidence(request: Request, source: str, event_id: str) -> dict[str, Any]:
    """The checkpoint note, the root-signed witness policy with its proof, and the event's
    inclusion proof at the checkpoint's size (``witnessed_proof``, null while the event is newer
    than the checkpoint): :func:`checkpoint_for_browser` for one event, for pages that learn the
    event in the browser (the credential check). ``witnessed`` is null without a checkpoint."""
    gateway = gateway_of(request)
    proof = await gateway.ask(
        gateway.names.ledger_proof, {"event_id": checked_event_id(event_id), "source": checked_source(source)}
    )
    item: dict[str, Any] = {"proof": proof}
    witnessed = await checkpoint_for_browser(gateway, [item])
    return {"witnessed": witnessed, "witnessed_proof": item.get("witnessed_proof")}


async def witnessed_summary(gateway: Gateway) -> dict[str, Any]:
    """The newest checkpoint as the portal shows it: size and block, which witnesses cosigned it
    (checked here against the witness policy the ledger names and the orderer keys of genesis),
    the quorum, and the ledger's own head (the cosigned size may lag it)."""
    answer = await gateway.ask(gateway.names.ledger_checkpoint, {})
    policy = answer.get("policy") or {}
    witnesses = [str(w["vkey"]) for w in policy.get("witnesses") or []]
    quorum = int(policy.get("quorum") or 0)
    summary: dict[str, Any] = {
        "origin": answer["origin"],
        "size": answer["size"],
        "height": answer["height"],
        "root": answer["root"],
        "head_size": answer["head_size"],
        "head_height": answer["head_height"],
        "quorum": quorum,
        "witnesses": [w["name"] for w in policy.get("witnesses") or []],
        "cosigned_by": [],
        "verified": False,
        "problem": None,
    }
    log_vkeys = [Ed25519Verifier(str(answer["origin"]), key.raw).vkey for key in gateway.checkpoint_keys]
    try:
        verified = verify_cosigned(str(answer["note"]).encode("utf-8"), log_vkeys, witnesses, quorum)
    except (TransparencyError, ValueError) as exc:
        summary["problem"] = str(exc)
        return summary
    summary["cosigned_by"] = [w.name for w in verified.witnesses]
    checkpoint = verified.checkpoint
    summary["verified"] = checkpoint.size == answer["size"] and checkpoint.root.hex() == answer["root"]
    return summary


async def witnessed_or_none(gateway: Gateway) -> dict[str, Any] | None:
    """:func:`witnessed_summary` for a page: None when there is no checkpoint (yet) or the
    ledger does not answer; the page shows the blocks regardless."""
    try:
        return await witnessed_summary(gateway)
    except HTTPException:
        return None


async def checkpoint_for_browser(gateway: Gateway, proofs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What ``static/checkpoint.js`` needs to check the newest witnessed checkpoint itself: the
    note, the root-signed ``witness.policy_set`` that names its witnesses with its inclusion
    proof at the checkpoint's size, and, in each of ``proofs`` (changed in place) whose event
    the checkpoint covers, ``witnessed_proof``: its inclusion proof at that size. None when
    there is no checkpoint or no policy to check it against (the page says so)."""
    try:
        answer = await gateway.ask(gateway.names.ledger_checkpoint, {})
    except HTTPException:
        return None
    height, policy_height = int(answer["height"]), answer.get("policy_height")
    if not answer.get("policy") or policy_height is None or policy_height > height:
        return None
    setting = [e for e in (await gateway.block(int(policy_height))).events if e.get("type") == ev.WITNESS_POLICY_TYPE]
    if not setting:
        return None
    policy_event = setting[-1]  # the block's last setting is the one in force after it

    async def at_checkpoint(source: str, event_id: str) -> dict[str, Any]:
        proof = await gateway.ask(
            gateway.names.ledger_proof, {"event_id": event_id, "source": source, "at_height": height}
        )
        return {k: proof[k] for k in ("leaf_hash", "leaf_index", "tree_size", "path")}  # names no one

    for item in proofs:
        proof = item["proof"]
        # ``ref``: the event's (source, id) when the page shows the source redacted; never sent.
        source, event_id = item.pop("ref", None) or (proof["source"], proof["event_id"])
        if int(proof["block_height"]) <= height and isinstance(source, str):
            item["witnessed_proof"] = await at_checkpoint(source, str(event_id))
    return {
        "note": answer["note"],
        "size": answer["size"],
        "height": height,
        "policy": {
            "event": policy_event,
            "proof": await at_checkpoint(str(policy_event["source"]), str(policy_event["id"])),
        },
    }
