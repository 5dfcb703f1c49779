"""Several chains on one NATS server: each with its own streams, subjects, orderer and lease,
so that one chain's events, blocks, refusals and questions never reach another."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nats
import pytest

from govchain.audit import verify_chain
from govchain.bus.connect import connect
from govchain.bus.credentials import read_credentials, write_nats_auth
from govchain.bus.embedded import EmbeddedNats
from govchain.bus.permissions import Deployment
from govchain.bus.streams import ensure_streams
from govchain.bus.subjects import DEFAULT, ChainNames, WrongChain
from govchain.client import GovChainClient, LedgerQueryError
from govchain.datadir import DataDir
from govchain.protocol.block import Block
from govchain.protocol.events import default_log_origin
from govchain.services.identity.service import run_identity
from govchain.transparency.anchor import ANCHOR_KIND
from govchain.transparency.checkpoint import LogCheckpoint
from govchain.transparency.note import parse_note

from .conftest import Ledger, ledger_settings
from .test_nats_permissions import REFUSAL_TIMEOUT_S, as_user, refused


async def start_chain(tmp_path: Path, nats_server: EmbeddedNats, chain_id: str, *, named: bool = True) -> Ledger:
    data = DataDir(tmp_path / chain_id)
    data.init(chain_id)
    names = ChainNames(chain_id) if named else DEFAULT
    settings = ledger_settings(data.root, chain=chain_id if named else None)
    nc = await connect(nats_server.url, name=f"test-{chain_id}")
    ledger = Ledger(settings, data, nats_server.url, nc, GovChainClient(nc, names=names))
    await ledger.start()
    return ledger


async def block_event_bodies(ledger: Ledger) -> list[dict[str, Any]]:
    js = ledger.nc.jetstream()
    names = ledger.client.names
    last = (await js.stream_info(names.blocks_stream)).state.last_seq
    bodies = []
    for seq in range(1, last + 1):
        bodies += Block.from_bytes((await js.get_msg(names.blocks_stream, seq)).data, height_hint=seq - 1).events
    return bodies


async def block_events(ledger: Ledger) -> list[str]:
    """Every event id on the ledger's chain, read from its own BLOCKS stream."""
    return [event["id"] for event in await block_event_bodies(ledger)]


def test_the_names_carry_the_chain_id_and_the_default_chain_keeps_its_own() -> None:
    east = ChainNames("east")
    assert (east.events_stream, east.blocks_stream, east.checkpoints_stream) == (
        "EVENTS_east",
        "BLOCKS_east",
        "CHECKPOINTS_east",
    )
    assert east.event_subject("tax", "document.registered") == "gov-east.events.tax.document.registered"
    assert east.ledger_proof == "gov-east.ledger.proof"
    assert east.localized(DEFAULT.registry_parcel) == "gov-east.registry.parcel"
    assert (DEFAULT.events_stream, DEFAULT.events_subjects, DEFAULT.ledger_proof) == (
        "EVENTS",
        "gov.events.>",
        "gov.ledger.proof",
    )
    assert DEFAULT.orderer_lease != east.orderer_lease
    for bad in ("East", "a.b", "a b", "*", ">", "", "x" * 65):
        with pytest.raises(ValueError):
            ChainNames(bad)


async def test_two_chains_and_the_default_share_one_server_and_never_mix(
    tmp_path: Path, nats_server: EmbeddedNats
) -> None:
    chains = [
        await start_chain(tmp_path, nats_server, "east"),
        await start_chain(tmp_path, nats_server, "west"),
        await start_chain(tmp_path, nats_server, "legacy", named=False),
    ]
    try:
        for ledger in chains:
            await ledger.register_department("tax")
        first = {}
        for n in range(5):
            for ledger in chains:
                document = ledger.document("tax", n)
                first.setdefault(ledger.client.names, document.id)
                receipt = await ledger.submit(document)
                assert receipt["status"] == "committed", receipt
        # Each chain proves its own events and knows nothing of the others'.
        for ledger in chains:
            proof = await ledger.client.inclusion_proof(first[ledger.client.names], source="tax")
            assert proof["leaf_index"] == 2, proof
            for other in chains:
                if other is not ledger:
                    with pytest.raises(LedgerQueryError, match="not on chain"):
                        await other.client.inclusion_proof(first[ledger.client.names], source="tax")
        streams = {info.config.name for info in await chains[0].nc.jetstream().streams_info()}
        assert {"EVENTS", "BLOCKS", "EVENTS_east", "BLOCKS_east", "EVENTS_west", "BLOCKS_west"} <= streams
        for ledger in chains:
            ids = await block_events(ledger)
            genesis_id = ids[0]
            assert genesis_id == f"genesis-{ledger.data.genesis().data['chain_id']}"
            assert len(ids) == 1 + 1 + 5  # genesis, the department, five documents: nobody else's
            report = await verify_chain(ledger.nc.jetstream(), names=ledger.client.names)
            assert report.ok and report.events == 7, report
        # A forged event of east sent on west is refused there, and recorded on west alone.
        east, west = chains[0], chains[1]
        stranger = east.document("tax", 99)
        refused = await west.submit(stranger)
        assert refused["status"] == "rejected" and refused["reason"] == "unknown_key", refused
        assert (await east.client.receipt(stranger.id, "tax"))["status"] == "pending"
    finally:
        for ledger in chains:
            await ledger.shutdown()
            await ledger.nc.drain()


async def test_services_refuse_names_of_another_chain(tmp_path: Path, nats_server: EmbeddedNats) -> None:
    """A process told to serve chain west with east's genesis stops before it touches a stream:
    it would write (the orderer) or read (a projection) one chain's blocks as another's."""
    data = DataDir(tmp_path / "east")
    data.init("east")
    wrong = ledger_settings(data.root, chain="west")
    ledger = Ledger(wrong, data, nats_server.url, None, None)  # type: ignore[arg-type]
    with pytest.raises(WrongChain, match="genesis is chain 'east'"):
        await ledger.start()
    with pytest.raises(WrongChain, match="genesis is chain 'east'"):
        await run_identity(wrong, nats_server.url, asyncio.Event())
    nc = await connect(nats_server.url, name="test-check")
    try:
        assert "EVENTS_west" not in {info.config.name for info in await nc.jetstream().streams_info()}
    finally:
        await nc.drain()


async def test_each_chains_nats_users_reach_only_their_own_chain(tmp_path: Path) -> None:
    """``govchain nats-config`` per chain into one folder: one auth.conf with both chains' users
    (``tax@east``, ``tax@west``), and NATS itself keeps each to its own chain's subjects and streams."""
    auth = tmp_path / "auth"
    for chain in ("east", "west"):
        deployment = Deployment(services={"registry", "gateway"}, departments={"tax"}, readers={"archive"})
        write_nats_auth(auth, deployment, ChainNames(chain))
    east, west = ChainNames("east"), ChainNames("west")
    server = EmbeddedNats(tmp_path / "nats", port=0, extra_config=(auth / "auth.conf").read_text()).start()
    errors: list[str] = []
    try:
        admin_name, admin_password = read_credentials(auth, "admin")
        admin = await nats.connect(server.url, user=admin_name, password=admin_password)
        for names in (east, west):
            await ensure_streams(admin.jetstream(), names=names)
        tax = await as_user(server.url, auth, east.user("tax"), errors)
        archive = await as_user(server.url, auth, east.user("archive"), errors)
        try:
            ack = await tax.jetstream().publish(east.event_subject("tax", "document.registered"), b"{}")
            assert ack.stream == "EVENTS_east"
            foreign = west.event_subject("tax", "document.registered")
            await refused(errors, foreign, tax.jetstream().publish(foreign, b"{}", timeout=REFUSAL_TIMEOUT_S))
            assert (await archive.jetstream().stream_info(east.blocks_stream)).config.name == "BLOCKS_east"
            west_blocks = f"$JS.API.STREAM.INFO.{west.blocks_stream}"
            await refused(errors, west_blocks, archive.request(west_blocks, b"", timeout=REFUSAL_TIMEOUT_S))
            await refused(errors, west.ledger_head, archive.request(west.ledger_head, b"{}", timeout=REFUSAL_TIMEOUT_S))
        finally:
            await tax.drain()
            await archive.drain()
            await admin.drain()
    finally:
        server.stop()


async def test_a_chain_anchors_anothers_witnessed_checkpoint(tmp_path: Path, nats_server: EmbeddedNats) -> None:
    """`govchain log anchor --from east` on west: east's newest checkpoint note, hashed, becomes a
    document of west's tax department, in west's blocks, and east's stream still holds that note."""
    east = await start_chain(tmp_path, nats_server, "east")
    west = await start_chain(tmp_path, nats_server, "west")
    try:
        await east.register_department("tax")
        assert (await east.submit(east.document("tax", 1)))["status"] == "committed"
        west_tax = await west.register_department("tax")
        west_tax.save(tmp_path / "west-tax.pem")
        note = await _checkpoint_note(east, size=3)  # genesis, the department, the document
        command = [sys.executable, "-m", "govchain.services.cli", "log", "anchor", "--from", "east"]
        command += ["--key", str(tmp_path / "west-tax.pem"), "--source", "tax", "--json"]
        command += ["--data", str(west.data.root), "--nats-url", nats_server.url]
        done = await asyncio.to_thread(
            subprocess.run,
            command,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "GOVCHAIN_CHAIN": "west"},
        )
        assert done.returncode == 0, done.stderr
        receipt = json.loads(done.stdout)
        assert receipt["status"] == "committed" and receipt["anchored"]["size"] >= 3, receipt
        anchored = receipt["anchored"]["note"].encode()
        assert LogCheckpoint.parse(parse_note(anchored).text).origin == default_log_origin("east")
        documents = [e for e in await block_event_bodies(west) if e["type"] == "document.registered"]
        assert [d["data"]["sha256"] for d in documents] == [hashlib.sha256(anchored).hexdigest()]
        assert documents[0]["data"]["kind"] == ANCHOR_KIND and documents[0]["source"] == "tax"
        if receipt["anchored"]["size"] == 3:
            assert anchored == note
    finally:
        for ledger in (east, west):
            await ledger.shutdown()
            await ledger.nc.drain()


async def _checkpoint_note(ledger: Ledger, *, size: int, timeout: float = 20.0) -> bytes:
    """The ledger's published checkpoint note once it covers ``size`` events."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with contextlib.suppress(LedgerQueryError):
            record = await ledger.client.checkpoint()
            if record["size"] >= size:
                return str(record["note"]).encode()
        assert asyncio.get_running_loop().time() < deadline, "no checkpoint published in time"
        await asyncio.sleep(0.2)
