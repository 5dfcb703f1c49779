"""Witnessed checkpoints on a running platform: two witnesses (the real witness service, each
with its own key and state) named by a root-signed policy, the ledger gathering their
cosignatures, the gateway serving the checkpoint and the tiles, and a forked history caught.

What is checked with code that is not GovChain's: the checkpoint note with
``tests/transparency/independent_note.py`` (c2sp.org/signed-note and tlog-cosignature from the
spec text), the tiles with ``tests/transparency/tlog_client.py`` (tlog-tiles and RFC 9162's
recursive definitions).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from nats.aio.client import Client

from govchain.bus import subjects
from govchain.bus.connect import connect
from govchain.bus.embedded import EmbeddedNats
from govchain.client import GovChainClient, LedgerQueryError, log_vkeys, verify_witnessed
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.protocol import events as ev
from govchain.protocol.batch import sign_batch
from govchain.protocol.block import Block
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import MemoryTree, consistency_proof, leaf_hash
from govchain.services.platform import LocalWitness, run_platform
from govchain.transparency.checkpoint import LogCheckpoint, add_signatures, sign_checkpoint
from govchain.transparency.errors import QuorumNotMet
from govchain.transparency.policy import verify_cosigned
from govchain.transparency.vkeys import Ed25519Signer
from govchain.transparency.witness_protocol import format_add_checkpoint, parse_cosignatures

from ..transparency import independent_note, tlog_client

T = TypeVar("T")
CHAIN = "witnessed-chain"
ORIGIN = ev.default_log_origin(CHAIN)
DOCUMENTS = 300
"""With genesis, the policy and the department: 303 leaves, a full level-0 tile and partial ones."""


@dataclass
class Running:
    data: DataDir
    nats_url: str
    nc: Client
    client: GovChainClient
    gateway: str
    witnesses: list[LocalWitness]
    tax: SigningKey

    @property
    def orderer(self) -> SigningKey:
        return self.data.signing_key("orderer")

    @property
    def log_vkey(self) -> str:
        return Ed25519Signer(ORIGIN, self.orderer).verifier.vkey

    async def publish_documents(self, first: int, count: int) -> None:
        events = [
            make_event(
                self.tax,
                source="tax",
                type="document.registered",
                data={"document_id": f"d-{n}", "sha256": f"{n:064x}", "title": f"Record {n}"},
            )
            for n in range(first, first + count)
        ]
        for start in range(0, len(events), 1000):
            receipts = await self.client.submit_batch(sign_batch(self.tax, events[start : start + 1000]), 60)
            assert {r["status"] for r in receipts} == {"committed"}, receipts[:2]

    async def head_size(self) -> int:
        return int((await self.client.head())["header"]["log_size"])

    async def checkpoint_at(self, size: int, cosigners: int = 2, timeout: float = 40) -> dict[str, Any]:
        """The published checkpoint once it covers ``size`` with ``cosigners`` cosignatures."""
        return await until(
            f"a checkpoint of size {size} with {cosigners} cosigners",
            timeout,
            lambda: self._checkpoint_if(size, cosigners),
        )

    async def _checkpoint_if(self, size: int, cosigners: int) -> dict[str, Any] | None:
        try:
            record = await self.client.checkpoint()
        except Exception:  # noqa: BLE001 - none published yet
            return None
        return record if record["size"] >= size and len(record["cosigners"]) >= cosigners else None


async def until(what: str, timeout: float, probe: Callable[[], Awaitable[T | None]]) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        await asyncio.sleep(0.1)


@pytest.fixture
async def running(tmp_path: Path, nats_server: EmbeddedNats) -> AsyncIterator[Running]:
    data = DataDir(tmp_path / "node")
    data.init(CHAIN)
    settings = Settings(
        data_dir=data.root,
        nats_url=nats_server.url,
        gateway_port=0,
        batch_max_wait_ms=20,
        checkpoint_interval_ms=100,
        witness_timeout_s=2.0,
        ack_wait_s=5.0,
    )
    log_vkey = Ed25519Signer(ORIGIN, data.signing_key("orderer")).verifier.vkey
    witnesses = [
        LocalWitness(tmp_path / f"witness-{n}", f"{n}.witness.example/w", [log_vkey]) for n in ("court", "audit")
    ]
    for witness in witnesses:
        await witness.start()
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    platform = asyncio.create_task(run_platform(settings, stop, on_ready=ready.set_result))
    done, _ = await asyncio.wait({platform, ready}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if platform in done:
        platform.result()
    assert ready in done, "the platform did not start"
    nc = await connect(nats_server.url, name="witnessing-test")
    client = GovChainClient(nc)
    policy = make_event(
        data.signing_key("root"),
        source=ev.ROOT,
        type=ev.WITNESS_POLICY_TYPE,
        data={"witnesses": [{"name": w.name, "vkey": w.vkey, "url": w.url} for w in witnesses], "quorum": 2},
    )
    assert (await client.submit(policy))["status"] == "committed"
    tax = SigningKey.generate()
    admitted = await client.submit(
        make_event(
            data.signing_key("root"),
            source=ev.ROOT,
            type="department.registered",
            data={"department_id": "tax", "name": "Tax", "public_key": tax.public.hex},
        )
    )
    assert admitted["status"] == "committed"
    gateway = str((data.run_info() or {})["gateway_url"])
    try:
        yield Running(data, nats_server.url, nc, client, gateway, witnesses, tax)
    finally:
        await nc.drain()
        stop.set()
        await asyncio.wait_for(asyncio.gather(platform, return_exceptions=True), 60)
        for witness in witnesses:
            await witness.stop()


async def blocks(nc: Client, last: int) -> list[Block]:
    js = nc.jetstream()
    found = []
    for height in range(last + 1):
        msg = await js.get_msg(subjects.BLOCKS_STREAM, subjects.block_sequence(height), direct=True)
        found.append(Block.from_bytes(msg.data))
    return found


async def leaves(nc: Client, head_height: int) -> list[bytes]:
    """Every leaf of the log (the signed events' canonical bytes), from the blocks."""
    return [canonical_bytes(event) for block in await blocks(nc, head_height) for event in block.events]


async def govchain(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "govchain.services.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_running_platform_publishes_checkpoints_that_independent_code_verifies(running: Running) -> None:
    first = await running.checkpoint_at(await running.head_size())
    await running.publish_documents(0, DOCUMENTS)
    size = await running.head_size()
    assert size == 3 + DOCUMENTS
    record = await running.checkpoint_at(size)
    assert record["size"] == size and record["head_size"] == size
    note = record["note"].encode("utf-8")

    # The note, read by an implementation of signed-note written from the spec alone:
    text = independent_note.verify_log_signature(note, running.log_vkey)
    origin, checked_size, root, extensions = independent_note.read_checkpoint(text)
    assert (origin, checked_size, root.hex(), extensions) == (ORIGIN, size, record["root"], [])
    stamps = [independent_note.verify_cosignature(note, w.vkey) for w in running.witnesses]
    assert all(abs(stamp - time.time()) < 120 for stamp in stamps)
    assert sorted(record["cosigners"]) == sorted(w.name for w in running.witnesses)

    # The k-of-n rule, with the chain's own policy (verified from the chain) and with explicit keys:
    head = (await running.client.head())["header"]["height"]
    state = await _chain_state(running)
    assert log_vkeys(state) == [running.log_vkey]
    assert sorted(w.name for w in verify_witnessed(note, state).witnesses) == record["cosigners"]
    verified, answer = await running.client.witnessed_checkpoint(
        log_vkeys=running.log_vkey, witness_vkeys=[w.vkey for w in running.witnesses], quorum=2
    )
    assert verified.checkpoint.root.hex() == answer["root"] and len(verified.witnesses) == 2

    # The gateway serves it as it is, never cached:
    async with httpx.AsyncClient(base_url=running.gateway, timeout=30) as http:
        served = await http.get("/log/checkpoint")
        assert served.status_code == 200 and served.headers["cache-control"] == "no-store"
        assert served.headers["content-type"].startswith("text/plain")
        assert served.content == note
        summary = (await http.get("/api/v1/chain/checkpoint")).json()
        assert summary["verified"] is True and sorted(summary["cosigned_by"]) == sorted(record["cosigners"])
        assert summary["quorum"] == 2
        portal = (await http.get("/")).text
        assert 'id="witnessed"' in portal and all(w.name in portal for w in running.witnesses)
        tile = await http.get("/log/tile/0/000")
        assert tile.status_code == 200 and len(tile.content) == 256 * 32
        assert "immutable" in tile.headers["cache-control"] and "public" in tile.headers["cache-control"]
        assert (await http.get("/log/tile/0/001")).status_code == 404  # not in the tree yet (a partial is)
        assert (await http.get("/log/tile/0/x000/000")).status_code == 404  # not the canonical path
        assert (await http.get("/log/tile/entries/000")).status_code == 401  # the events in full: officers only

        # Entries for a signed-in officer (the department itself), as a bundle of the real leaves:
        challenge = (await http.post("/api/v1/auth/challenge")).json()["challenge"]
        session = await http.post(
            "/api/v1/auth/session",
            json={
                "principal": "tax",
                "key_id": running.tax.key_id,
                "challenge": challenge,
                "signature": running.tax.sign(challenge.encode()).hex(),
            },
        )
        assert session.status_code == 200, session.text
        officer = {"Authorization": f"Bearer {session.json()['token']}"}
        bundle = await http.get(f"/log/tile/entries/001.p/{size - 256}", headers=officer)
        assert bundle.status_code == 200 and "private" in bundle.headers["cache-control"]

    all_leaves = await leaves(running.nc, head)
    assert len(all_leaves) == size

    def with_tlog_client() -> None:
        tree = tlog_client.TiledTree(tlog_client.http_fetcher(f"{running.gateway}/log"), size)
        assert tree.root() == root
        for index in (0, 1, 255, 256, size - 1):  # genesis, the policy, a tile edge, the newest
            proof = tree.inclusion_proof(index)
            assert tlog_client.root_from_inclusion(index, size, tlog_client.leaf(all_leaves[index]), proof) == root
        old_size, old_root = first["size"], bytes.fromhex(first["root"])
        assert tlog_client.consistent(old_size, size, old_root, root, tree.consistency_proof(old_size))
        assert not tlog_client.consistent(old_size, size, bytes(32), root, tree.consistency_proof(old_size))
        fetched = set(tree.fetched)
        assert "tile/0/000" in fetched and f"tile/0/001.p/{size - 256}" in fetched and "tile/1/000.p/1" in fetched

    await asyncio.to_thread(with_tlog_client)
    assert tlog_client.TiledTree(lambda _path: bundle.content, size).entries(1) == all_leaves[256:]


async def _chain_state(running: Running) -> Any:
    from govchain.audit import chain_state

    return await chain_state(running.nc.jetstream())


async def test_a_forked_history_is_refused_by_the_witnesses_the_quorum_and_verify(running: Running) -> None:
    await running.publish_documents(0, 20)
    size = await running.head_size()
    record = await running.checkpoint_at(size)
    head = int(record["height"])
    real = await leaves(running.nc, head)
    assert len(real) == size
    signer = Ed25519Signer(ORIGIN, running.orderer)  # whoever holds the orderer key can sign anything

    # Same size, other history: the last event rewritten.
    fork = MemoryTree([leaf_hash(data) for data in real[:-1]] + [leaf_hash(b"a rewritten event")])
    fork_root = fork.root()
    assert fork_root.hex() != record["root"]
    fork_note = sign_checkpoint(LogCheckpoint(ORIGIN, size, fork_root), [signer])
    # Larger, not extending the witnessed tree: three more leaves on the rewritten history.
    for n in range(3):
        fork.append(leaf_hash(b"more %d" % n))
    longer_note = sign_checkpoint(LogCheckpoint(ORIGIN, size + 3, fork.root()), [signer])
    for witness in running.witnesses:
        async with httpx.AsyncClient(base_url=witness.url, timeout=10) as http:
            same = await http.post("/add-checkpoint", content=format_add_checkpoint(size, [], fork_note))
            assert same.status_code == 422 and "forked" in same.text
            longer = await http.post(
                "/add-checkpoint",
                content=format_add_checkpoint(size, consistency_proof(size, size + 3, fork), longer_note),
            )
            assert longer.status_code == 422
            stale = await http.post("/add-checkpoint", content=format_add_checkpoint(0, [], longer_note))
            assert stale.status_code == 409 and stale.text == f"{size}\n"

    # A client requiring the quorum refuses the fork, even with a cosignature from a witness the
    # operator brought along (not in the policy); the honest checkpoint passes.
    stooge = LocalWitness(running.data.root.parent / "stooge", "stooge.example/w", [running.log_vkey])
    await stooge.start()
    try:
        async with httpx.AsyncClient(base_url=stooge.url, timeout=10) as http:
            answer = await http.post("/add-checkpoint", content=format_add_checkpoint(0, [], fork_note))
        assert answer.status_code == 200
    finally:
        await stooge.stop()
    stooged = add_signatures(fork_note, parse_cosignatures(answer.content))
    policy = [w.vkey for w in running.witnesses]
    for note in (fork_note, longer_note, stooged):
        with pytest.raises(QuorumNotMet):
            verify_cosigned(note, running.log_vkey, policy, 2)
    with pytest.raises(QuorumNotMet):
        verify_cosigned(stooged, running.log_vkey, [*policy, stooge.vkey], 2)
    assert len(verify_cosigned(record["note"].encode(), running.log_vkey, policy, 2).witnesses) == 2

    # `govchain verify --witnessed` passes on the honest checkpoint...
    args = ("verify", "--witnessed", "--data", str(running.data.root), "--nats-url", running.nats_url)
    honest = await govchain(*args)
    assert honest.returncode == 0, honest.stdout + honest.stderr
    assert "witnessed checkpoint OK" in honest.stdout and "cosigned by" in honest.stdout

    # ...and fails, naming the inconsistency, once the published checkpoint is the fork (the
    # operator replacing it on the stream, with the one cosignature it could get).
    forged = {**record, "note": stooged.decode(), "root": fork_root.hex(), "cosigners": ["stooge.example/w"]}
    await running.nc.jetstream().publish(
        subjects.CHECKPOINTS_SUBJECT, json.dumps(forged).encode(), stream=subjects.CHECKPOINTS_STREAM
    )
    assert (await running.client.checkpoint())["note"] == stooged.decode()
    caught = await govchain(*args)
    assert caught.returncode == 1, caught.stdout + caught.stderr
    assert "INCONSISTENT" in caught.stdout and "fork" in caught.stdout
    assert "only 0 of the 2 witness cosignatures" in caught.stdout
    as_json = json.loads((await govchain(*args, "--json")).stdout)
    assert as_json["ok"] is False and as_json["witnessed"]["problems"]
    assert "witnessed_sha256" not in as_json  # an intl chain's own tree is its SHA-256 tree

    # `govchain proof --witnessed` refuses to tie a proof to it, too.
    event = f"tax/{(await blocks(running.nc, head))[-1].events[-1]['id']}"
    proof = await govchain(
        "proof", event, "--witnessed", "--data", str(running.data.root), "--nats-url", running.nats_url
    )
    assert proof.returncode == 1 and "INCONSISTENT" in proof.stderr


async def test_proof_against_the_witnessed_checkpoint(running: Running) -> None:
    await running.publish_documents(0, 5)
    size = await running.head_size()
    record = await running.checkpoint_at(size)
    event = f"tax/{(await blocks(running.nc, int(record['height'])))[-1].events[-1]['id']}"
    common = ("--data", str(running.data.root), "--nats-url", running.nats_url)
    result = await govchain("proof", event, "--witnessed", "--json", *common)
    assert result.returncode == 0, result.stdout + result.stderr
    proof = json.loads(result.stdout)
    assert proof["tree_size"] == size and proof["root"] == record["root"]
    assert proof["witnessed"]["ok"] is True and len(proof["witnessed"]["cosigners"]) == 2


async def test_proof_against_witnesses_you_pin_needs_no_replay_and_counts_only_them(running: Running) -> None:
    """A standard tlog client's model: the verifier names the witnesses it trusts and the
    quorum; a cosignature by anyone else does not count."""
    await running.publish_documents(0, 3)
    size = await running.head_size()
    record = await running.checkpoint_at(size)
    event = f"tax/{(await blocks(running.nc, int(record['height'])))[-1].events[-1]['id']}"
    common = ("--data", str(running.data.root), "--nats-url", running.nats_url, "--json")
    court, audit = (w.vkey for w in running.witnesses)
    both = await govchain("proof", event, "--witness", court, "--witness", audit, "--quorum", "2", *common)
    assert both.returncode == 0, both.stdout + both.stderr
    proof = json.loads(both.stdout)
    assert proof["tree_size"] == size and proof["root"] == record["root"]
    assert proof["witnessed"]["ok"] is True and proof["witnessed"]["required"] == 2
    assert sorted(proof["witnessed"]["cosigners"]) == sorted(w.name for w in running.witnesses)

    stranger = LocalWitness(running.data.root.parent / "stranger", "stranger.example/w", [running.log_vkey])
    refused = await govchain("proof", event, "--witness", court, "--witness", stranger.vkey, "--quorum", "2", *common)
    assert refused.returncode == 1 and "only 1 of the 2 cosignatures you require" in refused.stderr
    half = await govchain("proof", event, "--witness", court, *common)
    assert half.returncode == 2 and "--quorum" in half.stderr

    # The same from the SDK, and an event after the checkpoint is not passed off as witnessed:
    source, event_id = event.split("/")
    sdk_proof, verified = await running.client.witnessed_inclusion_proof(
        event_id, source=source, log_vkeys=running.log_vkey, witness_vkeys=[court, audit], quorum=2
    )
    assert sdk_proof["root"] == record["root"] and len(verified.witnesses) == 2
    with pytest.raises(QuorumNotMet):
        await running.client.witnessed_inclusion_proof(
            event_id, source=source, log_vkeys=running.log_vkey, witness_vkeys=[court, stranger.vkey], quorum=2
        )
    await running.witnesses[1].stop()  # the quorum cannot cosign what comes next
    later = make_event(
        running.tax,
        source="tax",
        type="document.registered",
        data={"document_id": "late", "sha256": "f" * 64, "title": "Late"},
    )
    assert (await running.client.submit(later))["status"] == "committed"
    with pytest.raises(LedgerQueryError, match="after the newest witnessed checkpoint") as caught:
        await running.client.witnessed_inclusion_proof(
            later.id, source="tax", log_vkeys=running.log_vkey, witness_vkeys=[court, audit], quorum=2
        )
    assert caught.value.code == "not_witnessed"


async def test_a_witness_down_delays_the_cosigned_size_but_never_ordering(running: Running) -> None:
    await running.publish_documents(0, 5)
    before = await running.checkpoint_at(await running.head_size())
    court, audit = running.witnesses
    await audit.stop()
    started = time.monotonic()
    await running.publish_documents(5, 50)  # ordered while a witness is down
    assert time.monotonic() - started < 30
    size = await running.head_size()
    assert size == before["size"] + 50
    await asyncio.sleep(1.5)  # several checkpoint rounds: the quorum of 2 cannot be met
    lagging = await running.client.checkpoint()
    assert lagging["size"] == before["size"] and lagging["head_size"] == size
    async with httpx.AsyncClient(base_url=running.gateway, timeout=30) as http:
        summary = (await http.get("/api/v1/chain/checkpoint")).json()
    assert summary["size"] == before["size"] and summary["head_size"] == size
    assert court.name in summary["cosigned_by"]

    await audit.start()  # same folder, same port: the witness comes back with its state
    caught_up = await running.checkpoint_at(size, timeout=90)
    assert caught_up["size"] == size and sorted(caught_up["cosigners"]) == sorted([court.name, audit.name])


async def test_the_root_changes_the_policy_with_the_cli(running: Running) -> None:
    court, audit = running.witnesses
    common = ("--data", str(running.data.root), "--nats-url", running.nats_url)
    published = await govchain(
        "witness",
        "policy",
        "--key",
        str(running.data.key_file("root")),
        "--quorum",
        "1",
        "--witness",
        f"{court.name}={court.vkey}@{court.url}",
        "--json",
        *common,
    )
    assert published.returncode == 0, published.stdout + published.stderr
    assert json.loads(published.stdout)["status"] == "committed"
    record = await until("a checkpoint under the new policy", 30, lambda: _under_quorum(running, 1))
    assert record["cosigners"] == [court.name] and [w["name"] for w in record["policy"]["witnesses"]] == [court.name]
    verified = await govchain("verify", "--witnessed", *common)
    assert verified.returncode == 0 and "(1 of 1 required)" in verified.stdout, verified.stdout
    refused = await govchain(
        "witness",
        "policy",
        "--key",
        str(running.data.key_file("tax-none")),
        "--quorum",
        "1",
        "--witness",
        audit.vkey,
        *common,
    )
    assert refused.returncode == 2  # no such key file: a readable error, nothing published


async def _under_quorum(running: Running, quorum: int) -> dict[str, Any] | None:
    record = await running.client.checkpoint()
    return record if (record.get("policy") or {}).get("quorum") == quorum else None
