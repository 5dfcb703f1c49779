"""The README's walk-through ("Using it"), run as written on a fresh chain: a doc test.

The rules that turn the README into one script are few, and kept here so that the README
stays readable and no command a newcomer must run is left out:

- The blocks run are the fenced ``bash`` blocks of the sections named in ``WALK_THROUGH``, in
  README order, as one script in one bash process (``set -euo pipefail``), so a shell variable
  one block sets is there for the next, as in a newcomer's terminal. The working folder is a
  fresh temporary one, standing for the repository folder; ``PATH`` starts with the venv's bin.
- The platform is what ``make up`` runs there, ``govchain up --data .govchain``, started by the
  script before the first block, as ``tests/integration/cli_platform.py`` does: its preferred
  NATS port is held by another socket, so it falls back to a free port (never 4222), and the
  gateway takes a free port. It is stopped when the script ends, however it ends.
- ``source .venv/bin/activate`` (the README's first command) is left out: ``PATH`` already has it.
- A block whose first line starts with ``# stop the platform first`` runs with the platform
  stopped (its first line says so to the reader); the script starts it again afterwards, as a
  newcomer would to go on with the next section.

Each block prints a marker first, so what it printed is checked block by block.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from govchain.client import own_verdict
from govchain.protocol.batch import open_batch, sign_batch
from govchain.protocol.canonical import sha256_hex
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import leaf_hash

README = Path(__file__).resolve().parents[2] / "README.md"
VENV_BIN = Path(sys.executable).parent

WALK_THROUGH = (
    "Using it",
    "Identity: officials, citizens, keys, DIDs and credentials",
    "Registries and privacy",
    "Smart contracts",
    "Efficiency: before and after",
    "Evaluating the platform",
    "Data sharing between departments",
)
"""The sections of "## Using it" whose ``bash`` blocks are run, in README order. A section added
under "## Using it" joins the walk-through by its title here, once its commands run as written."""

DROPPED_LINES = {"source .venv/bin/activate"}
"""Lines of the README left out of the script, each for the reason in the module docstring."""

PLATFORM_STOPPED = "# stop the platform first"
"""The first line of a block that must run with the platform stopped."""

TIMEOUT_S = 600
"""A guard only: the walk-through takes about two minutes on an idle two-core machine, nearly all
of it the start-up of the ~40 ``govchain`` commands and of the platform (twice)."""
MARKER = "### README block"

PRELUDE = r"""
set -euo pipefail
doc_test_starts=0
doc_test_up() {  # `make up`, i.e. `govchain up --data .govchain`, until it says it is up
  doc_test_starts=$((doc_test_starts + 1))
  local log="$DOC_TEST_LOGS/up-$doc_test_starts.log"
  govchain up --data .govchain --nats-port "$DOC_TEST_BUSY_PORT" >/dev/null 2>"$log" &
  DOC_TEST_PLATFORM=$!
  until grep -q "GovChain is up" "$log"; do
    if ! kill -0 "$DOC_TEST_PLATFORM" 2>/dev/null; then
      echo "govchain up exited:" >&2; cat "$log" >&2; DOC_TEST_PLATFORM=; return 1
    fi
    sleep 0.2
  done
}
doc_test_down() {  # as Ctrl-C on `make up` (a background job of a script ignores SIGINT: TERM)
  if [ -n "${DOC_TEST_PLATFORM:-}" ]; then
    local pid=$DOC_TEST_PLATFORM
    DOC_TEST_PLATFORM=
    kill -TERM "$pid"
    wait "$pid" || { echo "govchain up did not stop cleanly (exit $?)" >&2; return 1; }
  fi
}
trap 'doc_test_down || exit 1' EXIT
doc_test_up
"""


@dataclass(frozen=True)
class Block:
    section: str
    line: int
    code: str


def walk_through_blocks(text: str) -> list[Block]:
    """The ``bash`` blocks of the WALK_THROUGH sections, in order."""
    blocks, section, in_using_it = [], None, False
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("## "):
            in_using_it = line == "## Using it"
            section = line[3:] if in_using_it else None
        elif line.startswith("### ") and in_using_it:
            section = line[4:]
        elif line.strip() == "```bash":
            fence = line[: len(line) - len(line.lstrip())] + "```"  # closed at the same indentation
            end = lines.index(fence, index + 1)
            if section in WALK_THROUGH:
                blocks.append(Block(section, index + 1, "\n".join(lines[index + 1 : end])))
            index = end
        index += 1
    return blocks


def script(blocks: list[Block]) -> str:
    parts = [PRELUDE]
    for number, block in enumerate(blocks, 1):
        code = "\n".join(line for line in block.code.splitlines() if line.strip() not in DROPPED_LINES)
        marker = f"{MARKER} {number}: {block.section} (README line {block.line})"
        parts.append(f"echo '{marker}'; echo '{marker}' >&2")
        stopped = block.code.lstrip().startswith(PLATFORM_STOPPED)
        parts.extend(["doc_test_down", code, "doc_test_up"] if stopped else [code])
    return "\n".join(parts) + "\n"


def test_the_walk_through_covers_every_section_it_names() -> None:
    blocks = walk_through_blocks(README.read_text())
    assert {block.section for block in blocks} == set(WALK_THROUGH)
    assert sum(block.code.lstrip().startswith(PLATFORM_STOPPED) for block in blocks) == 1  # the KEK rotation


def test_no_placeholder_is_left_to_fill_in() -> None:
    """Every command runs as written: nothing like ``c-…``, ``<public key>`` or ``urn:uuid:…``."""
    for block in walk_through_blocks(README.read_text()):
        commands = "\n".join(
            line.split(" #", 1)[0] for line in block.code.splitlines() if not line.lstrip().startswith("#")
        )
        assert "…" not in commands and not re.search(r"<[a-z][^>]*>", commands), block


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another program already listens on (as 4222 often is): ``govchain up`` moves on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_the_readme_walk_through_runs_as_written(tmp_path: Path, busy_port: int) -> None:
    assert (VENV_BIN / "govchain").exists(), f"run the tests with the venv's pytest ({VENV_BIN})"
    blocks = walk_through_blocks(README.read_text())
    work, logs = tmp_path / "repo", tmp_path / "logs"
    work.mkdir()
    logs.mkdir()
    (tmp_path / "readme.sh").write_text(script(blocks))
    env = {name: value for name, value in os.environ.items() if not name.startswith("GOVCHAIN_")}
    env.update(
        {
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            "DOC_TEST_BUSY_PORT": str(busy_port),
            "DOC_TEST_LOGS": str(logs),
            "GOVCHAIN_GATEWAY_PORT": "0",  # the portal's 8080 may be taken too
            "COLUMNS": "200",  # one line per table row and error, whatever the terminal
        }
    )
    started = time.monotonic()
    process = subprocess.Popen(
        ["bash", str(tmp_path / "readme.sh")],
        cwd=work,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)  # the platform stops its NATS server (its own session)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
        pytest.fail(f"the walk-through did not finish in {TIMEOUT_S}s:\n{tail(stdout, stderr)}")
    (tmp_path / "readme.out").write_text(stdout)  # kept for a look after a failure
    (tmp_path / "readme.err").write_text(stderr)
    ups = "".join(path.read_text() for path in sorted(logs.glob("up-*.log")))
    assert process.returncode == 0, (
        f"exit {process.returncode}:\n{tail(stdout, stderr)}\n--- govchain up:\n{ups[-3000:]}"
    )
    print(f"walk-through: {len(blocks)} blocks in {time.monotonic() - started:.0f}s")

    out = outputs(stdout)
    using, identity, registry, vault, contracts, report, rating, sharing = (out[n] for n in range(1, 9))
    # Using it: the receipts, the refusal of a second event under a used id, the proof, the chain.
    assert re.search(r"^committed: event \w+ in block 1 at position 0$", using, re.M)
    assert re.search(r"^committed: event tax-doc-1 in block 2 at position 0$", using, re.M)
    batch = re.findall(r"^committed: event (tax-doc-[23]) in block (\d+) at position (\d)$", using, re.M)
    assert [(event, position) for event, _, position in batch] == [("tax-doc-2", "0"), ("tax-doc-3", "1")]
    assert batch[0][1] == batch[1][1]  # one message, one block
    assert re.search(
        r"^rejected: event tax-doc-1: conflicting_id: .*\nrefused \(exit 1\), as it should be$", using, re.M
    )
    assert re.search(
        r"^event tax/tax-doc-1 is leaf \d+ of \d+; proof of \d+ hashes verified against the signed "
        r"head of block 2$",
        using,
        re.M,
    )
    assert re.search(r"^chain OK: \d+ blocks, \d+ events verified$", using, re.M)
    assert len(re.findall(r"^#\d+ ", using, re.M)) == 3  # tail --count 3
    # Identity: the official's DID resolves; the credential is valid, then revoked.
    citizen = re.search(r"^citizen_id: (c-[0-9a-f]{32})$", identity, re.M)
    assert citizen, identity
    assert '"id": "did:govchain:tax-alice"' in identity
    assert re.search(r"^valid$", identity, re.M)
    assert re.search(r"^INVALID: .*revoked.*\ninvalid \(exit 1\): revoked$", identity, re.M)
    # Registries: the official's read is on the citizen's access log; erasure; the chain still verifies.
    assert re.search(r'"personal": \{\s+"owner_details": \{\s+"legal_name": "Li Ming"', registry), registry
    assert '"registered": true' in registry and '"name": "Harbour Noodle House"' in registry
    assert re.search(r'"reader": "tax-alice",[^}]*"purpose": "licence renewal"', registry), registry
    assert re.search(r'"owner_details": \{\s*"erased": true\s*\}', registry)
    assert re.search(r"^chain OK: ", registry, re.M)
    # The KEK rotation, with the platform stopped; the platform comes back for what follows.
    assert re.search(r"^vault KEK rotated: ", vault, re.M) and re.search(r"1 subjects erased$", vault, re.M)
    # Smart contracts: the licence was issued by the contract, and re-execution agrees.
    assert re.search(r'"state": "issued"', contracts)
    assert re.search(r"^OK: [1-9]\d* contract results checked$", contracts, re.M)
    # The report: charts written; the ledger's refusals counted by reason, conflicting_id among them.
    assert "Charts written to" in report and "conflicting_id" in report
    assert list((work / "report").glob("*.png"))
    # Evaluating: the citizen's rating counts; the report shows satisfaction and costs.
    assert re.search(r"^committed: event \w+ in block \d+ at position 0$", rating, re.M)
    assert "Public satisfaction" in rating and "Cost savings" in rating
    # Data sharing: granted by the contract, read under the grant and recorded on chain.
    assert re.search(r"^data-sharing DS-0001: granted$", sharing, re.M), sharing
    assert re.search(r"^DS-0001: land reads registered-businesses of tax \[name, address\]", sharing, re.M), sharing
    assert '"name": "Harbour Noodle House"' in sharing


def outputs(stdout: str) -> dict[int, str]:
    """What each README block printed, by block number (1-based)."""
    found = {}
    for chunk in stdout.split(MARKER + " ")[1:]:
        number, text = chunk.split(":", 1)
        found[int(number)] = text.split("\n", 1)[1] if "\n" in text else ""
    return found


def tail(stdout: str, stderr: str, chars: int = 6000) -> str:
    return textwrap.dedent(f"--- stdout:\n{stdout[-chars:]}\n--- stderr:\n{stderr[-chars:]}")


def test_publish_batch_tells_a_used_id_as_publish_does() -> None:
    """What the README says of publishing a file again holds for `publish-batch` too: a receipt
    found under the id is this run's verdict only if it is about this run's bytes."""
    key = SigningKey.generate()
    event = make_event(
        key,
        source="tax",
        type="document.registered",
        event_id="tax-doc-2",
        data={"document_id": "T-2", "sha256": "0" * 64, "title": "Tax receipt 2"},
    )
    _, [(_, forms)] = open_batch(sign_batch(key, [event]).to_bytes())
    ours = forms.signed
    committed = {"source": "tax", "event_id": "tax-doc-2", "status": "committed", "height": 3, "position": 0}
    assert own_verdict({**committed, "leaf_hash": leaf_hash(ours).hex()}, ours)["status"] == "committed"
    earlier = own_verdict({**committed, "leaf_hash": "ab" * 32}, ours)
    assert earlier is not None and (earlier["status"], earlier["reason"]) == ("rejected", "conflicting_id")
    refused = {"source": "tax", "event_id": "tax-doc-2", "status": "rejected", "reason": "invalid_payload"}
    assert own_verdict({**refused, "original_sha256": "cd" * 32}, ours) is None  # an earlier run's refusal
    assert own_verdict({**refused, "original_sha256": sha256_hex(ours)}, ours) == {
        **refused,
        "original_sha256": sha256_hex(ours),
    }
    assert own_verdict({"source": "tax", "event_id": "tax-doc-2", "status": "pending"}, ours) is None
