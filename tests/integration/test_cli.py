"""The ``govchain`` command line, run as a user would, against a platform started by ``govchain up``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govchain.bus.blocks import follow_blocks
from govchain.bus.connect import connect
from govchain.bus.embedded import EmbeddedNats
from govchain.protocol.block import Block
from govchain.protocol.canonical import canonical_bytes

from .cli_platform import GOVCHAIN, govchain_up


def govchain(*args: str, check: bool = True, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*GOVCHAIN, *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"govchain {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other program already listens on (as 4222 often is)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.fixture
def platform(tmp_path: Path, busy_port: int) -> Iterator[Path]:
    """``govchain up`` in a subprocess, its preferred NATS port taken; yields the data folder."""
    data = tmp_path / "node"
    govchain("init", "--data", str(data), "--chain-id", "cli-test")
    env = {**os.environ, "GOVCHAIN_BATCH_MAX_WAIT_MS": "50"}
    with govchain_up(data, busy_port, env, timeout_s=60):
        yield data
    assert not (data / "run.json").exists()


def write_json(path: Path, value: dict[str, Any]) -> Path:
    path.write_text(json.dumps(value))
    return path


def test_a_taken_port_falls_back_to_a_free_one(tmp_path: Path, busy_port: int) -> None:
    with EmbeddedNats(tmp_path / "nats", port=busy_port) as server:
        assert server.port != busy_port
        assert server.running


def test_publish_verify_proof_and_tail_from_the_command_line(platform: Path, tmp_path: Path, busy_port: int) -> None:
    data = str(platform)
    run_info = json.loads((platform / "run.json").read_text())
    assert not run_info["nats_url"].endswith(f":{busy_port}")

    dept_key = tmp_path / "tax.pem"
    key_info = json.loads(govchain("keygen", str(dept_key), "--json").stdout)
    assert oct(dept_key.stat().st_mode & 0o777) == "0o600"

    register = write_json(
        tmp_path / "register.json",
        {
            "source": "root",
            "type": "department.registered",
            "data": {"department_id": "tax", "name": "Tax Bureau", "public_key": key_info["public_key"]},
        },
    )
    receipt = json.loads(
        govchain("publish", str(register), "--key", f"{data}/keys/root.pem", "--data", data, "--json").stdout
    )
    assert receipt["status"] == "committed" and receipt["height"] >= 1

    document = write_json(
        tmp_path / "doc.json",
        {
            "source": "tax",
            "type": "document.registered",
            "id": "tax-doc-1",
            "data": {"document_id": "T-1", "sha256": "ab" * 32, "title": "Tax clearance"},
        },
    )
    receipt = json.loads(govchain("publish", str(document), "--key", str(dept_key), "--data", data, "--json").stdout)
    assert receipt["status"] == "committed"

    reused = govchain(
        "publish",
        str(
            write_json(
                tmp_path / "reuse.json",
                {
                    "source": "tax",
                    "type": "document.registered",
                    "id": "tax-doc-1",
                    "data": {"document_id": "T-2", "sha256": "cd" * 32, "title": "Another record"},
                },
            )
        ),
        "--key",
        str(dept_key),
        "--data",
        data,
        check=False,
    )
    assert reused.returncode == 1 and "conflicting_id" in reused.stdout

    stranger = write_json(
        tmp_path / "stranger.json",
        {
            "source": "tax",
            "type": "document.registered",
            "data": {"document_id": "T-3", "sha256": "ef" * 32, "title": "Signed by the wrong key"},
        },
    )
    wrong = govchain("publish", str(stranger), "--key", f"{data}/keys/root.pem", "--data", data, check=False)
    assert wrong.returncode == 1 and "signer_not_of_source" in wrong.stdout

    proof = json.loads(govchain("proof", "tax/tax-doc-1", "--data", data, "--json").stdout)
    assert set(proof) == {"source", "event_id", "leaf_hash", "leaf_index", "tree_size", "path", "root", "block_height"}
    assert (proof["source"], proof["event_id"]) == ("tax", "tax-doc-1")
    assert json.loads(govchain("proof", "tax-doc-1", "--data", data, "--json").stdout) == proof  # one source used it
    malformed = govchain("proof", "Tax/tax-doc-1", "--data", data, check=False)
    assert malformed.returncode == 2 and "is not a source" in malformed.stderr
    assert proof["block_height"] == receipt["height"] and proof["leaf_index"] == receipt["leaf_index"]
    check_with_independent_verifier(proof, data)

    verify = json.loads(govchain("verify", "--data", data, "--json").stdout)
    assert verify == {"ok": True, "height": receipt["height"], "events": 3, "first_bad_height": None, "crypto": "intl"}

    registered = json.loads(govchain("registry", "document", "--sha256", "ab" * 32, "--data", data, "--json").stdout)
    assert registered["registered"] and registered["registrations"][0]["document_id"] == "T-1"
    unknown_file = tmp_path / "unknown.pdf"
    unknown_file.write_bytes(b"never registered")
    assert govchain("registry", "document", str(unknown_file), "--data", data, check=False).returncode == 1
    directory = json.loads(govchain("registry", "departments", "--data", data, "--json").stdout)
    assert [d["department_id"] for d in directory["departments"]] == ["tax"]

    tail = govchain("tail", "--data", data, "--from", "0", "--count", str(receipt["height"] + 1), "--json")
    heights = [json.loads(line)["height"] for line in tail.stdout.splitlines()]
    assert heights == list(range(receipt["height"] + 1))


def test_publish_batch_signs_once_and_receipts_every_event(platform: Path, tmp_path: Path) -> None:
    data = str(platform)
    dept_key = tmp_path / "tax.pem"
    key_info = json.loads(govchain("keygen", str(dept_key), "--json").stdout)
    govchain(
        "publish",
        str(
            write_json(
                tmp_path / "register.json",
                {
                    "source": "root",
                    "type": "department.registered",
                    "data": {"department_id": "tax", "name": "Tax Bureau", "public_key": key_info["public_key"]},
                },
            )
        ),
        "--key",
        f"{data}/keys/root.pem",
        "--data",
        data,
    )
    specs = [
        {
            "source": "tax",
            "type": "document.registered",
            "id": f"tax-batch-{n}",
            "data": {"document_id": f"T-{n}", "sha256": f"{n:064x}", "title": f"Record {n}"},
        }
        for n in range(5)
    ]
    events_file = tmp_path / "batch.json"
    events_file.write_text(json.dumps(specs))

    answer = json.loads(
        govchain("publish-batch", str(events_file), "--key", str(dept_key), "--data", data, "--json").stdout
    )
    assert answer["batch_id"].startswith("batch-")
    assert [(r["event_id"], r["status"]) for r in answer["receipts"]] == [(s["id"], "committed") for s in specs]
    proof = json.loads(govchain("proof", "tax-batch-3", "--data", data, "--json").stdout)
    check_with_independent_verifier(proof, data)
    assert json.loads(govchain("verify", "--data", data, "--json").stdout)["ok"]

    # A state-changing event cannot ride in a batch: refused before anything is sent.
    events_file.write_text(json.dumps([{"source": "root", "type": "department.registered", "data": {}}]))
    refused = govchain("publish-batch", str(events_file), "--key", str(dept_key), "--data", data, check=False)
    assert refused.returncode == 2 and "must be published alone" in refused.stderr
    events_file.write_text(json.dumps({"not": "a list"}))
    refused = govchain("publish-batch", str(events_file), "--key", str(dept_key), "--data", data, check=False)
    assert refused.returncode == 2 and "JSON array" in refused.stderr


def check_with_independent_verifier(proof: dict[str, Any], data: str) -> None:
    """pymerkle, rebuilt from the chain's own leaves, must produce the same root and path and accept it."""
    pymerkle = pytest.importorskip("pymerkle")

    async def leaves() -> list[bytes]:
        nc = await connect(json.loads((Path(data) / "run.json").read_text())["nats_url"])
        blocks = [
            Block.from_bytes(raw) async for _, raw in follow_blocks(nc.jetstream(), 0, to_height=proof["block_height"])
        ]
        await nc.drain()
        return [canonical_bytes(event) for block in blocks for event in block.events]

    entries = asyncio.run(leaves())
    assert len(entries) == proof["tree_size"]
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    tree.append_entries(entries)
    size, index = proof["tree_size"], proof["leaf_index"] + 1  # pymerkle counts from 1
    assert tree.get_root(size).hex() == proof["root"]
    theirs = tree.prove_inclusion(index, size)
    ours = [bytes.fromhex(proof["leaf_hash"]), *(bytes.fromhex(p) for p in proof["path"])]
    assert theirs.path == ours
    pymerkle.verify_inclusion(ours[0], bytes.fromhex(proof["root"]), theirs)


def test_demo_runs_a_scenario_and_verifies_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole scenario, on a chain named by ``GOVCHAIN_CHAIN`` (its streams and subjects carry
    the id, so every service and the client must use the chain's names); the web tests' platform
    runs the same demo on the default names."""
    monkeypatch.setenv("GOVCHAIN_CHAIN", "east")
    summary = json.loads(govchain("demo", "--json", timeout=120).stdout)
    assert summary["ok"] is True and summary["chain_id"] == "east"
    assert summary["proof_verified"] is True and summary["chain_ok"] is True
    assert summary["rejected"] == 5
    assert summary["rejection_reasons"] == ["bad_signature", "invalid_payload", "unauthorized", "unknown_key"]
    assert summary["duplicates_ordered"] == 0
    # genesis, the witness policy, 2 departments, 10 documents, an official, its document, a citizen,
    # a revocation; a second citizen, a business, a licence, a parcel, a transfer, an access record,
    # an erasure; two contract deployments, an application, a transfer request, two approvals, two results;
    # a data set, the data-sharing contract, a request, an approval, its grant, a read under it, two ratings
    assert summary["events"] == 1 + 1 + 2 + 10 + 4 + 7 + 8 + 8
    assert summary["witnessed_checkpoint"] is True and summary["witness_cosignatures"] >= 2
    assert "sha256_witnessed" not in summary  # an intl chain's own tree is the SHA-256 one
    # the demo published all but genesis, the access record and the data set read (by the registry)
    # and the three contract results (by the contract engine)
    assert len(summary["committed_event_ids"]) == summary["events"] - 6
    assert summary["identities"] == 4
    assert summary["credential_valid"] is True and summary["credential_revoked_detected"] is True
    assert summary["credentials_keys"] == {}  # intl: Ed25519 keys sign credentials themselves, none added
    assert summary["unauthorized_rejected"] == 2
    assert summary["land_transfers"] == 1 and summary["document_verified"] is True
    assert summary["access_log_entries"] == 1 and summary["official_read_owner"] is True
    assert summary["erased_unreadable"] is True
    assert summary["licenses_issued"] == 1 and summary["land_transfers_approved"] == 1
    assert summary["contracts_audit_ok"] is True
    assert summary["satisfaction_ratings"] == 1 and summary["satisfaction_refused"] == {"not_applicant": 1}
    assert summary["cost_savings_computed"] is True and summary["data_shares_granted"] == 1
    assert summary["data_share_read_logged"] is True and summary["data_share_out_of_scope_refused"] is True
    assert summary["citizen_id"].startswith("c-") and "110101199003074512" not in json.dumps(summary)
    assert summary["blocks"] >= 2 and summary["nats_url"].startswith("nats://127.0.0.1:")


def test_commands_fail_readably_without_a_running_platform(tmp_path: Path) -> None:
    result = govchain("verify", "--data", str(tmp_path / "nowhere"), check=False)
    assert result.returncode == 2
    assert "no running platform" in result.stderr and "Traceback" not in result.stderr


def test_serve_runs_one_service_against_external_nats_and_status_reports_it(
    tmp_path: Path, nats_server: EmbeddedNats
) -> None:
    data = str(tmp_path / "node")
    govchain("init", "--data", data, "--chain-id", "served")
    assert "nothing to do" in govchain("init", "--data", data, "--exist-ok").stdout
    service = subprocess.Popen(
        [*GOVCHAIN, "serve", "ledger", "--data", data, "--nats-url", nats_server.url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            status = govchain(
                "status", "--json", "--data", data, "--nats-url", nats_server.url, check=False, timeout=30
            )
            if status.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["height"] == 0  # genesis, published by the served ledger
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=30) == 0


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again on return: nothing listens there


@pytest.mark.parametrize(
    "command",
    [
        ["verify", "--nats-url", "nats://127.0.0.1:{port}"],
        ["tail", "--nats-url", "nats://127.0.0.1:{port}"],
        ["proof", "tax/tax-doc-1", "--nats-url", "nats://127.0.0.1:{port}"],
        ["proof", "tax/tax-doc-1"],
    ],
)
def test_an_unreachable_server_or_a_missing_data_folder_is_one_line_and_exit_2(
    tmp_path: Path, command: list[str]
) -> None:
    """Within seconds, one readable line on stderr: no reconnect loop, no traceback."""
    data = tmp_path / "node"
    if "proof" in command:  # a proof is checked against the chain's genesis: it needs a data folder
        if "--nats-url" in command:
            govchain("init", "--data", str(data), "--chain-id", "cli-test")
    args = [part.format(port=_closed_port()) for part in command]
    started = time.monotonic()
    result = govchain(*args, "--data", str(data), check=False, timeout=30)
    assert result.returncode == 2, result
    assert time.monotonic() - started < 20
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), lines
    assert ("cannot reach NATS" in lines[0]) if "--nats-url" in command else ("has no genesis.json" in lines[0])


def test_init_and_up_name_the_chain_govchain_chain_serves(
    tmp_path: Path, busy_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``GOVCHAIN_CHAIN`` set, ``init`` and a first ``up`` make that chain (its services
    would refuse any other genesis); ``init`` refuses a ``--chain-id`` that contradicts it before
    writing a key, and ``--exist-ok`` a folder holding another chain."""
    monkeypatch.setenv("GOVCHAIN_CHAIN", "east")
    made = json.loads(govchain("init", "--data", str(tmp_path / "east"), "--json").stdout)
    assert made["chain_id"] == "east"
    refused = govchain("init", "--data", str(tmp_path / "west"), "--chain-id", "west", check=False)
    assert refused.returncode == 2 and "told to serve chain 'east'" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "west" / "genesis.json").exists()
    monkeypatch.setenv("GOVCHAIN_CHAIN", "west")
    other = govchain("init", "--data", str(tmp_path / "east"), "--exist-ok", check=False)
    assert other.returncode == 2 and "genesis is chain 'east'" in other.stderr

    fresh = tmp_path / "fresh"
    with govchain_up(fresh, busy_port, {**os.environ, "GOVCHAIN_CHAIN": "north"}, timeout_s=60):
        assert json.loads((fresh / "genesis.json").read_text())["data"]["chain_id"] == "north"
