"""What is acknowledged is on disk: SQLite fsyncs each commit, JetStream's fsync policy is a
checked setting, and SQLite transactions opened by the engine behave under a second writer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, text

from govchain.bus.embedded import EmbeddedNats
from govchain.config import Settings
from govchain.storage.engine import make_engine


@pytest.fixture
def two_engines(tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on one SQLite file, as the registry's projection and its key vault are."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = make_engine(url), make_engine(url)
    with first.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield first, second
    first.dispose()
    second.dispose()


def pragma(engine: Engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_engines_fsync_every_commit(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    assert (pragma(engine, "journal_mode"), pragma(engine, "synchronous")) == ("wal", 2)  # 2: FULL
    engine.dispose()


def test_synchronous_can_be_relaxed_only_to_normal(tmp_path: Path) -> None:
    relaxed = make_engine(f"sqlite:///{tmp_path / 'p.db'}", synchronous="NORMAL")
    assert pragma(relaxed, "synchronous") == 1
    relaxed.dispose()
    with pytest.raises(ValueError, match="FULL or NORMAL"):
        make_engine(f"sqlite:///{tmp_path / 'q.db'}", synchronous="OFF")  # type: ignore[arg-type]


def test_a_writer_that_read_first_waits_out_another_writer(two_engines: tuple[Engine, Engine]) -> None:
    """engine.begin() takes the write lock at once: a deferred BEGIN would fail this block's
    first write with "database is locked" as soon as the other writer had committed."""
    projection, vault = two_engines

    def other_writer() -> None:
        with vault.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))

    with projection.begin() as conn:
        conn.execute(text("SELECT count(*) FROM t")).scalar()
        other = threading.Thread(target=other_writer)
        other.start()
        other.join(timeout=0.5)  # a deferred transaction lets it commit here
        conn.execute(text("INSERT INTO t VALUES (1)"))
    other.join()
    with projection.connect() as conn:
        assert sorted(conn.execute(text("SELECT x FROM t")).scalars()) == [1, 2]


def test_a_reader_sees_one_snapshot_and_holds_no_writer_up(two_engines: tuple[Engine, Engine]) -> None:
    reader_engine, writer = two_engines
    with reader_engine.connect() as reader:
        before = reader.execute(text("SELECT count(*) FROM t")).scalar()
        with writer.begin() as conn:  # would wait out busy_timeout, then fail, if the reader locked
            conn.execute(text("INSERT INTO t VALUES (1)"))
        assert reader.execute(text("SELECT count(*) FROM t")).scalar() == before  # same transaction
    with reader_engine.connect() as reader:
        assert reader.execute(text("SELECT count(*) FROM t")).scalar() == before + 1


@pytest.mark.parametrize("value", ["always", "2m", "10s", "500ms", "1h30m", "1.5s"])
def test_settings_take_always_or_a_go_duration(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVCHAIN_NATS_SYNC_INTERVAL", value)
    assert Settings().nats_sync_interval == value


def test_jetstream_fsyncs_every_write_by_default(tmp_path: Path) -> None:
    assert Settings().nats_sync_interval == "always"
    assert 'sync_interval: "always"' in EmbeddedNats(tmp_path).config_text()


@pytest.mark.parametrize("value", ["sometimes", "2", "0s", "2 m", "", "-1s", "2M", "always "])
def test_settings_refuse_any_other_sync_interval(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVCHAIN_NATS_SYNC_INTERVAL", value)
    with pytest.raises(ValidationError, match="sync_interval"):
        Settings()


def test_the_embedded_server_refuses_a_bad_sync_interval_before_starting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sync_interval"):
        EmbeddedNats(tmp_path, sync_interval="sometimes").config_text()
