"""Personal data on a shared ledger: sealed per subject, erasable by destroying a key.

:mod:`~govchain.privacy.fields` seals and opens values (pure, no I/O; protocol code should
import from there); :mod:`~govchain.privacy.vault` keeps the data keys off chain and
crypto-shreds them on erasure.
"""

from govchain.privacy.fields import SealedField, SealedFieldError, is_sealed, open_sealed, seal
from govchain.privacy.vault import KeyVault, KeyVaultError, SubjectErased, UnknownSubjectKey, vault_metadata

__all__ = [
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
