"""A stock witness cosigns a gm chain: the ledger of a ``--crypto gm`` chain publishes, beside its
SM3 checkpoints, checkpoints of the RFC 6962 SHA-256 tree over the same leaves (origin
``<origin>/sha256``), and a witness that knows only SHA-256 trees (GovChain's witness service in
its default mode, as any C2SP witness) cosigns them after checking the ledger's consistency
proofs. Roots and proofs are checked again here with hashlib-only code (``tlog_client``), the
notes with ``independent_note``, and the whole chain with ``govchain.audit.verify_chain``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from govchain.audit import verify_chain
from govchain.bus import subjects
from govchain.bus.connect import connect
from govchain.bus.embedded import EmbeddedNats
from govchain.client import GovChainClient, LedgerQueryError
from govchain.config import Settings
from govchain.crypto import GM
from govchain.datadir import DataDir
from govchain.protocol import events as ev
from govchain.protocol.batch import sign_batch
from govchain.protocol.block import Block
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.services.ledger.service import run_ledger
from govchain.services.platform import LocalWitness
from govchain.transparency.checkpoint import LogCheckpoint, sha256_tree_origin, sign_checkpoint
from govchain.transparency.policy import verify_cosigned
from govchain.transparency.vkeys import Ed25519Signer

from ..transparency import independent_note, tlog_client

pytestmark = pytest.mark.skipif(not GM.available, reason="the gm profile needs gmssl-pyx (x86-64 wheels only)")

CHAIN = "gm-witnessed"
ORIGIN = ev.default_log_origin(CHAIN)
SHA256_ORIGIN = sha256_tree_origin(ORIGIN)


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash over the leaf bytes (tlog_client: hashlib only)."""
    if len(leaves) == 1:
        return tlog_client.leaf(leaves[0])
    k = tlog_client.split_point(len(leaves))
    return tlog_client.node(mth(leaves[:k]), mth(leaves[k:]))


async def checkpoint_of(client: GovChainClient, tree: str, size: int, cosigners: int) -> dict[str, Any]:
    deadline = time.monotonic() + 40
    while True:
        try:
            record = await client.checkpoint(tree=tree)
        except LedgerQueryError:  # none published yet
            record = None
        if record is not None and record["size"] >= size and len(record["cosigners"]) >= cosigners:
            return record
        assert time.monotonic() < deadline, f"no {tree} checkpoint of size {size} with {cosigners} cosigners"
        await asyncio.sleep(0.1)


async def verify_witnessed(*args: str) -> dict[str, Any]:
    """`govchain verify` (with ``args``) in its own process; its JSON summary."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "govchain.services.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout, done.stderr
    return dict(json.loads(done.stdout))


async def test_a_sha256_witness_cosigns_a_gm_chain(tmp_path: Path, nats_server: EmbeddedNats) -> None:
    data = DataDir(tmp_path / "node")
    data.init(CHAIN, crypto="gm")
    checkpoint_key = data.checkpoint_key()  # Ed25519; the chain's own keys are SM2
    log_vkey = Ed25519Signer(SHA256_ORIGIN, checkpoint_key).verifier.vkey
    witness = LocalWitness(tmp_path / "witness", "court.example/w", [log_vkey])  # tree: SHA-256 (stock)
    await witness.start()
    settings = Settings(
        data_dir=data.root, batch_max_wait_ms=20, checkpoint_interval_ms=100, witness_timeout_s=2.0, ack_wait_s=5.0
    )
    stop, ready = asyncio.Event(), asyncio.Event()
    ledger = asyncio.create_task(run_ledger(settings, nats_server.url, stop, ready))
    nc = await connect(nats_server.url, name="sha256-witnessing-test")
    try:
        await asyncio.wait_for(ready.wait(), 60)
        client = GovChainClient(nc)
        root = data.signing_key("root")
        named = {"name": witness.name, "vkey": witness.vkey, "url": witness.url}
        policy = {"witnesses": [], "quorum": 0, "sha256": {"witnesses": [named], "quorum": 1}}
        assert (await client.submit(make_event(root, source=ev.ROOT, type=ev.WITNESS_POLICY_TYPE, data=policy)))[
            "status"
        ] == "committed"
        tax = SigningKey.generate(GM)
        registered = make_event(
            root,
            source=ev.ROOT,
            type="department.registered",
            data={"department_id": "tax", "name": "Tax", "public_key": tax.public.hex},
        )
        assert (await client.submit(registered))["status"] == "committed"

        async def documents(first: int, count: int) -> None:
            events = [
                make_event(
                    tax,
                    source="tax",
                    type="document.registered",
                    data={"document_id": f"d-{n}", "sha256": f"{n:064x}", "title": f"Record {n}"},
                )
                for n in range(first, first + count)
            ]
            receipts = await client.submit_batch(sign_batch(tax, events), 60)
            assert {r["status"] for r in receipts} == {"committed"}

        await documents(0, 5)
        first = await checkpoint_of(client, "sha256", int((await client.head())["header"]["log_size"]), 1)
        await documents(5, 20)  # the witness now needs a SHA-256 consistency proof from ``first``
        head = await client.head()
        second = await checkpoint_of(client, "sha256", int(head["header"]["log_size"]), 1)

        js = nc.jetstream()
        blocks = [
            Block.from_bytes((await js.get_msg(subjects.BLOCKS_STREAM, h + 1, direct=True)).data)
            for h in range(head["header"]["height"] + 1)
        ]
        leaves = [canonical_bytes(event) for block in blocks for event in block.events]
        for record in (first, second):
            size, height = record["size"], record["height"]
            assert record["origin"] == SHA256_ORIGIN and record["cosigners"] == [witness.name]
            assert bytes.fromhex(record["root"]) == mth(leaves[:size])
            assert blocks[height].header.log_root_sha256 == record["root"]  # bound to the SM2-signed header
            note = record["note"].encode()
            assert independent_note.read_checkpoint(independent_note.verify_log_signature(note, log_vkey))[:3] == (
                SHA256_ORIGIN,
                size,
                mth(leaves[:size]),
            )
            independent_note.verify_cosignature(note, witness.vkey)
            verify_cosigned(note, log_vkey, [witness.vkey], 1)
        proof = await client.consistency_proof(first["height"], second["height"], tree="sha256")
        assert tlog_client.consistent(
            first["size"],
            second["size"],
            bytes.fromhex(first["root"]),
            bytes.fromhex(second["root"]),
            [bytes.fromhex(h) for h in proof["path"]],
        )

        # The SM3 checkpoints go on as before (no witnesses named for them here), and the chain,
        # SHA-256 roots included, verifies.
        own = await client.checkpoint()
        assert own["origin"] == ORIGIN and own["root"] == blocks[own["height"]].header.log_root != second["root"]
        report = await verify_chain(js)
        assert report.ok, report

        # `govchain verify --witnessed` judges the SHA-256 checkpoint: signed under <origin>/sha256,
        # cosigned by the policy's sha256 witness, its root the verified one. The policy names no
        # witness for the SM3 checkpoints: the chain is witnessed through its SHA-256 tree alone.
        args = ("verify", "--witnessed", "--json", "--data", str(data.root), "--nats-url", nats_server.url)
        honest = await verify_witnessed(*args)
        assert honest["ok"] is True and honest["crypto"] == "gm", honest
        assert honest["witnessed_sha256"]["ok"] is True
        assert honest["witnessed_sha256"]["cosigners"] == [witness.name]
        assert honest["witnessed_sha256"]["origin"] == SHA256_ORIGIN
        assert "witnessed" not in honest  # no SM3 witness named: nothing to judge there

        # The operator replaces it with a fork its key signed (same size, another last leaf):
        # the verified chain's SHA-256 root says otherwise, and no witness of the policy cosigned.
        size = second["size"]
        forked = mth([*leaves[: size - 1], b"a rewritten event"])
        note = sign_checkpoint(
            LogCheckpoint(SHA256_ORIGIN, size, forked), [Ed25519Signer(SHA256_ORIGIN, checkpoint_key)]
        )
        forged = {**second, "note": note.decode(), "root": forked.hex(), "cosigners": []}
        await js.publish(
            subjects.SHA256_CHECKPOINTS_SUBJECT, json.dumps(forged).encode(), stream=subjects.CHECKPOINTS_STREAM
        )
        assert (await client.checkpoint(tree="sha256"))["root"] == forked.hex()
        judged = await verify_witnessed(*args)
        caught = judged["witnessed_sha256"]
        assert judged["ok"] is False and caught["ok"] is False
        assert "INCONSISTENT" in caught["problems"][0] and "fork" in caught["problems"][0]
        assert "only 0 of the 1 witness cosignatures" in caught["problems"][1]
    finally:
        await nc.drain()
        stop.set()
        await asyncio.wait_for(asyncio.gather(ledger, return_exceptions=True), 60)
        await witness.stop()
