"""What every ``govchain`` command pays before it does anything: its imports.

The command line is started hundreds of times by operators' scripts (and by this suite); the
store's libraries, the web stack and the charts load only in the commands that use them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "alembic", "fastapi", "matplotlib")


def test_the_command_line_loads_no_store_web_or_chart_library_until_a_command_needs_it() -> None:
    probe = "import sys, govchain.services.cli.app; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "govchain.services.cli.vault" in loaded  # the probe saw the whole command tree
    assert [name for name in HEAVY if name in loaded] == []
