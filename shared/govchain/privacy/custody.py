"""Opening the vault with its KEK: from a secret store when configured, else from the data
folder's ``keys/vault.kek`` (made on first use for folders older than the vault KEK), after
finishing any KEK rotation a crash interrupted."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import Engine

from govchain.privacy.kek import Kek
from govchain.privacy.kekfiles import KekFiles
from govchain.privacy.rotation import current_kek
from govchain.privacy.vault import KeyVault


def open_vault(engine: Engine, keys: Path, secret: SecretStr | None = None) -> KeyVault:
    """The vault in ``engine``; its KEK from ``secret`` (hex, ``GOVCHAIN_VAULT_KEK``) when
    given, else from the KEK files in ``keys``. Refuses (:class:`~govchain.privacy.vault.KekMismatch`)
    a KEK that did not wrap the keys the vault holds."""
    if secret is not None:
        return KeyVault(engine, Kek.from_hex(secret.get_secret_value(), what="GOVCHAIN_VAULT_KEK"))
    return KeyVault(engine, current_kek(engine, KekFiles(keys)))
