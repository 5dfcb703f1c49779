"""The wheel the Docker image installs holds every module and migration of the source tree."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_carries_every_module_and_migration(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("govchain-*.whl")
    packed = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"govchain/{p.relative_to(ROOT / 'shared/govchain')}"
        for p in (ROOT / "shared/govchain").rglob("*")
        if p.suffix in (".py", ".mako")
    }
    expected |= {
        f"govchain/services/{p.relative_to(ROOT / 'services')}"
        for p in (ROOT / "services").rglob("*")
        if p.suffix in (".py", ".mako", ".json", ".html", ".css")
    }
    assert expected - packed == set()
