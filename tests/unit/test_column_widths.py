"""Every stored key, key id, signature and hash fits the widest crypto suite, on PostgreSQL above all.

PostgreSQL enforces ``VARCHAR(N)`` (SQLite does not), and where the suites differ a gm (国密)
chain's values are the longer: an SM2 public key is 65 bytes, 130 hex digits, against Ed25519's
64 (``identity_keys.public_key``, widened by identity's migration 0003). Key ids and hashes are
64 hex digits and signatures 128 in both suites today (SM3 is 32 bytes, SM2 signatures are r ‖ s),
so no other column needed widening; these tests would catch one that does, or a new column:

- every table that every store's migrations make (the services', the key vault's, the projection
  checkpoints') is read back from the database itself, and each text column whose name says it
  holds a key, key id, signature or hash must be as wide as the widest suite's value of that kind;
- a real gm value of each kind is written into each such column and read back unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, Table, insert, inspect, select
from sqlalchemy.types import String

from govchain.crypto import GM, SUITE_NAMES, CryptoSuite, suite_by_name
from govchain.protocol.keys import SigningKey
from govchain.storage.engine import make_engine
from govchain.storage.migrations import upgrade_to_head

REPO = Path(__file__).parents[2]
MIGRATIONS = sorted(
    env.parent
    for root in (REPO / "services", REPO / "shared" / "govchain")
    for env in root.glob("**/migrations/env.py")
)
"""Every store's alembic scripts: each service's, the key vault's, the projection checkpoints'."""

SUITES = [suite_by_name(name) for name in SUITE_NAMES]
KINDS: dict[str, re.Pattern[str]] = {
    "public_key": re.compile(r"(^|_)public_key$"),
    "key_id": re.compile(r"(^|_)key_id$"),
    "signature": re.compile(r"(^|_)signature$"),
    "hash": re.compile(r"(^|_)(hash|sha256|root)$"),
}
"""What a text column holds, by its name (``kek_id`` is not a key id: a fixed 8-byte prefix)."""


def hex_length(kind: str, suite: CryptoSuite) -> int:
    """Hex digits of a value of ``kind`` on a chain of ``suite`` (key ids are hex hashes)."""
    size = {"public_key": suite.public_key_size, "signature": suite.signature_size}.get(kind, suite.hash_size)
    return 2 * size


def kind_of(column: str) -> str | None:
    return next((kind for kind, pattern in KINDS.items() if pattern.search(column)), None)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A database every store's migrations have brought to their newest revision."""
    engine = make_engine(db_url)
    for scripts in MIGRATIONS:
        upgrade_to_head(engine, scripts, attributes={"vault_kek": None, "vault_upgrade": {}})
    yield engine
    engine.dispose()


def keyed_text_columns(engine: Engine) -> list[tuple[str, str, str, int | None]]:
    """(table, column, kind, declared length) of every text column that holds a key, key id,
    signature or hash, as the database reports them."""
    inspector = inspect(engine)
    found = []
    for table in inspector.get_table_names():
        for column in inspector.get_columns(table):
            kind = kind_of(column["name"])
            if kind is not None and isinstance(column["type"], String):
                found.append((table, column["name"], kind, column["type"].length))
    return found


def test_the_migrations_found_are_every_store(engine: Engine) -> None:
    stores = {scripts.parent.name for scripts in MIGRATIONS}
    assert {"identity", "registry", "contract", "analytics", "ledger", "witness", "privacy", "checkpoints"} <= stores
    columns = {(table, column) for table, column, _, _ in keyed_text_columns(engine)}
    assert ("identity_keys", "public_key") in columns and ("ledger_blocks", "signature") in columns


def test_every_keyed_text_column_is_as_wide_as_the_widest_suite(engine: Engine) -> None:
    too_narrow = [
        f"{table}.{column}: {length} < {widest} ({kind})"
        for table, column, kind, length in keyed_text_columns(engine)
        if length is not None and length < (widest := max(hex_length(kind, suite) for suite in SUITES))
    ]
    assert not too_narrow, "columns too short for a gm chain's values: " + "; ".join(too_narrow)


def _gm_values() -> dict[str, str]:
    key = SigningKey.generate(GM)
    return {
        "public_key": key.public.hex,
        "key_id": key.key_id,
        "signature": key.sign(b"a block hash").hex(),
        "hash": GM.hash(b"a document").hex(),
    }


def _filler(column: Any) -> Any:
    """Any value the column takes, for the columns under no test."""
    python_type = column.type.python_type
    if python_type is str:
        return "x" * min(column.type.length or 8, 8)
    return {int: 1, bytes: b"\x00" * 32, datetime: datetime(2026, 1, 1, tzinfo=UTC), bool: False}[python_type]


@pytest.mark.skipif(not GM.available, reason="the gm profile needs gmssl-pyx (x86-64 wheels only)")
def test_a_gm_chains_keys_signatures_and_hashes_are_stored_and_read_back_whole(engine: Engine) -> None:
    values = _gm_values()
    assert {kind: len(value) for kind, value in values.items()} == {
        kind: max(hex_length(kind, suite) for suite in SUITES) for kind in KINDS
    }
    metadata = MetaData()
    by_table: dict[str, dict[str, str]] = {}
    for table, column, kind, _ in keyed_text_columns(engine):
        by_table.setdefault(table, {})[column] = values[kind]
    for name, written in by_table.items():
        table = Table(name, metadata, autoload_with=engine)
        row = {c.name: written.get(c.name, _filler(c)) for c in table.columns if not c.nullable or c.name in written}
        with engine.begin() as conn:
            conn.execute(insert(table).values(row))
            read = conn.execute(select(*(table.c[c] for c in written))).one()
        assert dict(read._mapping) == written, name
