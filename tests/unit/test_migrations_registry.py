"""Registry migrations 0002 (department event ids) and 0003 (event references) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, insert, select, text

from govchain.services.registry.projection import MIGRATIONS
from govchain.services.registry.tables import departments, metadata
from govchain.storage.engine import make_engine
from govchain.storage.migrations import alembic_config, upgrade_to_head


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_a_directory_from_0001_keeps_its_rows_without_event_ids(engine: Engine) -> None:
    config = alembic_config(MIGRATIONS)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(
            text(
                "INSERT INTO registry_departments (department_id, name, registered_height) "
                "VALUES ('land', 'Land Bureau', 3)"
            )
        )
    upgrade_to_head(engine, MIGRATIONS)
    with engine.begin() as conn:
        assert [tuple(row) for row in conn.execute(select(departments))] == [("land", "Land Bureau", 3, None)]
        longest_ref = "t" * 63 + "/" + "x" * 64  # source/id at their longest: 128 characters
        conn.execute(
            insert(departments).values(department_id="tax", name="Tax", registered_height=4, event_id=longest_ref)
        )
        assert (
            conn.execute(select(departments.c.event_id).where(departments.c.department_id == "tax")).scalar_one()
            == longest_ref
        )
        assert conn.execute(text("SELECT version_num FROM alembic_version_registry")).scalar_one() == "0004"
        context = MigrationContext.configure(
            conn, opts={"include_name": lambda name, type_, _: type_ != "table" or name in metadata.tables}
        )
        assert list(compare_metadata(context, metadata)) == []  # the models and the migrations agree
