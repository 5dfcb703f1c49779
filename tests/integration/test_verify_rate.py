"""``govchain verify`` in text mode says how fast it verified (issue 15: progress and rate)."""

from __future__ import annotations

import re
import subprocess
import sys

from .conftest import Ledger


async def test_verify_prints_its_rate(ledger: Ledger) -> None:
    await ledger.register_department("tax")
    await ledger.submit(ledger.document("tax", 1))
    cli = subprocess.run(
        [sys.executable, "-m", "govchain.services.cli", "verify", "--nats-url", ledger.nats_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert re.search(r"^chain OK: \d+ blocks, \d+ events verified$", cli.stdout, re.M), cli.stdout
    assert re.search(r"^  in \d+\.\d s: [\d,]+ events/s$", cli.stdout, re.M), cli.stdout
