"""The ledger service as its own process, for the benchmark.

It runs the product's ``run_ledger`` unchanged, in a process set up as ``govchain serve``
sets up its own (the GC settling); the only additions are a SIGTERM handler and, with
``--profile``, a profile of the whole process written on exit (bench/profiling.py).
A process of its own lets the benchmark read the orderer's peak RSS from /proc.

    python -m bench.ledger_proc --data DIR --nats-url URL [--profile OUT.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from bench.profiling import profiled
from govchain.config import Settings
from govchain.logs import configure_logging
from govchain.runtime import settle_process
from govchain.services.ledger.service import run_ledger


async def _serve(settings: Settings, nats_url: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_ledger(settings, nats_url, stop)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--profile", type=Path, help="write a text profile here on exit (pyinstrument, else cProfile)")
    args = parser.parse_args(argv)
    configure_logging("WARNING", "json")
    settings = Settings(data_dir=args.data)  # batch limits etc. from GOVCHAIN_* variables
    settle_process(settings)
    if args.profile is None:
        asyncio.run(_serve(settings, args.nats_url))
        return
    with profiled(args.profile, async_mode="disabled"):
        asyncio.run(_serve(settings, args.nats_url))


if __name__ == "__main__":
    main()
