"""The witness's SQLite state: durable, private, and a compare-and-swap that two racing writers
cannot both win."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from govchain.protocol.keys import SigningKey
from govchain.services.witness.folder import WitnessFolder, WitnessFolderError
from govchain.services.witness.store import WitnessStore
from govchain.transparency.cosignature import CosignatureSigner
from govchain.transparency.witness import TreeHead, TrustedLog, Witness, WitnessedCheckpoint

from .conftest import Clock, Log


def record(origin: str, size: int, root: bytes, note: bytes = b"n") -> WitnessedCheckpoint:
    return WitnessedCheckpoint(origin, TreeHead(size, root), 1_700_000_000 + size, note)


def test_advance_is_a_compare_and_swap(tmp_path: Path) -> None:
    store = WitnessStore.open(tmp_path / "w" / "witness.db")
    a, b = bytes(32), b"\x01" * 32
    assert store.latest("o") is None
    assert store.advance(None, record("o", 5, a))
    assert not store.advance(None, record("o", 6, b))  # a row exists now
    assert not store.advance(TreeHead(4, a), record("o", 6, b))  # wrong size
    assert not store.advance(TreeHead(5, b), record("o", 6, b))  # wrong root
    assert store.advance(TreeHead(5, a), record("o", 6, b))
    assert store.latest("o") == record("o", 6, b)
    store.close()


def test_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "witness.db"
    store = WitnessStore.open(path)
    store.advance(None, record("o", 9, bytes(32), b"note"))
    store.close()
    again = WitnessStore.open(path)
    assert again.latest("o") == record("o", 9, bytes(32), b"note")
    again.close()
    with sqlite3.connect(path) as raw:  # what is on disk, read by SQLite itself
        assert raw.execute("select size from witness_logs where origin='o'").fetchone() == (9,)
        assert raw.execute("pragma journal_mode").fetchone() == ("wal",)


def test_files_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "witness"
    store = WitnessStore.open(folder / "witness.db")
    store.advance(None, record("o", 1, bytes(32)))
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("pragma synchronous").scalar() == 2  # FULL
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    store.close()


def test_racing_writers_from_one_head_advance_once(tmp_path: Path) -> None:
    """Sixteen threads, each with its own engine (a connection pool per process, as separate
    server workers would have), all expecting the same head: exactly one wins."""
    path = tmp_path / "witness.db"
    WitnessStore.open(path).close()
    stores = [WitnessStore.open(path) for _ in range(16)]
    stores[0].advance(None, record("o", 1, bytes(32)))
    barrier = threading.Barrier(len(stores))
    wins: list[int] = []

    def race(i: int) -> None:
        barrier.wait()
        if stores[i].advance(TreeHead(1, bytes(32)), record("o", 100 + i, bytes([i]) * 32)):
            wins.append(i)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert stores[0].latest("o") == record("o", 100 + wins[0], bytes([wins[0]]) * 32)
    for s in stores:
        s.close()


def test_racing_first_inserts_advance_once(tmp_path: Path) -> None:
    path = tmp_path / "witness.db"
    WitnessStore.open(path).close()
    stores = [WitnessStore.open(path) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    wins: list[bool] = []

    def race(i: int) -> None:
        barrier.wait()
        wins.append(stores[i].advance(None, record("o", i + 1, bytes([i]) * 32)))

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1
    for s in stores:
        s.close()


def test_concurrent_witnesses_never_roll_a_log_back(tmp_path: Path, log: Log) -> None:
    """The tlog-witness race: requests of several sizes from the same old size, at once, through
    the full decision over the real store. One is cosigned, the others get 409, and the stored
    size is the cosigned one."""
    path = tmp_path / "witness.db"
    WitnessStore.open(path).close()
    signer = CosignatureSigner("w.example/race", SigningKey.generate(), Clock())
    log.grow_to(40)
    logs = [TrustedLog.from_vkeys(log.origin, [log.vkey])]
    witnesses = [Witness(signer, logs, WitnessStore.open(path)) for _ in range(10)]
    bodies = [log.request(0, size) for size in range(30, 40)]
    barrier = threading.Barrier(len(witnesses))
    answers: dict[int, int] = {}

    def submit(i: int) -> None:
        barrier.wait()
        answers[30 + i] = witnesses[i].add_checkpoint(bodies[i]).status

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(witnesses))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [size for size, status in answers.items() if status == 200]
    assert len(winners) == 1 and sorted(answers.values()).count(409) == 9
    latest = witnesses[0].state.latest(log.origin)
    assert latest is not None and latest.head.size == winners[0]
    for w in witnesses:
        w.state.close()  # type: ignore[attr-defined]


def test_refused_checkpoints_are_kept_once(tmp_path: Path, log: Log) -> None:
    store = WitnessStore.open(tmp_path / "witness.db")
    log.grow_to(3)
    store.record_refusal(log.origin, log.signed(), "forked")
    store.record_refusal(log.origin, log.signed(), "forked again")
    assert store.refused(log.origin) == [("forked", log.signed())]
    store.close()


def test_witness_folder_init_is_private_and_never_overwrites(tmp_path: Path) -> None:
    folder = WitnessFolder(tmp_path / "w")
    signer = folder.init("court.example/witness")
    assert folder.signer().verifier == signer.verifier
    assert stat.S_IMODE(folder.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.root.stat().st_mode) == 0o700
    with pytest.raises(WitnessFolderError, match="refusing"):
        folder.init("court.example/witness")
    assert folder.signer().verifier == signer.verifier
