"""kill -9 a witness while it cosigns: a cosignature it answered with is a promise, so the size
it vouched for must be on disk before the answer left, and after any crash it must neither
forget that size nor cosign a history that forks from it.

The witness runs as an operator runs it (`govchain witness serve`); a client keeps asking it to
cosign a growing log while another thread SIGKILLs it at a random moment, then it is started
again on the same folder. The seed is printed; ``GOVCHAIN_CRASH_SEED`` replays a run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx

from govchain.bus.embedded import free_port

from ..transparency.conftest import Log
from .procs import GOVCHAIN, harness_env

ROUNDS = 6
SEED = int(os.environ.get("GOVCHAIN_CRASH_SEED", random.randrange(2**32)))


def start_witness(folder: Path, log: Log) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        [*GOVCHAIN, "witness", "serve", "--dir", str(folder), "--log-vkey", log.vkey, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=harness_env(),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        assert server.poll() is None, f"the witness exited with {server.returncode} (seed {SEED})"
        assert time.monotonic() < deadline, f"the witness did not start (seed {SEED})"
        time.sleep(0.05)


def witness_size(url: str, log: Log) -> int:
    """The size the witness holds for the log: its 409 to a request from size 0 names it."""
    answer = httpx.post(f"{url}/add-checkpoint", content=log.request(0), timeout=10)
    assert answer.status_code == 409, (answer.status_code, answer.text)
    return int(answer.text)


def test_a_killed_witness_never_forgets_a_cosignature_nor_cosigns_a_fork(tmp_path: Path) -> None:
    print(f"witness crash seed {SEED}")
    rng = random.Random(SEED)
    folder = tmp_path / "witness"
    made = subprocess.run(
        [*GOVCHAIN, "witness", "init", "--dir", str(folder), "--name", "audit.example/w"],
        capture_output=True,
        env=harness_env(),
        check=False,
    )
    assert made.returncode == 0, made.stderr
    log = Log()
    log.grow_to(1)
    acked, kills_mid_request = 0, 0
    for _ in range(ROUNDS):
        server, url = start_witness(folder, log)
        old = witness_size(url, log) if acked else 0
        assert old >= acked, f"the witness forgot: it holds {old}, it had cosigned {acked} (seed {SEED})"
        killer = threading.Timer(rng.uniform(0.05, 0.5), os.kill, (server.pid, signal.SIGKILL))
        killer.start()
        while True:
            log.grow_to(log.tree.size + rng.randint(1, 4))
            try:
                answer = httpx.post(f"{url}/add-checkpoint", content=log.request(old), timeout=10)
            except httpx.TransportError:
                kills_mid_request += 1
                break
            if answer.status_code == 200:
                acked = old = log.tree.size
            else:  # a request answered after a restart lost its reply: the witness names its size
                assert answer.status_code == 409, (answer.status_code, answer.text, SEED)
                old = int(answer.text)
                assert acked <= old <= log.tree.size, (acked, old, SEED)
        killer.join()
        assert server.wait(timeout=30) == -signal.SIGKILL

    assert acked > 0 and kills_mid_request == ROUNDS
    server, url = start_witness(folder, log)
    try:
        held = witness_size(url, log)
        assert acked <= held <= log.tree.size, (acked, held, SEED)
        # A history that forks from what it vouched for is refused, from the size it holds...
        fork = Log(origin=log.origin, key=log.key)
        fork.grow_to(log.tree.size + 3, seed=b"fork")
        assert httpx.post(f"{url}/add-checkpoint", content=fork.request(held), timeout=10).status_code == 422
        # ...and the genuine log still extends from exactly the head on disk (no torn write).
        log.grow_to(log.tree.size + 1)
        assert httpx.post(f"{url}/add-checkpoint", content=log.request(held), timeout=10).status_code == 200
    finally:
        server.kill()
        server.wait(timeout=30)
