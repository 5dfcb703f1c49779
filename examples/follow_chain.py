#!/usr/bin/env python3
"""Follow a GovChain block stream and verify every block, with nats-py, cryptography and
rfc8785 only: the protocol as a downstream system sees it (docs/follow-the-chain.md).

    set -a; . reader.env; set +a     # GOVCHAIN_NATS_USER / GOVCHAIN_NATS_PASSWORD, if NATS wants them
    python follow_chain.py --nats-url nats://host:4222 --genesis-hash <the pinned hash> --state follow.json
    python follow_chain.py --file blocks.jsonl   # an exported chain: one block message per line

Per block it checks the header hash, the link to the block before, the events' Merkle root,
the log root, the orderer's Ed25519 signature (orderer keys from genesis and key events) and
every event's signature or batch proof against the keys on chain. It prints one line per block
and exits 0 at the head; at the first failure it names the height, says why and exits 1 (2:
it could not read). It does not re-judge events (payload schemas, the publishing policy, event
times, repeated ids): `govchain verify` does. ``--state`` keeps a checkpoint (height, hash, log
frontier, keys), so a restart resumes after the last verified block, never from "now".
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import nats
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError

ZERO_HASH = "0" * 64
HEADER_FIELDS = {
    "version",
    "chain_id",
    "height",
    "prev_hash",
    "events_root",
    "log_root",
    "log_size",
    "event_count",
    "time",
    "orderer",
}
ORDERER, ROOT = "ledger", "root"  # the principals that own orderer keys and root authority keys
BATCH_CONTEXT = "govchain.event_batch.v1"


class Broken(Exception):
    """The block being checked does not verify: stop here, apply nothing of it."""


# -- canonical bytes and RFC 9162 hashing ---------------------------------------------------


def jcs(value: Any) -> bytes:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:  # a number beyond 2**53, NaN, a lone surrogate
        raise Broken(f"value has no RFC 8785 form: {exc}") from None


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(data: bytes) -> bytes:
    return sha256(b"\x00" + data)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH: pair level by level; an odd node moves up unchanged."""
    if not leaves:
        return sha256(b"")
    level = leaves
    while len(level) > 1:
        parents = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = parents + level[-1:] if len(level) % 2 else parents
    return level[0]


def log_append(size: int, frontier: list[bytes], leaf: bytes) -> int:
    """Add a leaf to the log's frontier (roots of its perfect subtrees, largest first)."""
    node, index = leaf, size
    while index & 1:
        node, index = node_hash(frontier.pop(), node), index >> 1
    frontier.append(node)
    return size + 1


def log_root(frontier: list[bytes]) -> bytes:
    root = frontier[-1] if frontier else sha256(b"")
    for left in reversed(frontier[:-1]):
        root = node_hash(left, root)
    return root


def root_from_path(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2: the root an inclusion path leads to (None if it is malformed)."""
    if not 0 <= index < size:
        return None
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            node = node_hash(node, sibling)
        fn, sn = fn >> 1, sn >> 1
    return node if sn == 0 else None


def ed25519_ok(public_hex: str, signature_hex: str, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True


# -- the chain as far as it is verified -------------------------------------------------------


class Follower:
    """The checkpoint after the last verified block: all a restart needs."""

    def __init__(self, pinned_genesis: str | None) -> None:
        self.pinned = pinned_genesis
        self.height, self.hash, self.chain_id = -1, ZERO_HASH, ""
        self.log_size, self.log = 0, list[bytes]()  # the whole event log: size and frontier
        self.keys: dict[str, dict[str, Any]] = {}  # key id -> public_key, owner, valid_until, revoked
        self.department: dict[str, str] = {}  # official -> the department it acts for

    def add_key(self, public_hex: str, owner: str) -> None:
        key_id = sha256(bytes.fromhex(public_hex)).hex()
        self.keys[key_id] = {"public_key": public_hex, "owner": owner, "valid_until": None, "revoked": False}

    @staticmethod
    def usable(key: dict[str, Any], height: int) -> bool:
        """Not revoked, and not past the grace of a rotation."""
        return not key["revoked"] and (key["valid_until"] is None or height <= key["valid_until"])

    def verify(self, block: dict[str, Any]) -> None:
        height, header, events = self.height + 1, block["header"], block["events"]
        if set(header) != HEADER_FIELDS or header["version"] != 1:
            raise Broken(f"unknown header format: {sorted(header)}, version {header.get('version')}")
        if header["height"] != height:
            raise Broken(f"the block claims height {header['height']}")
        if sha256(jcs(header)).hex() != block["hash"]:
            raise Broken("header hash does not match the block hash (header altered)")
        if header["prev_hash"] != self.hash:
            raise Broken("previous-hash link is broken")
        leaves = [leaf_hash(jcs(event)) for event in events]
        if header["event_count"] != len(events) or merkle_root(leaves).hex() != header["events_root"]:
            raise Broken("events Merkle root or count does not match the events (events altered)")
        size, frontier = self.log_size, list(self.log)
        for leaf in leaves:
            size = log_append(size, frontier, leaf)
        if size != header["log_size"] or log_root(frontier).hex() != header["log_root"]:
            raise Broken("log root does not match the log after this block")
        if height == 0:
            self.begin(block)
        elif header["chain_id"] != self.chain_id:
            raise Broken(f"block of chain {header['chain_id']}, expected {self.chain_id}")
        key = self.keys.get(header["orderer"])  # keys as of the chain before this block
        if key is None or key["owner"] != ORDERER:
            raise Broken(f"signed by {header['orderer']}, which is no orderer key")
        if not self.usable(key, height):
            raise Broken(f"signed by {header['orderer']}, a revoked or rotated-out orderer key")
        if not ed25519_ok(key["public_key"], block["signature"], bytes.fromhex(block["hash"])):
            raise Broken("orderer signature does not verify")
        for index, event in enumerate(events):  # each against the keys as of the events before it
            self.check_event(index, event, height)
            self.apply(event, height)
        self.height, self.hash, self.log_size, self.log = height, block["hash"], size, frontier

    def begin(self, block: dict[str, Any]) -> None:
        """Block 0: the trust anchor. Its one event names the first root and orderer keys."""
        if self.pinned and block["hash"] != self.pinned:
            raise Broken(f"genesis hash {block['hash']} is not the pinned {self.pinned}")
        events = block["events"]
        if len(events) != 1 or events[0]["type"] != "chain.genesis" or events[0]["source"] != ROOT:
            raise Broken("the genesis block must hold exactly one chain.genesis event from root")
        genesis = events[0]["data"]
        if genesis.get("crypto_profile", "intl") != "intl":
            raise Broken(f"crypto profile {genesis['crypto_profile']!r}: this example knows SHA-256/Ed25519 only")
        if genesis["chain_id"] != block["header"]["chain_id"]:
            raise Broken("the genesis chain id differs from the header's")
        self.chain_id = genesis["chain_id"]
        for public_hex in genesis["root_keys"]:
            self.add_key(public_hex, ROOT)
        for public_hex in genesis["orderer_keys"]:
            self.add_key(public_hex, ORDERER)
        for service, public_hex in genesis.get("services", {}).items():
            self.add_key(public_hex, service)

    def check_event(self, index: int, event: dict[str, Any], height: int) -> None:
        name = f"event {index} ({event['source']}/{event['id']})"
        signing = jcs({k: v for k, v in event.items() if k not in ("signature", "batchproof")})
        key = self.keys.get(event["signer"])
        if key is None or not self.usable(key, height):
            raise Broken(f"{name}: signer {event['signer']} is no key on chain, or revoked or rotated out")
        if event["source"] not in (key["owner"], self.department.get(key["owner"])):
            raise Broken(f"{name}: the key of {key['owner']} does not act for {event['source']}")
        if ("signature" in event) == ("batchproof" in event):
            raise Broken(f"{name}: needs a signature or a batch proof, exactly one")
        if "signature" in event:
            ok = ed25519_ok(key["public_key"], event["signature"], signing)
        else:  # signed with its batch: a path from the event to the root the department signed
            proof = event["batchproof"]
            path = [bytes.fromhex(node) for node in proof["path"]]
            root = root_from_path(leaf_hash(signing), proof["index"], proof["size"], path)
            message = jcs({"context": BATCH_CONTEXT, "root": root.hex() if root else "", "size": proof["size"]})
            ok = root is not None and ed25519_ok(key["public_key"], proof["signature"], message)
        if not ok:
            raise Broken(f"{name}: signature does not verify")

    def apply(self, event: dict[str, Any], height: int) -> None:
        """The events that add, rotate and revoke keys (payload defaults are protocol too)."""
        kind, data = event["type"], event["data"]
        if kind in ("key.added", "key.rotated", "key.revoked"):  # the keys this follower trusts blocks by
            owner = data["owner"] if "owner" in data else self.keys[data["key_id"]]["owner"]
            if owner == ORDERER and event["source"] not in (ROOT, ORDERER):
                raise Broken(f"{kind} of an orderer key by {event['source']}: only root may do that")
        if kind == "department.registered":
            self.add_key(data["public_key"], data["department_id"])
        elif kind == "service.registered":
            self.add_key(data["public_key"], data["service_id"])
        elif kind == "official.registered":
            self.add_key(data["public_key"], data["official_id"])
            self.department[data["official_id"]] = data["department_id"]
        elif kind == "citizen.enrolled" and data.get("public_key"):
            self.add_key(data["public_key"], data["citizen_id"])
        elif kind == "key.added":
            self.add_key(data["public_key"], data["owner"])
        elif kind == "key.rotated":  # the old key signs on for grace_blocks (default 10)
            self.keys[data["old_key_id"]]["valid_until"] = height + data.get("grace_blocks", 10)
            self.add_key(data["public_key"], data["owner"])
        elif kind == "key.revoked":
            self.keys[data["key_id"]]["revoked"] = True

    def save(self, path: str) -> None:
        state = {**vars(self), "log": [h.hex() for h in self.log]}
        del state["pinned"]
        with open(path + ".tmp", "w") as handle:
            json.dump(state, handle)
        os.replace(path + ".tmp", path)  # atomic: a crash leaves the old checkpoint or the new

    def load(self, path: str) -> None:
        with open(path) as handle:
            state = json.load(handle)
        vars(self).update(state, log=[bytes.fromhex(h) for h in state["log"]])


# -- reading blocks ------------------------------------------------------------------------------


def parse(raw: bytes) -> dict[str, Any]:
    """Strict JSON: duplicate keys would let two readers see two different blocks."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in items}) != len(items):
            raise Broken("duplicate JSON key")
        return dict(items)

    try:  # (NaN and Infinity parse, but have no RFC 8785 form: jcs refuses them)
        block: dict[str, Any] = json.loads(raw, object_pairs_hook=pairs)
        return block
    except ValueError as exc:
        raise Broken(f"not JSON: {exc}") from None


async def from_nats(args: argparse.Namespace, height: int) -> AsyncIterator[bytes]:
    """Direct get by sequence (block h is message h+1): read-only, no consumer on the server."""
    user = os.environ.get("GOVCHAIN_NATS_USER")
    auth = (
        {"user": user, "password": os.environ.get("GOVCHAIN_NATS_PASSWORD", ""), "inbox_prefix": f"_INBOX.{user}"}
        if user
        else {}
    )  # readers may listen on their own inbox only
    nc = await nats.connect(args.nats_url, max_reconnect_attempts=-1 if args.follow else 3, **auth)
    js, seq, last = nc.jetstream(), height + 1, 0
    try:
        while True:
            if seq > last:  # at the head as last seen: ask the stream where its head is now
                last = (await js.stream_info(args.stream)).state.last_seq
                if seq > last:
                    if not args.follow:
                        return
                    await asyncio.sleep(0.5)
                    continue
            try:
                message = await js.get_msg(args.stream, seq=seq, direct=True)
            except NotFoundError:  # BLOCKS refuses deletes: a gap means tampering below NATS
                raise Broken(f"stream {args.stream} has no message {seq} though it holds {last}") from None
            yield message.data or b""
            seq += 1
    finally:
        await nc.close()


async def from_file(path: str) -> AsyncIterator[bytes]:
    with open(path, "rb") as lines:
        for line in lines:
            if line.strip():
                yield line


async def follow(args: argparse.Namespace) -> int:
    chain = Follower(args.genesis_hash)
    if args.state and os.path.exists(args.state):
        chain.load(args.state)
    source = from_file(args.file) if args.file else from_nats(args, chain.height + 1)
    try:
        async for raw in source:
            try:
                block = parse(raw)
                if args.file and block["header"]["height"] <= chain.height:
                    continue  # verified in an earlier run (--state)
                chain.verify(block)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
                raise Broken(f"malformed block: {type(exc).__name__} {exc}") from None
            header = block["header"]
            print(
                f"height {chain.height}  {chain.hash}  events {header['event_count']}  "
                f"log {header['log_size']}  {header['time']}",
                flush=True,
            )
            if args.state:
                chain.save(args.state)
    except Broken as exc:
        print(f"FAILED at height {chain.height + 1}: {exc}", file=sys.stderr)
        return 1
    except (OSError, TimeoutError, NatsError) as exc:  # not a verdict on the chain
        print(f"cannot read blocks after height {chain.height}: {type(exc).__name__} {exc}", file=sys.stderr)
        return 2
    if chain.height >= 0 and not chain.pinned:
        print("note: genesis trusted on first use; pin its hash with --genesis-hash", file=sys.stderr)
    print(f"verified up to height {chain.height}", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nats-url", default=os.environ.get("GOVCHAIN_NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("--stream", default="BLOCKS")
    parser.add_argument("--genesis-hash", default=os.environ.get("GOVCHAIN_GENESIS_HASH"))
    parser.add_argument("--file", help="read block messages from this file, one per line, instead of NATS")
    parser.add_argument("--state", help="checkpoint file: resume after the last verified block")
    parser.add_argument("--follow", action="store_true", help="at the head, wait for new blocks")
    return asyncio.run(follow(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
