"""The SDK surface, ``govchain.__all__``, pinned (as httpx's tests/test_exported_members.py).

Adding or removing a public name is a decision: it changes this file too.
"""

from __future__ import annotations

import ast
import inspect
from importlib import import_module
from pathlib import Path
from types import ModuleType

import pytest

import govchain

DEFINED_IN = {
    "GovChainClient": "govchain.client",
    "ChainNames": "govchain.bus.subjects",
    "LedgerQueryError": "govchain.client",
    "PublicKey": "govchain.protocol.keys",
    "SigningKey": "govchain.protocol.keys",
    "Envelope": "govchain.protocol.envelope",
    "make_event": "govchain.protocol.envelope",
    "parse_envelope": "govchain.protocol.envelope",
    "EventBatch": "govchain.protocol.batch",
    "sign_batch": "govchain.protocol.batch",
    "consistency_problem": "govchain.protocol.proofs",
    "inclusion_problem": "govchain.protocol.proofs",
    "signed_head_problem": "govchain.protocol.proofs",
    "leaf_hash": "govchain.protocol.merkle",
    "Block": "govchain.protocol.block",
    "BlockHeader": "govchain.protocol.block",
    "ChainVerifier": "govchain.protocol.verify",
    "Checkpoint": "govchain.protocol.verify",
    "VerifiedBlock": "govchain.protocol.verify",
    "BlockVerificationError": "govchain.protocol.errors",
    "CanonicalizationError": "govchain.protocol.errors",
    "EventRejected": "govchain.protocol.errors",
    "GovChainError": "govchain.protocol.errors",
    "KeyFileError": "govchain.protocol.errors",
    "RejectionReason": "govchain.protocol.errors",
}
"""Every public name of the SDK and the module that defines it."""


def test_all_is_the_sdk_sorted() -> None:
    assert set(govchain.__all__) == {*DEFINED_IN, "__version__"}
    assert len(govchain.__all__) == len(set(govchain.__all__))
    assert govchain.__all__ == sorted(govchain.__all__, key=str.casefold)


def test_the_public_names_are_exactly_all() -> None:
    """``dir(govchain)`` shows the SDK and the submodules imported so far, nothing else
    (no ``Any``, ``TYPE_CHECKING`` or ``import_module`` leaking out of ``__init__``)."""
    public = {
        name
        for name in dir(govchain)
        if not name.startswith("_") and not isinstance(getattr(govchain, name), ModuleType)
    }
    assert public | {"__version__"} == set(govchain.__all__)


@pytest.mark.parametrize("name", sorted(DEFINED_IN))
def test_each_name_resolves_to_its_definition(name: str) -> None:
    value = getattr(govchain, name)
    module = DEFINED_IN[name]
    assert value is getattr(import_module(module), name)
    assert inspect.isclass(value) or inspect.isfunction(value)
    assert value.__module__ == module  # defined there, not re-exported from somewhere else


def test_star_import_gives_all() -> None:
    namespace: dict[str, object] = {}
    exec("from govchain import *", namespace)  # noqa: S102 - the statement users write
    assert set(namespace) - {"__builtins__"} == set(govchain.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Orderer'"):
        govchain.Orderer  # noqa: B018


def test_type_checkers_see_the_same_names() -> None:
    """The ``if TYPE_CHECKING:`` block imports each name from the module it is loaded from."""
    tree = ast.parse(Path(govchain.__file__).read_text(encoding="utf-8"))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
    )
    seen = {
        alias.name: node.module for node in ast.walk(block) if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    assert seen == DEFINED_IN


def test_the_privacy_package_names_resolve() -> None:
    """``govchain.privacy`` loads its names on use too (so its pure parts stay light)."""
    privacy = import_module("govchain.privacy")
    for name in privacy.__all__:
        assert getattr(privacy, name) is getattr(import_module(privacy._EXPORTS[name]), name)
    assert {"KeyVault", "SealedField", "seal"} <= set(dir(privacy))
