"""Crypto profiles: the suite seam (``intl`` | ``gm``) and its two implementations.

Start at :func:`suite_by_name`; see :mod:`govchain.crypto.suite` for why there is one seam.
"""

from govchain.crypto.errors import (
    CryptoError,
    DecryptionError,
    KeyFormatError,
    SuiteMismatchError,
    UnknownSuiteError,
)
from govchain.crypto.gm import GM, GmSuite
from govchain.crypto.intl import INTL, IntlSuite
from govchain.crypto.keys import PrivateKey, PublicKey, SuiteName
from govchain.crypto.suite import (
    CHECKPOINT_SUITE,
    CREDENTIAL_SUITE,
    DEFAULT_SUITE,
    SUITE_NAMES,
    CryptoSuite,
    keeps_sha256_tree,
    needs_checkpoint_key,
    private_key_from_pem,
    public_key_from_raw,
    suite_by_name,
    suite_of,
)

__all__ = [
    "CHECKPOINT_SUITE",
    "CREDENTIAL_SUITE",
    "DEFAULT_SUITE",
    "GM",
    "INTL",
    "SUITE_NAMES",
    "CryptoError",
    "CryptoSuite",
    "DecryptionError",
    "GmSuite",
    "IntlSuite",
    "KeyFormatError",
    "PrivateKey",
    "PublicKey",
    "SuiteMismatchError",
    "SuiteName",
    "UnknownSuiteError",
    "keeps_sha256_tree",
    "needs_checkpoint_key",
    "private_key_from_pem",
    "public_key_from_raw",
    "suite_by_name",
    "suite_of",
]
