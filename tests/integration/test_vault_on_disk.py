"""The key vault as a thief or a forensic reader would see it, on real SQLite and PostgreSQL:
what the database files hold before and after an erasure, a copy without the KEK, the
upgrade of a vault that kept keys in clear, and KEK rotation, killed at every step."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    event,
    insert,
    select,
    text,
)

from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.privacy.custody import open_vault
from govchain.privacy.kek import Kek, KekError
from govchain.privacy.kekfiles import KekFiles
from govchain.privacy.rotation import Step, rotate_kek
from govchain.privacy.scrub import secure_delete_within, secure_deletes, truncate_wal
from govchain.privacy.vault import KekMismatch, KeyVault, KeyVaultError, subject_keys
from govchain.storage.engine import make_engine

from .cli_platform import GOVCHAIN
from .disk import find, needles_of

ADA = "c-" + "a1" * 16
BOB = "c-" + "b2" * 16
CID = "c-" + "c3" * 16
CONTEXT = "business.registered/owner_details/B-001"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def rows(engine: Engine) -> list[Any]:
    """The vault table as a dump (or a backup, or a replica) would hold it."""
    with engine.connect() as conn:
        return list(conn.execute(select(subject_keys)).all())


def wrapped_of(engine: Engine, subject: str) -> bytes:
    return bytes(next(r.wrapped_key for r in rows(engine) if r.subject == subject))


def sqlite_built_without_secure_delete(engine: Engine) -> Engine:
    """Many SQLite builds (Debian's among them) turn secure_delete on by default, others do
    not: start every connection with it off, so only what the vault sets counts."""
    event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA secure_delete = OFF"))
    return engine


@pytest.mark.parametrize("how", ["not at all", "engine", "connection"])
def test_secure_delete_is_what_zeroes_a_deleted_row(tmp_path: Path, how: str) -> None:
    secret = os.urandom(48)
    engine = sqlite_built_without_secure_delete(make_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    if how == "engine":
        secure_deletes(engine)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)"))
            for n in range(3):
                conn.execute(text("INSERT INTO t VALUES (:n, :v)"), {"n": n, "v": secret if n == 1 else os.urandom(48)})
        with engine.begin() as conn:
            if how == "connection":
                secure_delete_within(conn)
            conn.execute(text("DELETE FROM t WHERE id = 1"))
        assert truncate_wal(engine)
        assert bool(find(tmp_path, {"secret": needles_of(secret)})) is (how == "not at all")
    finally:
        engine.dispose()


def test_an_erased_key_leaves_no_copy_in_the_database_or_its_wal(tmp_path: Path) -> None:
    """SQLite as the registry runs it: the projection's engine erases inside its transaction,
    the vault's own engine checkpoints after the commit."""
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    vault_engine, projection_engine = (sqlite_built_without_secure_delete(make_engine(url)) for _ in range(2))
    try:
        vault = KeyVault(vault_engine, Kek.generate())
        field = vault.seal_for(ADA, {"legal_name": "Ada Lovelace"}, CONTEXT)
        bob = vault.seal_for(BOB, "Bob", CONTEXT)
        key, _ = vault.key_for_sealing(ADA)
        wrapped = wrapped_of(vault_engine, ADA)
        secrets = {"key": needles_of(key), "wrapped": needles_of(wrapped)}
        assert find(tmp_path, secrets) == {"wrapped": ["registry.db-wal"]}  # the scan sees the vault; no raw key

        with projection_engine.begin() as conn:
            assert vault.erase_within(conn, ADA, "right to erasure")
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1  # on the projection's connection
        with vault_engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1  # and on every one of the vault's
        # Committed, not yet checkpointed: the WAL still holds the page as it was (why the flush exists).
        assert "registry.db-wal" in find(tmp_path, secrets).get("wrapped", [])
        assert vault.flush_erasures()
        assert find(tmp_path, secrets) == {}
        assert (tmp_path / "registry.db-wal").stat().st_size == 0
        with pytest.raises(Exception, match="erased"):
            vault.open_for(field, CONTEXT)
        assert vault.open_for(bob, CONTEXT) == "Bob"
    finally:
        vault_engine.dispose()
        projection_engine.dispose()
    assert find(tmp_path, secrets) == {}  # nor once SQLite's own checkpoint at close has run


def test_no_row_yields_an_erased_key(engine: Engine) -> None:
    """PostgreSQL (and SQLite) through SQL: the erased subject's row holds no key, and no
    wrapped key in the table, unwrapped as any subject, gives the old key back."""
    kek = Kek.generate()
    vault = KeyVault(engine, kek)
    old, _ = vault.key_for_sealing(ADA)
    vault.key_for_sealing(BOB)
    assert vault.erase(ADA, "right to erasure")
    table = rows(engine)
    ada = next(r for r in table if r.subject == ADA)
    assert ada.wrapped_key is None and ada.kek_id is None and ada.erased_at is not None
    for row in table:
        assert all(old not in bytes(v) for v in row if isinstance(v, (bytes, memoryview)))
        if row.wrapped_key is None:
            continue
        for subject in (row.subject, ADA):
            try:
                assert kek.unwrap(row.wrapped_key, subject=subject, key_version=row.key_version) != old
            except KekError:
                pass
    assert vault.status().live_keys == 1


def test_a_copied_database_alone_opens_nothing(engine: Engine, tmp_path: Path) -> None:
    kek = Kek.generate()
    vault = KeyVault(engine, kek)
    field = vault.seal_for(ADA, {"phone": "+86 138 0013 8000"}, CONTEXT)
    key, _ = vault.key_for_sealing(ADA)
    copy_engine = engine
    if is_sqlite(engine):  # the files themselves, copied as a thief would
        source = Path(engine.url.database or "")
        copy_dir = tmp_path / "stolen"
        copy_dir.mkdir()
        for path in source.parent.glob(source.name + "*"):
            shutil.copy(path, copy_dir / path.name)
        assert find(copy_dir, {"key": needles_of(key), "phone": b"138 0013"}) == {}
        copy_engine = make_engine(f"sqlite:///{copy_dir / source.name}")
    try:
        assert all(key not in bytes(r.wrapped_key) for r in rows(copy_engine))
        with pytest.raises(KekMismatch) as refused:
            KeyVault(copy_engine, Kek.generate())
        assert kek.hex() not in str(refused.value)
        with pytest.raises(KeyVaultError, match="without its KEK"):
            KeyVault(copy_engine).open_for(field, CONTEXT)
        assert KeyVault(copy_engine, kek).open_for(field, CONTEXT) == {
            "phone": "+86 138 0013 8000"
        }  # the KEK is what it takes
    finally:
        if copy_engine is not engine:
            copy_engine.dispose()


LEGACY = MetaData()
legacy_keys = Table(
    "privacy_subject_keys",
    LEGACY,
    Column("subject", String(64), primary_key=True),
    Column("key_version", Integer, nullable=False),
    Column("data_key", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=True),
    Column("erasure_reason", Text, nullable=True),
)
"""The vault's table as revisions before 0002 made it: data keys in clear."""


def test_an_old_vault_with_clear_keys_is_wrapped_on_upgrade_and_the_clear_keys_scrubbed(
    engine: Engine,
    tmp_path: Path,
) -> None:
    LEGACY.create_all(engine)
    clear = {ADA: os.urandom(32), CID: os.urandom(32)}
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for subject, key in clear.items():
            conn.execute(insert(legacy_keys).values(subject=subject, key_version=1, data_key=key, created_at=now))
        conn.execute(
            insert(legacy_keys).values(
                subject=BOB, key_version=0, created_at=now, erased_at=now, erasure_reason="old tombstone"
            )
        )
    needles = {subject: needles_of(key) for subject, key in clear.items()}
    if is_sqlite(engine):
        assert set(find(tmp_path, needles)) == set(clear)  # the scan sees clear keys where they are

    with pytest.raises(KeyVaultError, match="in clear"):
        KeyVault(engine)  # no KEK: refused, nothing changed
    kek = Kek.generate()
    vault = KeyVault(engine, kek)
    assert {s: vault.key_for_opening(s, 1) for s in clear} == clear
    assert vault.is_erased(BOB)
    assert vault.status().wrapped_by == {kek.id}
    for row in rows(engine):
        assert not any(k in bytes(v) for v in row if isinstance(v, (bytes, memoryview)) for k in clear.values())
    if is_sqlite(engine):
        assert find(tmp_path, needles) == {}


def test_a_vault_refuses_a_kek_that_did_not_wrap_its_keys(engine: Engine) -> None:
    kek, other = Kek.generate(), Kek.generate()
    KeyVault(engine, kek).key_for_sealing(ADA)
    with pytest.raises(KekMismatch, match=kek.id) as refused:
        KeyVault(engine, other)
    assert kek.hex() not in str(refused.value) and other.hex() not in str(refused.value)


def test_a_lost_kek_file_is_reported_not_replaced(engine: Engine, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    open_vault(engine, keys).key_for_sealing(ADA)
    lost = KekFiles(keys).load_current()
    KekFiles(keys).current.unlink()
    with pytest.raises(KekMismatch, match=f"missing.*{lost.id}.*restore"):
        open_vault(engine, keys)
    assert list(keys.iterdir()) == []  # no new KEK that would wrap new keys beside the lost ones


def test_the_kek_can_come_from_a_secret_store_instead_of_a_file(
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kek = Kek.generate()
    monkeypatch.setenv("GOVCHAIN_VAULT_KEK", kek.hex())
    settings = Settings(data_dir=tmp_path)
    assert settings.vault_kek is not None and kek.hex() not in repr(settings)
    vault = open_vault(engine, tmp_path / "keys", settings.vault_kek)
    field = vault.seal_for(ADA, "Ada", CONTEXT)
    assert vault.kek_id == kek.id and not (tmp_path / "keys").exists()
    assert KeyVault(engine, kek).open_for(field, CONTEXT) == "Ada"


def test_rotation_makes_a_copy_taken_before_useless_and_destroys_the_old_kek(engine: Engine, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    files = KekFiles(keys)
    vault = open_vault(engine, keys)
    field = vault.seal_for(ADA, {"legal_name": "Ada Lovelace"}, CONTEXT)
    erased_key, _ = vault.key_for_sealing(BOB)
    vault.erase(BOB, "right to erasure")
    old_kek = files.load_current()
    backup = [r for r in rows(engine) if r.wrapped_key is not None]
    # Without rotation the backup and the old KEK open the live key again: what rotation ends.
    assert old_kek.unwrap(backup[0].wrapped_key, subject=ADA, key_version=1) == vault.key_for_sealing(ADA)[0]

    done = rotate_kek(engine, files)

    assert (done.old_kek_id, done.rewrapped) == (old_kek.id, 1) and done.new_kek_id != old_kek.id
    assert sorted(p.name for p in keys.iterdir()) == ["vault.kek"]
    new_kek = files.load_current()
    assert new_kek.id == done.new_kek_id
    assert find(tmp_path, {"old kek": old_kek.hex().encode(), "erased key": needles_of(erased_key)}) == {}
    for row in backup:
        with pytest.raises(KekError):
            new_kek.unwrap(row.wrapped_key, subject=row.subject, key_version=row.key_version)
    assert wrapped_of(engine, ADA) != bytes(backup[0].wrapped_key)
    assert open_vault(engine, keys).open_for(field, CONTEXT) == {"legal_name": "Ada Lovelace"}


ROTATE_AND_DIE = """
import os, signal, sys
from pathlib import Path
from govchain.privacy.kekfiles import KekFiles
from govchain.privacy.rotation import rotate_kek
from govchain.storage.engine import make_engine

url, keys, die_at = sys.argv[1:]

def step(name):
    if name == die_at:
        os.kill(os.getpid(), signal.SIGKILL)

rotate_kek(make_engine(url), KekFiles(Path(keys)), on_step=step)
"""

STEPS: list[Step] = ["next_staged", "next_written", "rewrapped", "committed", "switched", "done"]


@pytest.mark.parametrize("die_at", STEPS)
def test_a_rotation_killed_at_any_step_leaves_every_live_key_readable(
    db_url: str,
    engine: Engine,
    tmp_path: Path,
    die_at: Step,
) -> None:
    keys = tmp_path / "keys"
    vault = open_vault(engine, keys)
    fields = {s: vault.seal_for(s, {"legal_name": s}, CONTEXT) for s in (ADA, BOB)}
    vault.erase(CID, "never had data")
    old_id = vault.kek_id

    dead = subprocess.run(
        [sys.executable, "-c", ROTATE_AND_DIE, db_url, str(keys), die_at],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert dead.returncode == -signal.SIGKILL, dead.stderr

    reopened = open_vault(engine, keys)  # what the registry does when it starts
    assert {s: reopened.open_for(f, CONTEXT) for s, f in fields.items()} == {
        ADA: {"legal_name": ADA},
        BOB: {"legal_name": BOB},
    }
    assert sorted(p.name for p in keys.iterdir()) == ["vault.kek"]  # finished or undone, nothing left over
    committed = STEPS.index(die_at) >= STEPS.index("committed")
    assert (reopened.kek_id != old_id) is committed
    assert reopened.status().wrapped_by == {reopened.kek_id}


def test_rotate_kek_refuses_while_the_platform_runs(tmp_path: Path) -> None:
    """(Rotating a stopped platform's vault from the command line: test_private_data_folder.)"""
    data = DataDir(tmp_path / "node")
    data.init("vault-cli")
    before = data.vault_kek_files.load_current().id
    data.write_run_info({"nats_url": "nats://127.0.0.1:1", "pid": os.getpid()})  # alive: this very process
    running = subprocess.run(
        [*GOVCHAIN, "vault", "rotate-kek", "--data", str(data.root)], capture_output=True, text=True, timeout=60
    )
    assert running.returncode == 2 and "running" in running.stderr, running.stderr
    assert data.vault_kek_files.load_current().id == before and not data.vault_kek_files.rotation_pending()


def test_a_run_file_left_by_a_killed_platform_does_not_count_as_running(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "node")
    gone = subprocess.Popen(["true"])
    gone.wait()
    data.root.mkdir()
    data.write_run_info({"nats_url": "nats://127.0.0.1:1", "pid": gone.pid})
    assert data.running_pid() is None
    data.write_run_info({"nats_url": "nats://127.0.0.1:1", "pid": os.getpid()})
    assert data.running_pid() == os.getpid()
