"""Typed failures of the crypto seam, so callers can refuse bad input with a reason.

Every error is also a ``ValueError``: code that already catches ``ValueError`` around key
parsing keeps working when it is handed a suite.
"""

from __future__ import annotations


class CryptoError(ValueError):
    """Base of every error raised by :mod:`govchain.crypto`."""


class UnknownSuiteError(CryptoError):
    """A crypto profile name that no suite answers to (genesis names one of ``SUITE_NAMES``)."""


class SuiteMismatchError(CryptoError):
    """A key of one suite handed to another: a wiring bug, never a verification result."""


class KeyFormatError(CryptoError):
    """Key bytes or PEM that are not a valid key of the suite that was asked to read them."""


class DecryptionError(CryptoError):
    """AEAD open failed: wrong key, nonce or associated data, or a tampered ciphertext."""
