"""A throw-away GovChain node for the benchmark: embedded NATS plus the ledger in a child process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from nats.aio.client import Client
from nats.js.errors import NotFoundError

from govchain.bus import subjects
from govchain.bus.connect import connect
from govchain.bus.embedded import SYNC_ALWAYS, EmbeddedNats
from govchain.bus.errors import NATS_ERRORS, is_transient
from govchain.bus.subjects import DEFAULT, ChainNames
from govchain.client import GovChainClient
from govchain.crypto import DEFAULT_SUITE
from govchain.datadir import DataDir
from govchain.protocol import events as ev
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey

READY_TIMEOUT_S = 60.0
REPO_ROOT = Path(__file__).resolve().parents[1]


def proc_status_kib(pid: int, field_name: str) -> int | None:
    """A memory figure (kB) from /proc/<pid>/status: VmRSS (now) or VmHWM (peak)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class BenchPlatform:
    """Start with :meth:`start`, stop with :meth:`stop`; ``nc`` is the benchmark's own connection."""

    workdir: Path
    ledger_env: dict[str, str] = field(default_factory=dict)
    profile_out: Path | None = None
    chain_id: str = "bench-chain"
    sync_interval: str = SYNC_ALWAYS
    """JetStream's fsync policy: ``always`` (durable acks, the default) or a duration."""
    crypto: str = DEFAULT_SUITE
    """The chain's crypto profile, as ``govchain init --crypto`` takes it: ``intl`` or ``gm``."""
    shared_nats_url: str | None = None
    """A NATS server (or cluster) that several chains share; None: an embedded one of its own."""
    named: bool = False
    """Stream and subject names carry the chain id (``GOVCHAIN_CHAIN``), as on a shared cluster."""
    nats: EmbeddedNats | None = None
    data: DataDir | None = None
    genesis_hash: str = ""
    ledger: subprocess.Popen[bytes] | None = None
    nc: Client | None = None

    async def start(self) -> None:
        self.data = DataDir(self.workdir / "node")
        self.genesis_hash = self.data.init(self.chain_id, crypto=self.crypto)["genesis_hash"]
        if self.shared_nats_url is None:
            self.nats = EmbeddedNats(self.workdir / "nats", port=0, sync_interval=self.sync_interval).start()
        self.nc = await connect(self.nats_url, name=f"bench-{self.chain_id}")
        command = [sys.executable, "-m", "bench.ledger_proc", "--data", str(self.data.root)]
        command += ["--nats-url", self.nats_url]
        if self.profile_out is not None:
            command += ["--profile", str(self.profile_out)]
        env = {**os.environ, **self.ledger_env, **({"GOVCHAIN_CHAIN": self.chain_id} if self.named else {})}
        self.ledger = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdin=subprocess.DEVNULL)
        await self._wait_for_orderer()

    async def _wait_for_orderer(self) -> None:
        """Ready once the orderer's durable pull consumer exists (it is made after recovery)."""
        assert self.nc is not None and self.ledger is not None
        js = self.nc.jetstream()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.ledger.poll() is not None:
                raise RuntimeError(f"ledger process exited with code {self.ledger.returncode}")
            try:
                await js.consumer_info(self.names.events_stream, subjects.ORDERER_CONSUMER)
                return
            except NotFoundError:
                await asyncio.sleep(0.1)
            except NATS_ERRORS as exc:  # a cluster answers nothing until it has elected its leaders
                if not is_transient(exc):
                    raise
                await asyncio.sleep(0.25)
        raise RuntimeError("ledger did not start ordering in time")

    @property
    def nats_url(self) -> str:
        if self.shared_nats_url is not None:
            return self.shared_nats_url
        assert self.nats is not None, "started"
        return self.nats.url

    @property
    def names(self) -> ChainNames:
        return ChainNames(self.chain_id) if self.named else DEFAULT

    @property
    def client(self) -> GovChainClient:
        assert self.nc is not None
        return GovChainClient(self.nc, names=self.names)

    def cpu_seconds(self) -> dict[str, float | None]:
        """CPU time used so far by the orderer, the NATS server and the benchmark itself: per
        event, these figures hold still when other work on the machine slows the wall clock."""
        nats_pid = self.nats.pid if self.nats is not None else None
        return {
            "orderer": None if self.ledger is None else proc_cpu_seconds(self.ledger.pid),
            "nats_server": None if nats_pid is None else proc_cpu_seconds(nats_pid),
            "bench_client": proc_cpu_seconds(os.getpid()),
        }

    def ledger_memory_kib(self, field_name: str = "VmHWM") -> int | None:
        return None if self.ledger is None else proc_status_kib(self.ledger.pid, field_name)

    async def register_departments(self, names: list[str]) -> dict[str, SigningKey]:
        """Root admits each department with a fresh key of the chain's suite; returns the keys
        once committed."""
        assert self.data is not None
        root = self.data.signing_key("root")
        suite = self.data.crypto_suite()
        keys = {name: SigningKey.generate(suite) for name in names}
        envelopes = [
            make_event(
                root,
                source=ev.ROOT,
                type="department.registered",
                data={"department_id": name, "name": name.title(), "public_key": key.public.hex},
            )
            for name, key in keys.items()
        ]
        receipts = await asyncio.gather(*(self.client.submit(e, timeout=60) for e in envelopes))
        for receipt in receipts:
            if receipt["status"] != "committed":
                raise RuntimeError(f"department registration refused: {receipt}")
        return keys

    async def stop(self) -> None:
        if self.ledger is not None and self.ledger.poll() is None:
            self.ledger.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.ledger.wait, 60)
            except subprocess.TimeoutExpired:
                self.ledger.kill()
                self.ledger.wait()
        if self.nc is not None:
            await self.nc.drain()
        if self.nats is not None:
            self.nats.stop()
