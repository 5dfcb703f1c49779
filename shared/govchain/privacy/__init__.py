"""Personal data on a shared ledger: sealed per subject, erasable by destroying a key.

:mod:`~govchain.privacy.fields` seals and opens values (pure, no I/O; protocol code should
import from there); :mod:`~govchain.privacy.vault` keeps the data keys off chain, wrapped by
a key-encryption key (:mod:`~govchain.privacy.kek`, kept in :mod:`~govchain.privacy.kekfiles`),
and crypto-shreds them on erasure; :mod:`~govchain.privacy.rotation` rotates that KEK.
"""

from govchain.privacy.fields import SealedField, SealedFieldError, is_sealed, open_sealed, seal
from govchain.privacy.kek import Kek, KekError
from govchain.privacy.vault import (
    KekMismatch,
    KeyVault,
    KeyVaultError,
    SubjectErased,
    UnknownSubjectKey,
    vault_metadata,
)

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
