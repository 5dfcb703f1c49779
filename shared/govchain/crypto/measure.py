"""``python -m govchain.crypto.measure``: per-core rates of both suites on this machine.

The figures in docs/crypto-profiles.md come from this script (``--repeat`` keeps the best
of several runs, for a machine shared with other work), so anyone can re-measure them
on their own hardware before choosing a profile. Single thread, warm, no I/O.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from govchain.crypto.suite import SUITE_NAMES, CryptoSuite, suite_by_name


def rate(action: Callable[[], object], seconds: float) -> float:
    """Operations per second of ``action`` over at least ``seconds`` of wall time."""
    action()
    count, start = 0, time.perf_counter()
    while True:
        for _ in range(20):
            action()
        count += 20
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


def measure(suite: CryptoSuite, seconds: float) -> dict[str, float]:
    key = suite.generate_private_key()
    message = os.urandom(300)  # about one event envelope
    signature = suite.sign(key, message)
    left, right = suite.hash(b"l"), suite.hash(b"r")
    big = os.urandom(1 << 20)
    aead_key, nonce, field = suite.generate_aead_key(), os.urandom(12), os.urandom(200)
    sealed = suite.seal(aead_key, nonce, field, b"aad")
    return {
        "sign /s": rate(lambda: suite.sign(key, message), seconds),
        "verify /s": rate(lambda: suite.verify(key.public, message, signature), seconds),
        "node_hash /s": rate(lambda: suite.node_hash(left, right), seconds),
        "hash MB/s": rate(lambda: suite.hash(big), seconds) * len(big) / 1e6,
        "seal 200 B /s": rate(lambda: suite.seal(aead_key, nonce, field, b"aad"), seconds),
        "open 200 B /s": rate(lambda: suite.open(aead_key, nonce, sealed, b"aad"), seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per figure")
    parser.add_argument("--repeat", type=int, default=1, help="runs; each figure is the best (on a shared machine)")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for _ in range(max(1, args.repeat)):
        for name in SUITE_NAMES:
            run = measure(suite_by_name(name), args.seconds)
            best = results.setdefault(name, run)
            for row, value in run.items():
                best[row] = max(best[row], value)
    print(f"{'':16}" + "".join(f"{name:>14}" for name in SUITE_NAMES))
    for row in results[SUITE_NAMES[0]]:
        print(f"{row:16}" + "".join(f"{results[name][row]:>14,.0f}" for name in SUITE_NAMES))


if __name__ == "__main__":
    main()
