"""The benchmark's output: a readable table, then one JSON line with every figure."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from govchain.bus.embedded import nats_server_binary

TARGETS = {
    "events_per_s": 10_000.0,
    "ratio": 0.5,
    "p99_ms": 250.0,
    "orderer_us_per_event": 15.0,
    "catchup_per_s": 100_000.0,
    "verify_per_s": 100_000.0,
}


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nats_version = subprocess.run(
            [str(nats_server_binary()), "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except Exception:
        nats_version = "unknown"
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "nats_server": nats_version,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def targets_met(figures: dict[str, Any]) -> dict[str, bool]:
    return {
        "events_per_s >= 10000": figures["events_per_s"] >= TARGETS["events_per_s"],
        "ratio >= 0.5": figures["ratio"] >= TARGETS["ratio"],
        "p99_ms < 250 at half peak": figures["p99_ms"] < TARGETS["p99_ms"],
        "orderer CPU <= 15 µs per event (peak, batched)": 0
        < (figures.get("orderer_us_per_event") or 0.0)
        <= TARGETS["orderer_us_per_event"],
        "catchup_per_s >= 100000": figures.get("catchup_per_s", 0.0) >= TARGETS["catchup_per_s"],
        "verify_per_s >= 100000": figures.get("verify_per_s", 0.0) >= TARGETS["verify_per_s"],
    }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if abs(value) < 10:
            return f"{value:.2f}"
        return f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def print_table(figures: dict[str, Any], rows: list[tuple[str, str, str]], out: Any = sys.stdout) -> None:
    """``rows`` are (label, key in figures, unit)."""
    width = max(len(label) for label, _, _ in rows)
    print("", file=out)
    print("GovChain benchmark", file=out)
    print("-" * (width + 24), file=out)
    for label, key, unit in rows:
        print(f"{label:<{width}}  {_fmt(figures.get(key)):>12}  {unit}", file=out)
    scaling = figures.get("scaling") or []
    if scaling:
        print("", file=out)
        print("Scaling (ledger store built directly, see bench/scaling.py)", file=out)
        print(
            f"{'events':>10} {'RSS MiB':>8} {'proof µs':>9} {'path':>5} {'reads':>6} "
            f"{'consist µs':>10} {'dedup500 ms':>11} {'db MiB':>7}",
            file=out,
        )
        for p in scaling:
            print(
                f"{p['events']:>10,} {p['rss_kib'] / 1024:>8.1f} {p['inclusion_proof_us']:>9.0f} "
                f"{p['inclusion_path_len']:>5} {p['node_reads']:>6.1f} {p['consistency_proof_us']:>10.0f} "
                f"{p['dedup_lookup_500_ms']:>11.2f} {p['db_mib']:>7.1f}",
                file=out,
            )
    cpu = figures.get("peak_cpu_us_per_event") or {}
    if cpu:
        print("", file=out)
        print(
            "CPU per committed event during the peak phase (µs): "
            + ", ".join(f"{name} {us:.0f}" for name, us in cpu.items())
            + f"; sum {sum(cpu.values()):.0f} on {os.cpu_count()} cores",
            file=out,
        )
    pull = figures.get("pull_cost") or {}
    if pull:
        print(
            "Pulling one message (µs, pull + ack): nats-py fetch "
            f"{pull['nats_py_fetch_us_per_msg']:.0f}, MessagePuller {pull['batch_puller_us_per_msg']:.0f}",
            file=out,
        )
    rss_path = figures.get("orderer_rss_at_events") or {}
    if rss_path:
        print("", file=out)
        print(
            "Orderer RSS on the full path (MiB at chain size): "
            + ", ".join(f"{int(k):,}: {v / 1024:.1f}" for k, v in rss_path.items()),
            file=out,
        )
    print("", file=out)
    for name, met in targets_met(figures).items():
        print(f"target {name}: {'met' if met else 'NOT met'}", file=out)
    print("", file=out)


def json_line(figures: dict[str, Any]) -> str:
    return json.dumps(figures, separators=(",", ":"), default=str)
