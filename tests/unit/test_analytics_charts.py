"""Charts: valid PNGs of a readable size, drawn without a display."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from govchain.services.analytics.charts import CHARTS, duration_unit, format_duration
from govchain.services.analytics.metrics import (
    AnalyticsConfig,
    CaseRow,
    EventCount,
    MetricsInput,
    RefusalCount,
    Summary,
    summarize,
)
from govchain.services.analytics.satisfaction import RatingRow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which always comes first."""
    assert png[:8] == PNG_MAGIC and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def full_summary() -> Summary:
    cases = [
        CaseRow("business-license", f"A-{n}", "market", T0, T0 + timedelta(hours=n), "approved") for n in range(1, 6)
    ] + [
        CaseRow(
            "business-license",
            "A-9",
            "market",
            T0,
            T0 + timedelta(hours=2),
            "rejected",
            "documents_registered and a condition with a very long name indeed, to be shortened",
        ),
        CaseRow("land-transfer", "R-1", "land", T0, T0 + timedelta(days=2), "approved"),
        CaseRow("land-transfer", "R-2", "land", T0, T0 + timedelta(days=7), "expired"),
    ]
    events = [
        EventCount(T0 + timedelta(hours=h), source, n)
        for h in range(0, 30, 3)
        for source, n in (("market", 4), ("land", 2), ("contract-engine", h % 5))
    ]
    refusals = [RefusalCount("market", "bad_signature", 3), RefusalCount("land", "unauthorized", 1)]
    ratings = [
        RatingRow(f"e{n}", c.service_type, c.case_id, c.department, 1 + n % 5, T0 + timedelta(days=n % 3))
        for n, c in enumerate(cases)
    ]
    return summarize(
        MetricsInput(12, T0 + timedelta(days=8), cases, events, refusals, 4, ratings=ratings), AnalyticsConfig()
    )


def empty_summary() -> Summary:
    return summarize(MetricsInput(-1, None), AnalyticsConfig())


@pytest.mark.parametrize("name", sorted(CHARTS))
@pytest.mark.parametrize("summary", [full_summary(), empty_summary()], ids=["with-data", "empty"])
def test_each_chart_is_a_png_readable_at_800_px(name: str, summary: Summary) -> None:
    png = CHARTS[name](summary)
    width, height = png_size(png)
    assert width == 800 and 400 <= height <= 650
    assert 5_000 < len(png) < 500_000
    assert png.endswith(b"IEND\xaeB`\x82")


def test_charts_need_no_display_and_no_pyplot() -> None:
    """Drawn in a fresh interpreter with no display and a GUI backend requested: still PNGs."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MPLBACKEND"] = "TkAgg"
    code = (
        "import sys\n"
        "from tests.unit.test_analytics_charts import full_summary\n"
        "from govchain.services.analytics.charts import CHARTS\n"
        "pngs = [draw(full_summary()) for draw in CHARTS.values()]\n"
        "assert all(p.startswith(b'\\x89PNG') for p in pngs)\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_durations_are_shown_in_a_unit_people_read() -> None:
    assert duration_unit(90)[0] == "seconds" and duration_unit(3 * 3600)[0] == "hours"
    assert duration_unit(15 * 86_400)[0] == "days"
    assert format_duration(None) == "—"
    assert format_duration(1.234) == "1.23 s"
    assert format_duration(150) == "2.5 min"
    assert format_duration(15 * 86_400) == "15.0 d"
    assert format_duration(-2 * 3600) == "-2.0 h"


def test_a_long_span_is_drawn_per_day() -> None:
    events = [EventCount(T0 + timedelta(hours=h), "market", 1) for h in range(0, 24 * 30, 5)]
    summary = summarize(MetricsInput(1, T0 + timedelta(days=30), events=events), AnalyticsConfig())
    assert summary.throughput.span_hours > 96
    assert png_size(CHARTS["throughput"](summary))[0] == 800
