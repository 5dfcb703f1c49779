"""Crash injection: ``kill -9`` at random moments under load, then hold the platform to its word.

Three ways to crash, each its own test:

* the whole platform (``govchain up``: every service and, alternately, its embedded NATS
  server in the same instant, or NATS left to die with its parent), restarted on the same
  data folder;
* one service of a deployment (``govchain serve``: the ledger, or a projection service),
  restarted while NATS and the other services run on;
* one NATS node of a 3-node cluster with every stream at replicas 3, restarted on its store.

After every restart, with the load drained: everything is back and caught up on its own,
``govchain verify`` passes, every event that got a PubAck is on chain exactly once (or
refused with a reason on REJECTED), and every store equals a fresh replay of the chain.

A few kills per test run in the ordinary suite, for the platform and the service modes; the
NATS-node mode runs in the long run only (``make crash``), where ``GOVCHAIN_CRASH_KILLS=N`` runs
N kills per test; in the ordinary suite a node's death is covered by ``tests/cluster``. Kill moments come from a seeded RNG; the seed is
printed, and ``GOVCHAIN_CRASH_SEED=<seed>`` replays the same choices.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nats
import pytest

from govchain.bus import subjects
from govchain.bus.blocks import last_height
from govchain.bus.embedded import EmbeddedNats, NatsCluster
from govchain.client import GovChainClient
from govchain.datadir import DataDir

from .checks import STORES, account, checkpoint_height, compare_stores, run_verify, settle
from .load import LoadProcess, prepare_chain
from .procs import GOVCHAIN, REPO, Platform, Services, harness_env

SEED = int(os.environ.get("GOVCHAIN_CRASH_SEED") or random.SystemRandom().randrange(2**32))
KILLS = int(os.environ.get("GOVCHAIN_CRASH_KILLS") or 0)
"""Kills per test; 0: the few the ordinary suite can afford."""
CRYPTO = os.environ.get("GOVCHAIN_CRASH_CRYPTO") or "intl"
"""The chains' crypto profile: ``gm`` kills a 国密 ledger (SM3 tree and its SHA-256 shadow)."""
PROJECTION_SERVICES = ("identity", "registry", "contract", "analytics")


@dataclass
class Figures:
    """What one test did, printed at its end (``pytest -s`` shows it)."""

    mode: str
    seed: int
    kills: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    acked_messages: int = 0
    acked_events: int = 0
    chain_events: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    resends: int = 0
    js_duplicates: int = 0
    comparisons: int = 0
    restart_s: list[float] = field(default_factory=list)
    settle_s: list[float] = field(default_factory=list)
    rebuild_s: float = 0.0
    load: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def count(self, kind: str) -> None:
        self.kills += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def report(self) -> str:
        out = asdict(self)
        out["duration_s"] = round(time.monotonic() - self.started, 1)
        out["restart_s"] = _spread(self.restart_s)
        out["settle_s"] = _spread(self.settle_s)
        out["rebuild_s"] = round(self.rebuild_s, 1)
        del out["started"]
        return "crash figures " + json.dumps(out)


def _spread(values: list[float]) -> dict[str, float]:
    return (
        {"n": len(values), "max": round(max(values), 1), "mean": round(sum(values) / len(values), 1)} if values else {}
    )


class Harness:
    """The parts every crash test shares: the seeded RNG, the load, the checks after a restart."""

    def __init__(
        self,
        tmp: Path,
        mode: str,
        data: Path,
        env: dict[str, str],
        url: Callable[[], str],
        alive: Callable[[], list[str]],
        *,
        cluster: bool = False,
        verify_with_url: bool = True,
    ) -> None:
        self.tmp, self.mode, self.data, self.env = tmp, mode, data, env
        self.url, self.alive, self.cluster, self.verify_with_url = url, alive, cluster, verify_with_url
        self.rng = random.Random(f"{SEED}/{mode}")
        self.figures = Figures(mode, SEED)
        self.url_file, self.record, self.cast_dir = tmp / "load-url", tmp / "acked.jsonl", tmp / "cast"
        self.load: LoadProcess | None = None
        print(f"\ncrash harness: mode={mode} crypto={CRYPTO} GOVCHAIN_CRASH_SEED={SEED} kills={self.kills}", flush=True)

    @property
    def kills(self) -> int:
        return KILLS or {"platform": 2, "service": 2, "nats-node": 1}[self.mode]  # each alternative once

    def where(self, cycle: int) -> str:
        return f"[GOVCHAIN_CRASH_SEED={SEED} mode={self.mode} cycle {cycle}/{self.kills}; logs in {self.tmp}]"

    async def client(self) -> nats.aio.client.Client:
        return await nats.connect(
            self.url().split(","),
            connect_timeout=5,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,
            name="crash-checks",
        )

    async def prepare(self) -> None:
        """Departments, citizens and the licence contract on chain; then the first checks."""
        nc = await self.client()
        try:
            client = GovChainClient(nc)
            deadline = time.monotonic() + 120
            while True:  # separate services: the ledger creates the streams once it is up
                try:
                    await client.head()
                    break
                except Exception:  # noqa: BLE001
                    assert time.monotonic() < deadline, "the ledger did not answer within 120s:\n" + "\n".join(
                        self.alive()
                    )
                    await asyncio.sleep(0.2)
            cast = await prepare_chain(client, DataDir(self.data), self.rng)
        finally:
            await nc.close()
        cast.save(self.cast_dir)
        self.point_load()
        await self.check(0)

    def point_load(self) -> None:
        """Tell the publisher where NATS is now (atomically: it reads the file on every retry)."""
        fresh = self.url_file.with_suffix(".new")
        fresh.write_text(self.url())
        fresh.replace(self.url_file)

    def _acks(self) -> int:
        return self.record.read_text().count("\n") if self.record.exists() else 0

    async def load_flowing(self, timeout: float = 120) -> None:
        """Wait for the next PubAck: kill moments are counted from there, so every kill
        lands under load, and the load is known to reach a restarted platform."""
        seen, started = self._acks(), time.monotonic()
        while self._acks() == seen:
            assert time.monotonic() - started < timeout, f"no PubAck within {timeout:.0f}s:\n" + "\n".join(self.alive())
            await asyncio.sleep(0.05)

    async def start_load(self, cycle: int) -> None:
        self.load = LoadProcess(
            self.cast_dir,
            self.url_file,
            self.record,
            seed=self.rng.getrandbits(64),
            tag=f"k{cycle}",
            pause_ms=40,
            log=self.tmp / "load.log",
        )
        await self.load_flowing()

    def stop_load(self) -> None:
        load, self.load = self.load, None
        assert load is not None
        for key, value in load.stop().items():
            self.figures.load[key] = self.figures.load.get(key, 0) + value

    def abandon_load(self) -> None:
        """On the way out of a failed test: kill the publisher, if one still runs."""
        load, self.load = self.load, None
        if load is not None and load.process.poll() is None:
            load.process.kill()
            load.process.wait()

    async def pause(self, low: float, high: float) -> None:
        await asyncio.sleep(self.rng.uniform(low, high))

    async def end_cycle(self, cycle: int) -> None:
        """Let the load run on against what was restarted, stop it, and check everything."""
        await self.load_flowing()
        await self.pause(0.2, 1.0)
        self.stop_load()
        await self.check(cycle)

    async def check(self, cycle: int) -> None:
        """(a) back and caught up by itself, (b) verify, (c) PubAcks accounted, (d) stores = rebuild."""
        where = self.where(cycle)
        dead = self.alive()
        assert not dead, f"{where} a process died after the restart:\n" + "\n".join(dead)
        nc = await self.client()
        try:
            js = nc.jetstream()
            settled = await settle(js, self.data / "db", self.alive, cluster=self.cluster)
            self.figures.settle_s.append(settled.waited_s)
            code, summary, stderr = run_verify(self.data, self.env, self.url() if self.verify_with_url else None)
            assert code == 0 and summary.get("ok"), f"{where} govchain verify exited {code}: {summary} {stderr}"
            accounting = await account(js, self.record) if self.record.exists() else None
            if accounting is not None:
                assert not accounting.problems, f"{where} PubAck'd events:\n" + "\n".join(accounting.problems[:20])
                self.figures.acked_messages, self.figures.acked_events = accounting.acked_messages, accounting.acked_ids
                self.figures.chain_events, self.figures.rejected = accounting.chain_events, dict(accounting.rejected)
                self.figures.resends, self.figures.js_duplicates = accounting.resends, accounting.js_duplicates
            scratch = self.tmp / "rebuild"
            comparison = await compare_stores(js, self.data / "db", scratch, settled.head)
            shutil.rmtree(scratch, ignore_errors=True)
            assert not comparison.problems, f"{where} stores against a rebuild:\n" + "\n".join(comparison.problems)
            self.figures.comparisons += comparison.stores
            self.figures.rebuild_s += comparison.rebuild_s
        finally:
            await nc.close()
        print(
            f"  cycle {cycle}: head {settled.head}, {self.figures.acked_events} acked events accounted, "
            f"{comparison.stores} stores equal to a rebuild, settled in {settled.waited_s:.1f}s",
            flush=True,
        )


def init_chain(data: Path, env: dict[str, str], chain_id: str) -> None:
    subprocess.run(
        [*GOVCHAIN, "init", "--data", str(data), "--chain-id", chain_id, "--crypto", CRYPTO],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
    )


def during_recovery(cycle: int) -> bool:
    """Every fourth kill is followed by a second one while the victim recovers (long runs)."""
    return cycle % 4 == 0


def kill_platform(harness: Harness, platform: Platform, cycle: int, *, nats_too: bool, what: str) -> None:
    kill = platform.kill(nats_too=nats_too)
    where = harness.where(cycle)
    assert not kill.survivors, f"{where} outlived their killed parent `govchain up`: {kill.survivors}"
    assert kill.nats_pid is not None or what != "platform", f"{where} no embedded nats-server under govchain up"
    harness.figures.count(f"{what}{'+nats' if nats_too else ' (nats by PDEATHSIG)'}")


async def test_the_platform_survives_kill_9(tmp_path: Path) -> None:
    """``govchain up`` killed with its whole process group; restarted on the same folder."""
    data, env = tmp_path / "node", harness_env()
    init_chain(data, env, "crash-platform")
    platform = Platform(data, tmp_path / "platform.log", env)
    platform.start()
    harness = Harness(
        tmp_path, "platform", data, env, lambda: platform.nats_url, platform.alive, verify_with_url=False
    )  # `govchain verify` finds NATS in run.json, as a user's would
    try:
        await harness.prepare()
        for cycle in range(1, harness.kills + 1):
            await harness.start_load(cycle)
            await harness.pause(0.3, 3.0)
            # Alternately the machine stops (NATS killed too) and only the platform process dies.
            kill_platform(harness, platform, cycle, nats_too=cycle % 2 == 0, what="platform")
            if during_recovery(cycle):
                platform.spawn()
                await harness.pause(0.2, 3.0)
                kill_platform(harness, platform, cycle, nats_too=harness.rng.random() < 0.5, what="recovering")
            harness.figures.restart_s.append(platform.start())
            harness.point_load()
            await harness.end_cycle(cycle)
    finally:
        harness.abandon_load()
        code = platform.stop()
        print(harness.figures.report(), flush=True)
    assert code == 0, f"govchain up did not stop cleanly on Ctrl-C (exit {code})"


def _victim(harness: Harness, cycle: int) -> str:
    """The ledger and the registry first (the CI pair), then half ledger, half a projection."""
    if cycle <= 2:
        return ("ledger", "registry")[cycle - 1]
    return "ledger" if harness.rng.random() < 0.5 else harness.rng.choice(PROJECTION_SERVICES)


async def test_a_service_killed_alone_recovers(tmp_path: Path) -> None:
    """One ``govchain serve`` process killed (the ledger, or a projection mid-block) while
    NATS and the others run on; restarted as a supervisor would."""
    data, env = tmp_path / "node", harness_env()
    init_chain(data, env, "crash-service")
    with EmbeddedNats(tmp_path / "nats", port=0) as server:
        services = Services(data, server.url, tmp_path / "logs", env)
        for name in ("ledger", *PROJECTION_SERVICES):
            services.start(name)
        harness = Harness(tmp_path, "service", data, env, lambda: server.url, services.alive)
        try:
            await harness.prepare()
            for cycle in range(1, harness.kills + 1):
                await harness.start_load(cycle)
                await harness.pause(0.3, 3.0)
                victim = _victim(harness, cycle)
                services.kill(victim)
                harness.figures.count(victim)
                await harness.pause(0.0, 1.0)  # down for a moment, the load going on
                services.start(victim)
                if during_recovery(cycle):
                    await harness.pause(0.2, 2.0)
                    services.kill(victim)
                    harness.figures.count(f"{victim} (recovering)")
                    services.start(victim)
                harness.figures.restart_s.append(await _back(harness, victim))
                await harness.end_cycle(cycle)
        finally:
            harness.abandon_load()
            codes = services.stop_all()
            print(harness.figures.report(), flush=True)
    assert set(codes.values()) == {0}, f"services did not stop cleanly on SIGTERM: {codes}"


async def _back(harness: Harness, victim: str, timeout: float = 120) -> float:
    """Seconds until a restarted service is back: the ledger answers queries; a projection
    has applied the block that was the head when it restarted."""
    started = time.monotonic()
    nc = await harness.client()
    try:
        client, store = GovChainClient(nc), next((s for s in STORES if s.name == victim), None)
        target = await last_height(nc.jetstream())
        while time.monotonic() - started < timeout:
            assert not harness.alive(), "\n".join(harness.alive())
            try:
                if store is None or store.projection is None:
                    await client.head()
                    return time.monotonic() - started
                height = checkpoint_height(harness.data / "db", store)
                if height is not None and height >= target:
                    return time.monotonic() - started
            except Exception:  # noqa: BLE001  (not back yet)
                pass
            await asyncio.sleep(0.1)
    finally:
        await nc.close()
    raise AssertionError(f"{victim} was not back within {timeout:.0f}s of its restart")


async def _blocks_leader(url: str) -> str | None:
    nc = await nats.connect(url.split(","), connect_timeout=5)
    try:
        info = await nc.jetstream().stream_info(subjects.BLOCKS_STREAM)
        return info.cluster.leader if info.cluster else None
    except Exception:  # noqa: BLE001  (only a figure)
        return None
    finally:
        await nc.close()


async def kill_node(harness: Harness, cluster: NatsCluster, node: EmbeddedNats, what: str) -> None:
    leader = await _blocks_leader(cluster.url)
    node.kill()
    harness.figures.count(f"{what}: {'BLOCKS leader' if leader == node.server_name else 'follower'}")


@pytest.mark.skipif(not KILLS, reason="the long run only: make crash (tests/cluster kills a node in every run)")
async def test_a_nats_node_of_three_killed_loses_nothing(tmp_path: Path) -> None:
    """One node of a 3-node JetStream cluster (streams at replicas 3) killed and restarted on
    its own store, while the services and the load run on the other two."""
    data, env = tmp_path / "node", harness_env(GOVCHAIN_STREAM_REPLICAS="3")
    init_chain(data, env, "crash-cluster")
    with NatsCluster(tmp_path / "nats") as cluster:
        services = Services(data, cluster.url, tmp_path / "logs", env)
        for name in ("ledger", *PROJECTION_SERVICES):
            services.start(name)
        harness = Harness(tmp_path, "nats-node", data, env, lambda: cluster.url, services.alive, cluster=True)
        try:
            await harness.prepare()
            for cycle in range(1, harness.kills + 1):
                await harness.start_load(cycle)
                await harness.pause(0.3, 3.0)
                node = harness.rng.choice(cluster.nodes)
                await kill_node(harness, cluster, node, "node")
                await harness.pause(0.5, 3.0)  # the cluster runs on two nodes meanwhile
                started = time.monotonic()
                node.start()
                harness.figures.restart_s.append(time.monotonic() - started)
                if during_recovery(cycle):  # another node, while the first one catches up
                    other = harness.rng.choice([n for n in cluster.nodes if n is not node])
                    await harness.pause(0.2, 2.0)
                    await kill_node(harness, cluster, other, "second node")
                    await harness.pause(0.5, 3.0)
                    other.start()
                harness.point_load()
                await harness.end_cycle(cycle)
        finally:
            harness.abandon_load()
            codes = services.stop_all()
            print(harness.figures.report(), flush=True)
    assert set(codes.values()) == {0}, f"services did not stop cleanly on SIGTERM: {codes}"
