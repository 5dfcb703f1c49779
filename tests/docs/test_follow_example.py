"""examples/follow_chain.py, run as a downstream system runs it: a separate process with only
nats-py, cryptography and rfc8785 (govchain is shadowed so that it cannot be imported), logged
in as a read-only NATS user, against a chain a real ledger wrote: departments, an official,
single and batch-signed events, and an orderer key rotation. Then fed tampered chains, each
of which must stop it loudly at the tampered height."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import nats
import pytest
from nats.js.api import StreamConfig
from pydantic import SecretStr

from govchain.bus.blocks import follow_blocks, last_height
from govchain.bus.embedded import EmbeddedNats
from govchain.bus.permissions import Deployment, authorization_block, users_for
from govchain.bus.subjects import inbox_prefix
from govchain.client import GovChainClient
from govchain.datadir import DataDir
from govchain.protocol import events as ev
from govchain.protocol.batch import sign_batch
from govchain.protocol.block import seal_block
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.envelope import make_event
from govchain.protocol.genesis import genesis_payload
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import Frontier, leaf_hash
from tests.integration.conftest import Ledger, ledger_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE = EXAMPLES / "follow_chain.py"
FOLLOWER = "follower"
"""The read-only user docs/follow-the-chain.md has an operator make (`govchain nats-config --reader`)."""


@dataclass
class Chain:
    """A chain a real ledger wrote, still served by its NATS server (the ledger has stopped)."""

    url: str
    passwords: dict[str, str]
    genesis_hash: str
    blocks: list[dict[str, Any]]
    orderer_keys: list[SigningKey]
    """Before and after the rotation."""
    at: dict[str, int] = field(default_factory=dict)
    """Heights of the landmarks: ``single``, ``batch``, ``official``, ``rotated`` (the rotation)."""


def write_auth(data: DataDir) -> tuple[str, dict[str, str]]:
    """nats-server ``authorization`` for the platform's users, ``admin`` and ``follower``."""
    users = users_for(Deployment(services=set(genesis_payload(data.genesis()).services), readers={FOLLOWER}))
    passwords = {user.name: secrets.token_urlsafe(16) for user in users} | {"admin": secrets.token_urlsafe(16)}
    hashes = {name: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode() for name, pw in passwords.items()}
    return authorization_block(users, hashes, admin_hash=hashes["admin"]), passwords


Written = tuple[list[dict[str, Any]], SigningKey, dict[str, int]]
"""The blocks, the orderer key after the rotation, the landmarks' heights."""


async def write_chain(url: str, data: DataDir, passwords: dict[str, str]) -> Written:
    settings = ledger_settings(data.root, nats_user="ledger", nats_password=passwords["ledger"])
    nc = await nats.connect(url, user="admin", password=passwords["admin"], inbox_prefix=inbox_prefix("admin"))
    ledger = Ledger(settings, data, url, nc, GovChainClient(nc))
    at: dict[str, int] = {}

    async def committed(event: Any) -> int:
        receipt = await ledger.submit(event)
        assert receipt["status"] == "committed", receipt
        return int(receipt["height"])

    await ledger.start()
    try:
        tax = await ledger.register_department("tax")
        await ledger.register_department("land")
        alice = SigningKey.generate()
        await committed(
            make_event(
                tax,
                source="tax",
                type="official.registered",
                data={
                    "official_id": "tax-alice",
                    "department_id": "tax",
                    "name": "Alice",
                    "public_key": alice.public.hex,
                    "roles": ["registrar"],
                },
            )
        )
        at["official"] = await committed(
            make_event(
                alice,
                source="tax",
                type="document.registered",
                data={
                    "document_id": "by-alice",
                    "sha256": "ab" * 32,
                    "title": "Signed by an official for her department",
                },
            )
        )
        at["single"] = await committed(ledger.document("land", 1))
        receipts = await ledger.client.submit_batch(sign_batch(tax, [ledger.document("tax", n) for n in range(20)]))
        assert {r["status"] for r in receipts} == {"committed"}
        at["batch"] = int(receipts[0]["height"])
        # The orderer key is rotated with no grace: the next block must carry the new key.
        new_orderer = SigningKey.generate()
        at["rotated"] = await committed(
            make_event(
                ledger.root,
                source=ev.ROOT,
                type="key.rotated",
                data={
                    "owner": ev.LEDGER,
                    "old_key_id": data.signing_key("orderer").key_id,
                    "public_key": new_orderer.public.hex,
                    "grace_blocks": 0,
                },
            )
        )
        await ledger.shutdown()
        ledger.settings = settings.model_copy(update={"orderer_key": SecretStr(new_orderer.to_pem().decode())})
        await ledger.start()
        for n in range(2, 5):
            await committed(ledger.document("land", n))
        js = nc.jetstream()
        blocks = [json.loads(raw) async for _, raw in follow_blocks(js, 0, to_height=await last_height(js))]
    finally:
        await ledger.shutdown()
        await nc.drain()
    return blocks, new_orderer, at


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    folder = tmp_path_factory.mktemp("follow")
    data = DataDir(folder / "node")
    genesis_hash = data.init("follow-chain")["genesis_hash"]
    auth, passwords = write_auth(data)
    server = EmbeddedNats(folder / "nats", port=0, extra_config=auth).start()
    try:
        blocks, new_orderer, at = asyncio.run(write_chain(server.url, data, passwords))
        yield Chain(server.url, passwords, genesis_hash, blocks, [data.signing_key("orderer"), new_orderer], at)
    finally:
        server.stop()


def follow(tmp_path: Path, *args: str, user: str | None = None, password: str = "") -> subprocess.CompletedProcess[str]:
    """Run the example as its own process, where ``import govchain`` fails."""
    shadow = tmp_path / "shadow" / "govchain"
    shadow.mkdir(parents=True, exist_ok=True)
    (shadow / "__init__.py").write_text('raise ImportError("the example must not need govchain")\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVCHAIN_")}
    env["PYTHONPATH"] = str(shadow.parent)
    if user:
        env |= {"GOVCHAIN_NATS_USER": user, "GOVCHAIN_NATS_PASSWORD": password}
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        check=False,
    )


def verified_heights(stdout: str) -> list[int]:
    return [int(line.split()[1]) for line in stdout.splitlines() if line.startswith("height ")]


def export(tmp_path: Path, blocks: list[dict[str, Any]], name: str = "blocks.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(block) + "\n" for block in blocks))
    return path


def resealed(
    blocks: list[dict[str, Any]],
    height: int,
    key: SigningKey,
    change: Callable[[list[dict[str, Any]]], None] = lambda events: None,
) -> dict[str, Any]:
    """Block ``height`` with its events changed, then hashed, rooted and signed by ``key`` as an
    orderer would: every check but the one the change breaks still passes."""
    events = json.loads(json.dumps(blocks[height]["events"]))
    change(events)
    log = Frontier()
    for block in blocks[:height]:
        for event in block["events"]:
            log.append(leaf_hash(canonical_bytes(event)))
    leaves = [leaf_hash(canonical_bytes(event)) for event in events]
    for leaf in leaves:
        log.append(leaf)
    header = blocks[height]["header"]
    block: dict[str, Any] = json.loads(
        seal_block(
            chain_id=header["chain_id"],
            height=height,
            prev_hash=header["prev_hash"],
            events=events,
            leaf_hashes=leaves,
            log_after=log,
            time=header["time"],
            orderer_key=key,
        ).to_bytes()
    )
    return block


def position(blocks: list[dict[str, Any]], height: int, event_id: str) -> int:
    return next(i for i, event in enumerate(blocks[height]["events"]) if event["id"] == event_id)


def retitle(blocks: list[dict[str, Any]], height: int, event_id: str) -> Callable[[list[dict[str, Any]]], None]:
    index = position(blocks, height, event_id)
    return lambda events: events[index]["data"].update(title="Altered after signing")


# -- the chain as it is: every block verifies ----------------------------------------------------


def test_a_read_only_user_verifies_every_block_of_a_real_chain(chain: Chain, tmp_path: Path) -> None:
    run = follow(
        tmp_path,
        "--nats-url",
        chain.url,
        "--genesis-hash",
        chain.genesis_hash,
        user=FOLLOWER,
        password=chain.passwords[FOLLOWER],
    )

    assert run.returncode == 0, run.stderr
    assert verified_heights(run.stdout) == list(range(len(chain.blocks)))
    hashes = [line.split()[2] for line in run.stdout.splitlines()]
    assert hashes == [block["hash"] for block in chain.blocks]
    assert f"verified up to height {len(chain.blocks) - 1}" in run.stderr
    # The chain holds what the example must handle: batch proofs and an orderer key rotation.
    assert any("batchproof" in event for event in chain.blocks[chain.at["batch"]]["events"])
    orderers = {block["header"]["orderer"] for block in chain.blocks}
    assert orderers == {key.key_id for key in chain.orderer_keys}
    assert len(chain.blocks) > chain.at["rotated"] + 1


def test_it_resumes_from_its_checkpoint_by_direct_get(chain: Chain, tmp_path: Path) -> None:
    state = tmp_path / "follow.json"
    first = chain.at["batch"]
    early = follow(tmp_path, "--file", str(export(tmp_path, chain.blocks[: first + 1])), "--state", str(state))
    assert early.returncode == 0, early.stderr
    assert verified_heights(early.stdout) == list(range(first + 1))

    later = follow(
        tmp_path,
        "--nats-url",
        chain.url,
        "--state",
        str(state),
        user=FOLLOWER,
        password=chain.passwords[FOLLOWER],
    )

    assert later.returncode == 0, later.stderr
    assert verified_heights(later.stdout) == list(range(first + 1, len(chain.blocks)))


def test_a_wrong_password_is_a_read_error_not_a_verdict(chain: Chain, tmp_path: Path) -> None:
    run = follow(tmp_path, "--nats-url", chain.url, user=FOLLOWER, password="not-the-password")
    assert run.returncode == 2
    assert "FAILED" not in run.stderr and "cannot read blocks" in run.stderr


# -- tampered chains: the first bad block stops it, named by its height ---------------------------

Tamper = Callable[[Chain], tuple[list[dict[str, Any]], int]]


def header_altered(chain: Chain) -> tuple[list[dict[str, Any]], int]:
    blocks, height = list(chain.blocks), chain.at["single"]
    blocks[height] = {**blocks[height], "header": {**blocks[height]["header"], "time": "2030-01-01T00:00:00Z"}}
    return blocks, height


def event_altered(chain: Chain) -> tuple[list[dict[str, Any]], int]:
    blocks, height = list(chain.blocks), chain.at["single"]
    blocks[height] = json.loads(json.dumps(blocks[height]))
    next(e for e in blocks[height]["events"] if e["source"] == "land")["data"]["title"] = "Altered after signing"
    return blocks, height


def event_forged_by_the_orderer(chain: Chain) -> tuple[list[dict[str, Any]], int]:
    blocks, height = list(chain.blocks), chain.at["single"]
    event_id = next(e["id"] for e in blocks[height]["events"] if e["source"] == "land")
    blocks[height] = resealed(blocks, height, chain.orderer_keys[0], retitle(blocks, height, event_id))
    return blocks, height


def batch_event_forged_by_the_orderer(chain: Chain) -> tuple[list[dict[str, Any]], int]:
    blocks, height = list(chain.blocks), chain.at["batch"]
    event_id = [e["id"] for e in blocks[height]["events"] if "batchproof" in e][7]  # a path with both sides
    blocks[height] = resealed(blocks, height, chain.orderer_keys[0], retitle(blocks, height, event_id))
    return blocks, height


def official_acting_for_another_department(chain: Chain) -> tuple[list[dict[str, Any]], int]:
    blocks, height = list(chain.blocks), chain.at["official"]
    index = position(blocks, height, next(e["id"] for e in blocks[height]["events"] if e["source"] == "tax"))
    blocks[height] = resealed(blocks, height, chain.orderer_keys[0], lambda events: events[index].update(source="land"))
    return blocks, height


def signed_by_the_rotated_out_orderer_key(chain: Chain) -> tuple[list[dict[str, Any]], int]:
    blocks, height = list(chain.blocks), chain.at["rotated"] + 1
    blocks[height] = resealed(blocks, height, chain.orderer_keys[0])
    return blocks, height


def signed_by_a_stranger(chain: Chain) -> tuple[list[dict[str, Any]], int]:
    blocks, height = list(chain.blocks), chain.at["single"]
    blocks[height] = resealed(blocks, height, SigningKey.generate())
    return blocks, height


def block_left_out(chain: Chain) -> tuple[list[dict[str, Any]], int]:
    blocks, height = list(chain.blocks), chain.at["batch"]
    del blocks[height]
    return blocks, height


TAMPERINGS: dict[str, tuple[Tamper, str]] = {
    "header altered": (header_altered, "header hash does not match"),
    "event altered": (event_altered, "events Merkle root"),
    "event forged, block re-signed by the orderer": (event_forged_by_the_orderer, "signature does not verify"),
    "batch event forged, block re-signed": (batch_event_forged_by_the_orderer, "signature does not verify"),
    "official's event moved to another department": (official_acting_for_another_department, "does not act for land"),
    "signed by the rotated-out orderer key": (signed_by_the_rotated_out_orderer_key, "rotated-out orderer key"),
    "signed by a key that is no orderer's": (signed_by_a_stranger, "which is no orderer key"),
    "a block left out": (block_left_out, "claims height"),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_a_tampered_block_stops_it_loudly_at_its_height(chain: Chain, tmp_path: Path, name: str) -> None:
    tamper, reason = TAMPERINGS[name]
    blocks, height = tamper(chain)

    run = follow(tmp_path, "--file", str(export(tmp_path, blocks)), "--genesis-hash", chain.genesis_hash)

    assert run.returncode == 1, (run.stdout, run.stderr)
    assert f"FAILED at height {height}:" in run.stderr and reason in run.stderr, run.stderr
    assert verified_heights(run.stdout) == list(range(height)), "every block before it verified, none after"


def test_a_genesis_other_than_the_pinned_one_stops_it_at_height_0(chain: Chain, tmp_path: Path) -> None:
    run = follow(tmp_path, "--file", str(export(tmp_path, chain.blocks)), "--genesis-hash", "f" * 64)
    assert run.returncode == 1
    assert "FAILED at height 0: genesis hash" in run.stderr and not run.stdout


def test_a_block_with_a_repeated_json_key_stops_it(chain: Chain, tmp_path: Path) -> None:
    height = chain.at["single"]
    lines = [json.dumps(block) for block in chain.blocks]
    lines[height] = lines[height].replace('{"header": {', '{"header": {"height": 0, ', 1)
    path = tmp_path / "blocks.jsonl"
    path.write_text("\n".join(lines) + "\n")

    run = follow(tmp_path, "--file", str(path))

    assert run.returncode == 1
    assert f"FAILED at height {height}: duplicate JSON key" in run.stderr


async def test_a_forged_block_on_a_stream_stops_it(chain: Chain, tmp_path: Path) -> None:
    """The same verdict over NATS: the forged chain published to a copy stream (BLOCKS itself
    refuses any message but the orderer's next one), read by direct get."""
    blocks, height = event_forged_by_the_orderer(chain)
    nc = await nats.connect(
        chain.url, user="admin", password=chain.passwords["admin"], inbox_prefix=inbox_prefix("admin")
    )
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="FORGED", subjects=["forged.blocks"], allow_direct=True))
        for block in blocks:
            await js.publish("forged.blocks", json.dumps(block).encode(), stream="FORGED")
    finally:
        await nc.drain()

    run = await asyncio.to_thread(
        follow, tmp_path, "--nats-url", chain.url, "--stream", "FORGED", user="admin", password=chain.passwords["admin"]
    )

    assert run.returncode == 1
    assert f"FAILED at height {height}:" in run.stderr and "signature does not verify" in run.stderr
    assert verified_heights(run.stdout) == list(range(height))


# -- the example stands alone -----------------------------------------------------------------------


def imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            if name in ("__import__", "import_module"):
                modules |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return modules


def test_no_example_imports_govchain() -> None:
    sources = sorted(EXAMPLES.rglob("*.py"))
    assert EXAMPLE in sources
    for path in sources:
        found = {m for m in imported_modules(path.read_text()) if m.split(".")[0] == "govchain"}
        assert not found, f"{path.name} imports {found}: examples use the protocol, not the kernel"
    assert imported_modules(EXAMPLE.read_text()) >= {"nats", "rfc8785"}
