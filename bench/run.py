"""``make bench``: GovChain's ledger against raw JetStream, on an embedded platform.

Phases, in one run on one NATS server:
 1. start NATS and the ledger (own process), register departments, warm up and calibrate;
 2. pre-sign the events of the timed phases (not timed), as batch envelopes of
    ``--batch-size`` events each signed once (1: every event signed and sent alone);
 3. raw JetStream, for reference: events signed alone, one per message, published with acks
    and pull-consumed (``raw_jetstream_per_s``, ``ratio_per_event_raw``);
 4. peak: publish as fast as the ledger commits for ``--duration`` s (>= 20 by default); then
    raw JetStream carrying the peak's own messages (the same batch envelopes, so the same bytes
    per message, pipelined acks, consumed with acks by the orderer's puller in its own
    process), at least as many events as the peak committed: ``raw_batched_per_s``, and the
    headline ``ratio`` = ``events_per_s`` / ``raw_batched_per_s``;
 5. latency: publish at half the measured peak, publish-to-commit p50/p99;
 6. catch-up: a new projection replays the whole chain; verify: ``verify_chain`` of it;
 7. scaling: the ledger's proof store at 10^4, 10^5, 10^6 events (store built directly, synthetic
    SHA-256 leaves under either ``--crypto``: both suites' hashes are 32 bytes);
 8. the orderer's CPU per step without NATS, and what pulling a message costs (bench/pullcost.py);
 9. the orderer's own loop with NATS faked, CPU per event by stage (bench/hotpath.py).
Prints a table, then one JSON line. ``--quick`` is a ~10 s smoke run. JetStream fsyncs every
write before acking it (``--nats-sync-interval always``, ``"durable": true`` in the JSON) unless
given a duration (``--nats-sync-interval 2m``: the labelled variant, ``"durable": false``); the
raw baselines run on the same server, so they pay the same.

``--crypto gm`` runs every phase on a 国密 chain (``govchain init --crypto gm``: SM2 keys for
root, orderer and departments, SM3 hashing); the JSON line says which (``"crypto"``).

    python -m bench.run [--quick] [--duration 20] [--nats-sync-interval always] [--profile bench/profiles]
                        [--crypto intl|gm] [--json-out f.json]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.breakdown import measure, print_breakdown
from bench.hotpath import measure_async as hotpath
from bench.hotpath import print_hotpath
from bench.load import PhaseResult, paced, percentile, saturate
from bench.platform import BenchPlatform
from bench.profiling import profiled
from bench.pullcost import measure as pull_cost
from bench.rawjs import raw_jetstream
from bench.replay import catch_up, verify
from bench.report import json_line, machine_info, print_table, targets_met
from bench.scaling import run_scaling
from bench.tracker import CommitTracker
from bench.workload import WireMessage, event_count, presign
from govchain.bus.blocks import last_height
from govchain.bus.embedded import SYNC_ALWAYS, check_sync_interval
from govchain.crypto import DEFAULT_SUITE, SUITE_NAMES
from govchain.logs import configure_logging
from govchain.runtime import settle_for_service

RSS_MARKS = (10_000, 100_000, 1_000_000)
MAX_PRESIGNED = 400_000
PRESIGN_HEADROOM = 2.0
"""Events signed for the peak phase, as a multiple of the warm-up rate times its duration."""
_STARTED = time.monotonic()


def progress(message: str) -> None:
    print(f"[bench {time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Plan:
    duration_s: float
    latency_s: float
    warmup_events: int
    raw_events: int
    departments: int
    window: int | None
    scaling_points: tuple[int, ...]
    breakdown_events: int
    batch_size: int
    hotpath_events: int = 20_000
    nats_sync_interval: str = SYNC_ALWAYS
    crypto: str = DEFAULT_SUITE

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Plan:
        quick = args.quick
        sizes = args.scaling or ("10000" if quick else "10000,100000,1000000")
        points = () if args.no_scaling else tuple(int(p) for p in sizes.split(","))
        return cls(
            duration_s=args.duration or (2.5 if quick else 20.0),
            latency_s=args.latency_duration or (1.5 if quick else 15.0),
            warmup_events=800 if quick else 6_000,
            raw_events=args.raw_events or (5_000 if quick else 60_000),
            departments=args.departments,
            window=args.window,
            scaling_points=points,
            breakdown_events=1_000 if quick else 5_000,
            hotpath_events=4_000 if quick else 20_000,
            batch_size=args.batch_size,
            nats_sync_interval=args.nats_sync_interval,
            crypto=args.crypto,
        )


def ran_out(peak: PhaseResult, offered: list[WireMessage]) -> bool:
    """True when the peak phase published every pre-signed event (so it may have starved).

    Counted in events, as ``published`` is: a batch message carries many."""
    return peak.published >= event_count(offered)


def _latency_figures(result: PhaseResult, tracker: CommitTracker) -> dict[str, float]:
    latencies = result.latencies_ms(tracker)
    worst = latencies[-1] if latencies else 0.0
    return {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "max": worst}


def _cpu_per_event(before: dict[str, float | None], after: dict[str, float | None], events: int) -> dict[str, float]:
    """CPU µs per committed event of each process over a phase (it includes the drain)."""
    return {
        name: (after[name] - start) / events * 1e6  # type: ignore[operator]
        for name, start in before.items()
        if start is not None and after.get(name) is not None and events
    }


async def bench(plan: Plan, workdir: Path, profile_dir: Path | None, ledger_env: dict[str, str]) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "machine": machine_info(),
        "plan": asdict(plan),
        "ledger_env": ledger_env,
        "nats_sync_interval": plan.nats_sync_interval,
        "durable": plan.nats_sync_interval == SYNC_ALWAYS,
        "crypto": plan.crypto,
    }
    platform = BenchPlatform(
        workdir,
        ledger_env,
        profile_dir / "orderer.txt" if profile_dir else None,
        sync_interval=plan.nats_sync_interval,
        crypto=plan.crypto,
    )
    progress(f"starting NATS and the ledger in {workdir} ({plan.crypto} chain)")
    await platform.start()
    rss_at: dict[int, int] = {}

    def sample_rss(log_size: int) -> None:
        for mark in RSS_MARKS:
            if log_size >= mark and mark not in rss_at:
                rss_at[mark] = platform.ledger_memory_kib("VmRSS") or 0

    try:
        assert platform.nc is not None
        js = platform.nc.jetstream()
        keys = await platform.register_departments([f"dept{i}" for i in range(plan.departments)])
        tracker = CommitTracker(js, await last_height(js) + 1, on_block=sample_rss)
        tracker.start()

        progress(f"warm-up: {plan.warmup_events} events")
        batched = plan.batch_size
        warm_messages = presign(keys, plan.warmup_events, tag="warm", batch_size=batched)
        warm = await saturate(js, tracker, warm_messages, duration_s=120, window=2_000)
        estimate = max(warm.rate, 100.0)
        window = plan.window or max(2_000, int(estimate * 0.75))
        n_peak = min(MAX_PRESIGNED, int(estimate * PRESIGN_HEADROOM * plan.duration_s) + 2_000)
        n_latency = min(MAX_PRESIGNED, int(estimate * 0.6 * plan.latency_s) + 500)
        progress(f"warm-up rate {warm.rate:,.0f}/s; pre-signing {n_peak + n_latency:,} events")
        peak_events = presign(keys, n_peak, tag="peak", batch_size=batched)
        latency_events = presign(keys, n_latency, tag="lat", batch_size=batched)
        nats_url = platform.nats.url if platform.nats else ""

        progress(f"raw JetStream, for reference: {plan.raw_events:,} events, each signed alone, one per message")
        raw = await raw_jetstream(js, nats_url, presign(keys, plan.raw_events, tag="raw"))
        progress(f"peak: saturating for {plan.duration_s:g}s")
        cpu_before = platform.cpu_seconds()
        peak = await saturate(js, tracker, peak_events, duration_s=plan.duration_s, window=window)
        figures["peak_cpu_us_per_event"] = _cpu_per_event(cpu_before, platform.cpu_seconds(), peak.committed)
        figures["orderer_us_per_event"] = figures["peak_cpu_us_per_event"].get("orderer", 0.0)
        if ran_out(peak, peak_events):
            progress("warning: the peak phase ran out of pre-signed events (the rate is a lower bound)")
        # The like-for-like baseline: the very messages the peak phase offered (the same batch
        # envelopes, so the same bytes per message), at least as many events as it committed.
        raw_messages = peak_events
        progress(
            f"raw JetStream, the peak's own messages: {len(raw_messages):,} messages, "
            f"{event_count(raw_messages):,} events (the peak committed {peak.committed:,})"
        )
        raw_batched = await raw_jetstream(js, nats_url, raw_messages)
        peak_latency = _latency_figures(peak, tracker)
        progress(f"latency: {peak.rate / 2:,.0f} events/s for {plan.latency_s:g}s")
        latency = await paced(js, tracker, latency_events, rate=peak.rate / 2, duration_s=plan.latency_s)
        half = _latency_figures(latency, tracker)
        await tracker.stop()
        figures["orderer_peak_rss_mib"] = (platform.ledger_memory_kib("VmHWM") or 0) / 1024
        figures["orderer_rss_at_events"] = rss_at

        peak_ran_out = ran_out(peak, peak_events)
        # A projection or an auditor runs in a process of its own, which holds none of the
        # load generator's half a million pre-signed messages and commit times: drop them, and
        # freeze what is left, as a GovChain service does once it has started
        # (govchain.runtime.settle_for_service), so the collector does not walk them while
        # catch-up and verify allocate.
        for big in (
            warm_messages,
            peak_events,
            latency_events,
            tracker.commit_time,
            warm.publish_time,
            peak.publish_time,
            latency.publish_time,
        ):
            big.clear()
        settle_for_service()
        progress("catch-up: a new projection replays the chain")
        with profiled(profile_dir / "catchup.txt" if profile_dir else None):
            caught = await catch_up(js, platform.genesis_hash, workdir)
        progress("verify: verify_chain over the whole chain")
        with profiled(profile_dir / "verify.txt" if profile_dir else None):
            verified = await verify(js, platform.genesis_hash)
    finally:
        await platform.stop()

    ratio = peak.rate / raw_batched.rate if raw_batched.rate else 0.0
    figures.update(
        events_per_s=peak.rate,
        raw_batched_per_s=raw_batched.rate,
        ratio=ratio,
        raw_batched_events=raw_batched.events,
        raw_batched_seconds=raw_batched.seconds,
        raw_jetstream_per_s=raw.rate,
        ratio_per_event_raw=peak.rate / raw.rate if raw.rate else 0.0,
        batch_size=batched,
        raw_jetstream_batched_events_per_s=raw_batched.rate,
        ratio_to_raw_batched=ratio,
        p50_ms=half["p50"],
        p99_ms=half["p99"],
        latency_rate_per_s=peak.rate / 2,
        catchup_per_s=caught.rate,
        verify_per_s=verified.rate,
        catchup_cpu_us_per_event=caught.cpu_us_per_event,
        verify_cpu_us_per_event=verified.cpu_us_per_event,
        catchup_events_per_s=caught.rate,
        verify_events_per_s=verified.rate,
        verify_ok=verified.ok,
        verify_detail=verified.detail,
        chain_events=verified.events,
        chain_blocks=verified.blocks,
        sustained_s=peak.seconds,
        peak_committed=peak.committed,
        peak_p50_ms=peak_latency["p50"],
        peak_p99_ms=peak_latency["p99"],
        half_rate_max_ms=half["max"],
        raw_publish_per_s=raw.publish_rate,
        warmup_events_per_s=warm.rate,
        lost_events=peak.missing_after_drain + latency.missing_after_drain + warm.missing_after_drain,
        publish_errors=peak.publish_errors + latency.publish_errors + raw.publish_errors + raw_batched.publish_errors,
        peak_ran_out=peak_ran_out,
    )
    if plan.scaling_points:
        progress(f"scaling: proof store at {', '.join(f'{p:,}' for p in plan.scaling_points)} events")
        figures["scaling"] = [asdict(p) for p in run_scaling(list(plan.scaling_points), workdir / "scaling")]
    progress(f"breakdown: orderer CPU per step over {plan.breakdown_events:,} events, without NATS")
    figures["orderer_cpu_us_per_event"] = measure(plan.breakdown_events, plan.batch_size, plan.crypto)
    if plan.batch_size > 1:
        figures["orderer_cpu_us_per_event_unbatched"] = measure(plan.breakdown_events, 1, plan.crypto)
    progress(f"hot path: the orderer's own loop over {plan.hotpath_events:,} events, NATS faked, CPU by stage")
    figures["orderer_hotpath"] = await hotpath(plan.hotpath_events, plan.batch_size, crypto=plan.crypto)
    progress("pull cost: nats-py fetch against MessagePuller")
    figures["pull_cost"] = await pull_cost(plan.raw_events // 3, plan.nats_sync_interval)
    figures["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    figures["targets_met"] = targets_met(figures)
    return figures


ROWS = [
    ("crypto profile", "crypto", ""),
    ("acks fsynced by JetStream (durable)", "durable", ""),
    ("signed events committed (peak)", "events_per_s", "events/s"),
    ("  sustained over", "sustained_s", "s"),
    ("  events per batch envelope", "batch_size", ""),
    ("raw JetStream, the same messages", "raw_batched_per_s", "events/s"),
    ("  events it carried", "raw_batched_events", "events"),
    ("ratio ledger / raw, like for like", "ratio", ""),
    ("raw JetStream, each event alone", "raw_jetstream_per_s", "msgs/s"),
    ("ratio ledger / per-event raw", "ratio_per_event_raw", ""),
    ("latency rate (half peak)", "latency_rate_per_s", "events/s"),
    ("  publish->commit p50", "p50_ms", "ms"),
    ("  publish->commit p99", "p99_ms", "ms"),
    ("  at peak (saturated) p99", "peak_p99_ms", "ms"),
    ("orderer CPU per event at peak", "orderer_us_per_event", "µs"),
    ("catch-up (new projection)", "catchup_per_s", "events/s"),
    ("  CPU per event (this process)", "catchup_cpu_us_per_event", "µs"),
    ("verify_chain (auditor)", "verify_per_s", "events/s"),
    ("  CPU per event (this process)", "verify_cpu_us_per_event", "µs"),
    ("  chain verified", "verify_ok", ""),
    ("  chain size", "chain_events", "events"),
    ("orderer peak RSS (VmHWM)", "orderer_peak_rss_mib", "MiB"),
    ("events lost", "lost_events", ""),
]


def _sync_interval(value: str) -> str:
    try:
        return check_sync_interval(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a ~10 s smoke run")
    parser.add_argument("--duration", type=float, help="seconds of the peak phase (default 20)")
    parser.add_argument("--latency-duration", type=float, help="seconds of the half-rate phase (default 15)")
    parser.add_argument("--raw-events", type=int, help="messages in the raw JetStream baseline")
    parser.add_argument("--departments", type=int, default=8)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=100,
        help="events per batch envelope, each batch signed once (default 100; 1 = every event signed alone)",
    )
    parser.add_argument(
        "--window", type=int, help="max uncommitted events while saturating (default: 0.75 s at the warm-up rate)"
    )
    parser.add_argument("--scaling", help="comma-separated chain sizes (default 10000,100000,1000000)")
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument("--batch-max-count", type=int, help="GOVCHAIN_BATCH_MAX_COUNT for the ledger")
    parser.add_argument("--batch-max-wait-ms", type=int, help="GOVCHAIN_BATCH_MAX_WAIT_MS for the ledger")
    parser.add_argument("--batch-preferred-bytes", type=int, help="GOVCHAIN_BATCH_PREFERRED_BYTES for the ledger")
    parser.add_argument(
        "--nats-sync-interval",
        type=_sync_interval,
        default=SYNC_ALWAYS,
        help="JetStream sync_interval: always (fsync before every ack, the default) or a duration such as 2m",
    )
    parser.add_argument(
        "--crypto",
        choices=SUITE_NAMES,
        default=DEFAULT_SUITE,
        help="the chain's crypto profile, as govchain init --crypto (default intl; gm: SM2 keys, SM3 hashing)",
    )
    parser.add_argument("--profile", type=Path, help="write pyinstrument profiles (orderer, catch-up, verify) here")
    parser.add_argument("--json-out", type=Path, help="also write the JSON figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    args = parser.parse_args(argv)

    plan = Plan.from_args(args)
    configure_logging("WARNING", "console")
    ledger_env = {}
    if args.batch_max_count:
        ledger_env["GOVCHAIN_BATCH_MAX_COUNT"] = str(args.batch_max_count)
    if args.batch_max_wait_ms:
        ledger_env["GOVCHAIN_BATCH_MAX_WAIT_MS"] = str(args.batch_max_wait_ms)
    if args.batch_preferred_bytes:
        ledger_env["GOVCHAIN_BATCH_PREFERRED_BYTES"] = str(args.batch_preferred_bytes)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        args.profile = args.profile.resolve()
    workdir = Path(tempfile.mkdtemp(prefix="govchain-bench-"))
    try:
        figures = asyncio.run(bench(plan, workdir, args.profile, ledger_env))
    finally:
        if args.keep:
            print(f"data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(figures, ROWS)
    print_breakdown(figures["orderer_cpu_us_per_event"], f"batches of {plan.batch_size}")
    if "orderer_cpu_us_per_event_unbatched" in figures:
        print_breakdown(figures["orderer_cpu_us_per_event_unbatched"], "each event signed alone")
    print_hotpath(figures["orderer_hotpath"])
    print()
    line = json_line(figures)
    if args.json_out:
        args.json_out.write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
