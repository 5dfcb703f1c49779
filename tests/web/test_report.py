"""`govchain report` on the demo's data: tables on stdout and four PNG charts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import Platform


def test_report_writes_charts_from_the_demo(platform: Platform, tmp_path: Path) -> None:
    out = tmp_path / "report"
    text = subprocess.run(
        [sys.executable, "-m", "govchain.services.cli", "report", "--out", str(out), "--nats-url", platform.nats_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "COLUMNS": "160"},
    ).stdout
    assert "Business licence" in text and "Land transfer" in text and "Before / after" in text
    charts = sorted(out.glob("*.png"))
    assert {chart.stem for chart in charts} >= {"satisfaction", "satisfaction_trend", "costs"} and len(charts) == 7
    assert all(chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5000 for chart in charts)

    summary = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-m",
                "govchain.services.cli",
                "report",
                "--json",
                "--out",
                str(out),
                "--nats-url",
                platform.nats_url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    )
    services = {row["service_type"]: row for row in summary["service_types"]}
    assert services["business-license"]["outcomes"]["approved"] == platform.summary["licenses_issued"]
    assert services["land-transfer"]["outcomes"]["approved"] == platform.summary["land_transfers_approved"]
    assert set(summary["refusals"]["by_reason"]) >= set(platform.summary["rejection_reasons"])
