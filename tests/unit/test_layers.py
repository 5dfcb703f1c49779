"""The layers point one way: protocol ← plumbing (privacy, storage, projection, bus) ← services.

- ``govchain.protocol`` is pure: it imports only itself, the crypto suites
  (``govchain.crypto``) and ``govchain.privatefiles`` (a standard-library-only helper), and
  loading any of it loads no NATS client, database, migration or web stack. ``import
  govchain`` loads nothing at all until an SDK name is used.
- Nothing in the kernel (``shared/govchain``) imports ``govchain.services``.

Two checks: what each module's source imports (its AST, including imports inside functions
and ``TYPE_CHECKING`` blocks), and what importing it actually loads, in a fresh interpreter,
since a harmless-looking import can pull in a package whose ``__init__`` loads the world.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import govchain
import govchain.protocol

KERNEL = Path(govchain.__file__).parent
PROTOCOL = Path(govchain.protocol.__file__).parent

TRANSPORT = {"nats", "faststream"}
DATABASE = {"sqlalchemy", "alembic", "psycopg"}
WEB = {"fastapi", "starlette", "uvicorn"}
NOT_PURE = TRANSPORT | DATABASE | WEB
"""Top-level packages the protocol layer never loads."""

PROTOCOL_MAY_IMPORT = ("govchain.protocol", "govchain.crypto", "govchain.privatefiles")
"""The only GovChain modules the protocol imports (and their submodules): itself, the crypto
suites and a standard-library-only file helper. A module joins this list only if it is as
pure as the protocol (the subprocess checks below then hold it to that)."""

PROTOCOL_MODULES = sorted(
    "govchain.protocol" if path.stem == "__init__" else f"govchain.protocol.{path.stem}"
    for path in PROTOCOL.glob("*.py")
)

IMPORT_CASES: dict[str, set[str]] = {
    "import govchain": NOT_PURE,
    "import govchain.protocol": NOT_PURE,
    # the SDK's pure names, resolved
    "from govchain import ChainVerifier, Envelope, SigningKey, inclusion_problem, sign_batch": NOT_PURE,
    # plumbing whose pure parts must not drag in the rest
    "import govchain.privacy": NOT_PURE,
    "import govchain.privacy.fields": NOT_PURE,
    "import govchain.privacy.kek": NOT_PURE,
    # the client speaks NATS, and nothing else
    "from govchain import GovChainClient": DATABASE | WEB | {"faststream"},
}
"""A statement, and the top-level packages it must not load."""

PROBE = """
import json, sys
exec(sys.argv[1])
print(json.dumps(sorted({name.partition(".")[0] for name in sys.modules})))
"""

EACH_PROTOCOL_MODULE = """
import importlib, json, sys
tops = lambda: {name.partition(".")[0] for name in sys.modules}
found = {}
for module in sys.argv[1:]:
    before = tops()
    importlib.import_module(module)
    found[module] = sorted(tops() - before)
print(json.dumps(found))
"""
"""Imports every protocol module in turn in one fresh interpreter, and reports what each
newly loaded. That is as strict as one interpreter per module and far cheaper: ``sys.modules``
only grows, so a package any module would load alone is loaded here too, and is reported
under the first module whose imports reach it."""


@pytest.fixture(scope="module")
def loaded() -> Iterator[dict[str, set[str]]]:
    """Each case run in a fresh interpreter (all at once): the top-level packages it loaded."""
    commands = {statement: [PROBE, statement] for statement in IMPORT_CASES}
    commands["protocol modules"] = [EACH_PROTOCOL_MODULE, *PROTOCOL_MODULES]
    procs = {
        case: subprocess.Popen([sys.executable, "-c", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for case, argv in commands.items()
    }
    results: dict[str, set[str]] = {}
    try:
        for case, proc in procs.items():
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, f"{case!r} failed:\n{err}"
            if case == "protocol modules":
                results.update({f"import {module}": set(new) for module, new in json.loads(out).items()})
            else:
                results[case] = set(json.loads(out))
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    yield results


@pytest.mark.parametrize("statement", sorted(IMPORT_CASES))
def test_import_loads_no_forbidden_package(statement: str, loaded: dict[str, set[str]]) -> None:
    assert loaded[statement] & IMPORT_CASES[statement] == set()


@pytest.mark.parametrize("module", PROTOCOL_MODULES)
def test_protocol_module_loads_no_forbidden_package(module: str, loaded: dict[str, set[str]]) -> None:
    assert loaded[f"import {module}"] & NOT_PURE == set()


def test_the_probes_see_what_they_should(loaded: dict[str, set[str]]) -> None:
    """The client must load NATS, and the protocol modules pydantic: else a probe is blind."""
    assert "nats" in loaded["from govchain import GovChainClient"]
    assert "pydantic" in set().union(*(loaded[f"import {module}"] for module in PROTOCOL_MODULES))


def imports_of(path: Path, package: str) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports (line, absolute dotted name), relative imports resolved;
    ``from a import b`` counts as ``a.b``, which is a submodule or a name of ``a``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}" if alias.name != "*" else module


def package_of(path: Path) -> str:
    """The package relative imports in ``path`` start from (for ``__init__.py``, its own)."""
    return ".".join(path.relative_to(KERNEL.parent).with_suffix("").parts[:-1])


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


@pytest.mark.parametrize("path", sorted(PROTOCOL.glob("*.py")), ids=lambda path: path.name)
def test_protocol_imports_only_pure_modules(path: Path) -> None:
    wrong = [
        f"{path.name}:{line} imports {module}"
        for line, module in imports_of(path, package_of(path))
        if (within(module, ("govchain",)) and not within(module, PROTOCOL_MAY_IMPORT))
        or module.partition(".")[0] in NOT_PURE
    ]
    assert wrong == [], f"the protocol may import only {PROTOCOL_MAY_IMPORT} and no {sorted(NOT_PURE)}"


def test_the_kernel_never_imports_the_services() -> None:
    wrong = [
        f"{path.relative_to(KERNEL)}:{line} imports {module}"
        for path in sorted(KERNEL.rglob("*.py"))
        for line, module in imports_of(path, package_of(path))
        if within(module, ("govchain.services",))
    ]
    assert wrong == []


def test_the_import_walk_sees_what_it_should(tmp_path: Path) -> None:
    """The checks above would pass vacuously if the walk missed imports: it must not."""
    source = tmp_path / "sample.py"
    source.write_text(
        "from __future__ import annotations\n"
        "import nats.js\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from govchain.services.ledger import store\n"
        "def later():\n"
        "    from ..bus import subjects\n"
        "    from . import merkle\n",
        encoding="utf-8",
    )
    found = {module for _, module in imports_of(source, "govchain.protocol")}
    assert {"nats.js", "govchain.services.ledger.store", "govchain.bus.subjects", "govchain.protocol.merkle"} <= found
    assert package_of(PROTOCOL / "keys.py") == "govchain.protocol"
    assert package_of(PROTOCOL / "__init__.py") == "govchain.protocol"
