"""``govchain witness init|vkey|serve`` and ``govchain log vkey``, run as a user runs them."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from govchain.bus.embedded import free_port
from govchain.datadir import DataDir
from govchain.logs import configure_logging
from govchain.protocol.keys import SigningKey
from govchain.services.cli.app import app
from govchain.transparency.cosignature import CosignatureVerifier
from govchain.transparency.vkeys import Ed25519Verifier
from govchain.transparency.witness_protocol import parse_cosignatures

from . import independent_note
from .conftest import Log

GOVCHAIN = [sys.executable, "-m", "govchain.services.cli"]


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(autouse=True)
def _logging_back_on_stderr() -> Iterator[None]:
    """The CLI's callback points logging at CliRunner's captured stderr, closed after the run:
    point it back at the real one so later tests can log."""
    yield
    configure_logging()


def govchain(*args: str) -> Ran:
    """The command in-process (the CLI's imports take seconds per subprocess); ``serve`` below
    runs as a real process."""
    result = CliRunner().invoke(app, list(args))
    return Ran(result.exit_code, result.stdout, result.stderr)


def test_init_then_vkey(tmp_path: Path) -> None:
    folder = tmp_path / "witness"
    made = govchain("witness", "init", "--dir", str(folder), "--name", "court.example/witness")
    assert made.returncode == 0, made.stderr
    printed = govchain("witness", "vkey", "--dir", str(folder))
    assert printed.returncode == 0, printed.stderr
    vkey = printed.stdout.strip()
    assert vkey in made.stdout
    assert CosignatureVerifier.from_vkey(vkey).name == "court.example/witness"
    assert stat.S_IMODE((folder / "witness.pem").stat().st_mode) == 0o600
    again = govchain("witness", "init", "--dir", str(folder), "--name", "court.example/witness")
    assert again.returncode == 2 and "refusing" in again.stderr
    bad_name = govchain("witness", "init", "--dir", str(tmp_path / "other"), "--name", "has space")
    assert bad_name.returncode == 2


def test_log_vkey_from_a_key_file_a_hex_key_or_the_genesis(tmp_path: Path) -> None:
    key = SigningKey.generate()
    key.save(tmp_path / "orderer.pem")
    expected = Ed25519Verifier("gov.example/log", key.public.raw).vkey
    from_file = govchain("log", "vkey", "--origin", "gov.example/log", "--key", str(tmp_path / "orderer.pem"))
    assert from_file.stdout.strip() == expected, from_file.stderr
    from_hex = govchain("log", "vkey", "--origin", "gov.example/log", "--public-key", key.public.hex)
    assert from_hex.stdout.strip() == expected
    assert govchain("log", "vkey", "--origin", "gov.example/log", "--public-key", "zz").returncode == 2
    assert govchain("log", "vkey", "--origin", "bad name", "--public-key", key.public.hex).returncode == 2

    data = tmp_path / "node"
    DataDir(data).init("govchain-witness-test")
    orderer = DataDir(data).signing_key("orderer")
    from_genesis = govchain("log", "vkey", "--origin", "gov.example/log", "--data", str(data))
    assert from_genesis.stdout.strip() == Ed25519Verifier("gov.example/log", orderer.public.raw).vkey


def test_serve_cosigns_over_http(tmp_path: Path) -> None:
    folder = tmp_path / "witness"
    assert govchain("witness", "init", "--dir", str(folder), "--name", "audit.example/w").returncode == 0
    vkey = govchain("witness", "vkey", "--dir", str(folder)).stdout.strip()
    log = Log()
    log.grow_to(25)
    port = free_port()
    server = subprocess.Popen(
        [*GOVCHAIN, "witness", "serve", "--dir", str(folder), "--log-vkey", log.vkey, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "the witness did not start"
            time.sleep(0.1)
        answer = httpx.post(f"{url}/add-checkpoint", content=log.request(0), timeout=10)
        assert answer.status_code == 200
        (line,) = parse_cosignatures(answer.content)
        assert independent_note.verify_cosignature(log.signed() + line.line().encode(), vkey) > 0
        assert stat.S_IMODE((folder / "witness.db").stat().st_mode) == 0o600
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_refuses_a_malformed_log_key_readably(tmp_path: Path) -> None:
    folder = tmp_path / "witness"
    govchain("witness", "init", "--dir", str(folder), "--name", "audit.example/w")
    refused = govchain("witness", "serve", "--dir", str(folder), "--log-vkey", "not-a-vkey", "--port", "1")
    assert refused.returncode == 2 and "vkey" in refused.stderr
    missing = govchain("witness", "serve", "--dir", str(tmp_path / "none"), "--log-vkey", Log().vkey)
    assert missing.returncode == 2 and "govchain witness init" in missing.stderr


def test_a_witness_folder_keeps_the_logs_it_follows(tmp_path: Path) -> None:
    """`witness init --log-vkey` and `witness add-log` keep the logs in the folder, so a
    container's whole configuration is its folder and `serve` needs no --log-vkey."""
    folder = tmp_path / "witness"
    first, second = Log(), Log(origin="gov.example/other")
    made = govchain("witness", "init", "--dir", str(folder), "--name", "court.example/w", "--log-vkey", first.vkey)
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE((folder / "log-vkeys").stat().st_mode) == 0o600
    assert govchain("witness", "add-log", second.vkey, "--dir", str(folder)).returncode == 0
    assert govchain("witness", "add-log", second.vkey, "--dir", str(folder)).returncode == 0  # once only
    from govchain.services.cli.witness import read_log_vkeys

    assert read_log_vkeys(folder) == [first.vkey, second.vkey]
    assert govchain("witness", "add-log", "not-a-vkey", "--dir", str(folder)).returncode == 2
    refused = govchain("witness", "init", "--dir", str(tmp_path / "w2"), "--name", "x.example/w", "--log-vkey", "bad")
    assert refused.returncode == 2 and not (tmp_path / "w2" / "witness.pem").exists()
    nothing = govchain("witness", "init", "--dir", str(tmp_path / "w3"), "--name", "y.example/w")
    assert nothing.returncode == 0
    no_logs = govchain("witness", "serve", "--dir", str(tmp_path / "w3"), "--port", "1")
    assert no_logs.returncode == 2 and "no log to follow" in no_logs.stderr


def test_log_vkey_defaults_to_the_chains_origin(tmp_path: Path) -> None:
    data = tmp_path / "node"
    DataDir(data).init("origin-chain")
    orderer = DataDir(data).signing_key("orderer")
    printed = govchain("log", "vkey", "--data", str(data))
    assert printed.stdout.strip() == Ed25519Verifier("govchain.example/origin-chain", orderer.public.raw).vkey
    assert govchain("log", "vkey", "--data", str(tmp_path / "none")).returncode == 2
