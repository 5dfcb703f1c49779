"""Write GovChain's did-test-suite implementation files next to this script.

    .venv/bin/python -m tests.standards.did_test_suite.generate

run.sh then feeds them to the W3C DID test suite (see tests/standards/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.standards.did_fixtures import suite_implementation_files


def main() -> None:
    here = Path(__file__).parent
    for name, content in suite_implementation_files().items():
        (here / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {here / name}")


if __name__ == "__main__":
    main()
