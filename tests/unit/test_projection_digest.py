"""The projection digest: equal for equal rows in any order, different for any changed cell,
blind only to what a replay legitimately cannot reproduce."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from govchain.privacy.kek import Kek
from govchain.privacy.vault import KeyVault
from govchain.projection.checkpoint import prepare_checkpoints
from govchain.projection.digest import projection_digest, table_digests
from govchain.services.analytics.projection import AnalyticsProjection
from govchain.services.contract.projection import ContractEngineProjection
from govchain.services.identity.projection import IdentityProjection
from govchain.services.ledger.store import LedgerStore
from govchain.services.registry.projection import RegistryProjection

ROWS = [(1, "a", b"\x00\x01", None), (2, "b", b"\xff", 2.5), (3, "c", b"", -1.0)]


def store(tmp_path: Path, name: str, rows: list[tuple[object, ...]] = ROWS) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / name}.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE things (id INTEGER PRIMARY KEY, label TEXT, blob BLOB, weight REAL)"))
        conn.execute(text("CREATE TABLE alembic_version_things (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version_things VALUES (:v)"), {"v": name})
        for row in rows:
            conn.execute(text("INSERT INTO things VALUES (:i, :l, :b, :w)"), dict(zip("ilbw", row, strict=True)))
    return engine


def test_the_order_rows_were_written_in_does_not_matter(tmp_path: Path) -> None:
    assert projection_digest(store(tmp_path, "a")) == projection_digest(store(tmp_path, "b", ROWS[::-1]))


@pytest.mark.parametrize(
    "changed",
    [
        (1, "a", b"\x00\x02", None),  # one byte of a blob
        (1, "a ", b"\x00\x01", None),  # trailing space
        (1, "a", b"\x00\x01", 0.0),  # NULL against zero
        (1, "1", b"\x00\x01", None),  # text against a number's spelling
    ],
)
def test_any_changed_cell_changes_the_digest(tmp_path: Path, changed: tuple[object, ...]) -> None:
    other = store(tmp_path, "b", [changed, *ROWS[1:]])
    assert projection_digest(store(tmp_path, "a")) != projection_digest(other)
    assert set(table_digests(store(tmp_path, "c")).items()) ^ set(table_digests(other).items()) != set()


def test_a_missing_or_extra_row_or_table_changes_the_digest(tmp_path: Path) -> None:
    full = projection_digest(store(tmp_path, "a"))
    assert projection_digest(store(tmp_path, "b", ROWS[:2])) != full
    extra = store(tmp_path, "c")
    with extra.begin() as conn:
        conn.execute(text("CREATE TABLE more (x INTEGER)"))
    assert projection_digest(extra) != full


def test_alembic_versions_the_vault_and_outbox_delivery_are_left_out(tmp_path: Path) -> None:
    """The version tables differ here (each holds its store's name) and yet the digests agree;
    the vault's random keys and the outbox's published flag are not functions of the chain."""
    one, two = store(tmp_path, "a"), store(tmp_path, "b")
    for engine in (one, two):
        KeyVault(engine, Kek.generate()).key_for_sealing("c-" + "0" * 32)  # a fresh random key in each
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE contract_outbox (event_id TEXT PRIMARY KEY, published INTEGER)"))
    with one.begin() as conn:
        conn.execute(text("INSERT INTO contract_outbox VALUES ('e1', 1)"))
    with two.begin() as conn:
        conn.execute(text("INSERT INTO contract_outbox VALUES ('e1', 0)"))
    assert "privacy_subject_keys" not in table_digests(one)
    assert not any(name.startswith("alembic_version") for name in table_digests(one))
    assert projection_digest(one) == projection_digest(two)
    with two.begin() as conn:
        conn.execute(text("UPDATE contract_outbox SET event_id = 'e2'"))
    assert projection_digest(one) != projection_digest(two)


def test_every_real_store_digests_alike_when_freshly_made(tmp_path: Path) -> None:
    """Reflection copes with every table the services create, and two empty stores agree."""
    projections = {
        "identity": IdentityProjection(),
        "registry": RegistryProjection(),
        "contract": ContractEngineProjection(),
        "analytics": AnalyticsProjection(),
    }
    for name, projection in projections.items():
        made = []
        for copy in ("one", "two"):
            engine = create_engine(f"sqlite:///{tmp_path / name}-{copy}.db")
            prepare_checkpoints(engine)
            projection.prepare(engine)
            made.append(table_digests(engine))
        assert made[0] == made[1] and "govchain_checkpoints" in made[0], name
    ledger = table_digests(LedgerStore(create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")).engine)
    assert {"ledger_blocks", "ledger_events", "ledger_merkle_nodes", "govchain_checkpoints"} <= set(ledger)
