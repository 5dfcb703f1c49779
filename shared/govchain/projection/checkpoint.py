"""Where a projection stands: its last applied height, stored with the rows it changes.

A projection writes its rows and this checkpoint in one transaction, so after a crash it
resumes exactly after the last block it applied: never skipping, never applying twice.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, Text, insert, select, update

from govchain.protocol.merkle import Frontier
from govchain.protocol.state import ChainState
from govchain.protocol.verify import Checkpoint
from govchain.storage.migrations import upgrade_to_head

MIGRATIONS = Path(__file__).parents[1] / "storage" / "checkpoints" / "migrations"
"""The table's alembic scripts (version table ``alembic_version_checkpoints``)."""

metadata = MetaData()

checkpoints = Table(
    "govchain_checkpoints",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("height", Integer, nullable=False),
    Column("block_hash", String(64), nullable=False),
    Column("log_size", Integer, nullable=False),
    Column("log_json", Text, nullable=False),
    Column("state_json", Text, nullable=False),
)


def prepare_checkpoints(engine: Engine) -> None:
    """Create or migrate the checkpoint table with alembic, as every store does its own tables.

    A store made before the table was under alembic already has it: the first migration
    keeps it, rows and all (see its script)."""
    upgrade_to_head(engine, MIGRATIONS)


def load_checkpoint(conn: Connection, name: str) -> Checkpoint | None:
    row = conn.execute(select(checkpoints).where(checkpoints.c.name == name)).one_or_none()
    if row is None:
        return None
    state = ChainState.from_json(json.loads(row.state_json))
    log = json.loads(row.log_json)
    sha256_log = None
    if isinstance(log, dict):  # a gm chain's: its log and its SHA-256 log (see save_checkpoint)
        log, sha256_log = log["log"], Frontier.from_json(row.log_size, log["sha256_log"])
    return Checkpoint(
        height=row.height,
        block_hash=row.block_hash,
        log=Frontier.from_json(row.log_size, log, state.suite),
        state=state,
        sha256_log=sha256_log,
    )


def save_checkpoint(conn: Connection, name: str, checkpoint: Checkpoint, *, state_changed: bool) -> None:
    """Upsert the checkpoint; the (possibly large) chain state is rewritten only when it changed.

    ``log_json`` is the log's frontier (a list), or on a chain that keeps a SHA-256 tree too (gm)
    ``{"log": [...], "sha256_log": [...]}``: both frontiers, of one size, move together."""
    log: list[str] | dict[str, list[str]] = checkpoint.log.to_json()
    if checkpoint.sha256_log is not None:
        log = {"log": checkpoint.log.to_json(), "sha256_log": checkpoint.sha256_log.to_json()}
    values = {
        "height": checkpoint.height,
        "block_hash": checkpoint.block_hash,
        "log_size": checkpoint.log.size,
        "log_json": json.dumps(log),
    }
    if state_changed:
        values["state_json"] = json.dumps(checkpoint.state.to_json())
    updated = conn.execute(update(checkpoints).where(checkpoints.c.name == name).values(**values))
    if updated.rowcount == 0:
        values.setdefault("state_json", json.dumps(checkpoint.state.to_json()))
        conn.execute(insert(checkpoints).values(name=name, **values))
