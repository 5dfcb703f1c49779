"""Personal data on a shared ledger: sealed per subject, erasable by destroying a key.

:mod:`~govchain.protocol.sealed` seals and opens values (pure, no I/O; part of the protocol,
re-exported here and by :mod:`~govchain.privacy.fields`); :mod:`~govchain.privacy.vault`
keeps the data keys off chain, wrapped by a key-encryption key (:mod:`~govchain.privacy.kek`,
kept in :mod:`~govchain.privacy.kekfiles`), and crypto-shreds them on erasure;
:mod:`~govchain.privacy.rotation` rotates that KEK.

The names below are loaded on first use (PEP 562): importing this package, or its pure
modules (``fields``, ``kek``), does not load the vault and with it SQLAlchemy and alembic.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from govchain.privacy.kek import Kek, KekError
    from govchain.privacy.vault import (
        KekMismatch,
        KeyVault,
        KeyVaultError,
        SubjectErased,
        UnknownSubjectKey,
        vault_metadata,
    )
    from govchain.protocol.sealed import SealedField, SealedFieldError, is_sealed, open_sealed, seal

_EXPORTS = {
    "Kek": "govchain.privacy.kek",
    "KekError": "govchain.privacy.kek",
    "KekMismatch": "govchain.privacy.vault",
    "KeyVault": "govchain.privacy.vault",
    "KeyVaultError": "govchain.privacy.vault",
    "SealedField": "govchain.protocol.sealed",
    "SealedFieldError": "govchain.protocol.sealed",
    "SubjectErased": "govchain.privacy.vault",
    "UnknownSubjectKey": "govchain.privacy.vault",
    "is_sealed": "govchain.protocol.sealed",
    "open_sealed": "govchain.protocol.sealed",
    "seal": "govchain.protocol.sealed",
    "vault_metadata": "govchain.privacy.vault",
}

__all__ = [
    "Kek",
    "KekError",
    "KekMismatch",
    "KeyVault",
    "KeyVaultError",
    "SealedField",
    "SealedFieldError",
    "SubjectErased",
    "UnknownSubjectKey",
    "is_sealed",
    "open_sealed",
    "seal",
    "vault_metadata",
]
assert sorted(__all__) == sorted(_EXPORTS), "every lazy export is declared, and only those"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups find it without coming here
    return value


def __dir__() -> list[str]:
    """The public names and the submodules imported so far (not this file's helpers)."""
    return sorted({*__all__, *(name for name, value in globals().items() if isinstance(value, ModuleType))})
