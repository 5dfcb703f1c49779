"""Schema migrations with alembic: each service's store carries its own migration scripts."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def alembic_config(scripts: Path, engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(scripts))
    config.set_main_option("version_table", f"alembic_version_{scripts.parent.name}")
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def upgrade_to_head(engine: Engine, scripts: Path) -> None:
    """Bring the store's schema up to the newest migration (idempotent; runs at service start)."""
    config = alembic_config(scripts)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
