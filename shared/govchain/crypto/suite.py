"""The one seam that chooses a chain's algorithms: genesis names a profile, callers get a suite.

A chain's crypto profile is fixed in its genesis block: ``intl`` (SHA-256, Ed25519,
AES-256-GCM) or ``gm`` (SM3, SM2, SM4-GCM). Code that hashes, signs, builds Merkle trees or
seals personal data takes a :class:`CryptoSuite` and calls it; nothing outside this package
asks which profile it is running ("no ``if gm``"), so adding or auditing a profile touches
one place.

Algorithms that an outside standard fixes are not the suite's business and stay where the
standard puts them, on every chain: Ed25519 for C2SP signed-note checkpoints and witness
cosignatures, Ed25519 for ``eddsa-jcs-2022`` credentials (docs/crypto-profiles.md).
"""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

from govchain.crypto.errors import CryptoError, KeyFormatError, UnknownSuiteError
from govchain.crypto.gm import GM
from govchain.crypto.intl import INTL
from govchain.crypto.keys import PrivateKey, PublicKey, SuiteName

SUITE_NAMES: Final[tuple[SuiteName, ...]] = ("intl", "gm")
DEFAULT_SUITE: Final[SuiteName] = "intl"


@runtime_checkable
class CryptoSuite(Protocol):
    """Everything a chain needs from its crypto profile. Implementations are stateless."""

    @property
    def name(self) -> SuiteName: ...
    @property
    def hash_name(self) -> str: ...
    @property
    def signature_name(self) -> str: ...
    @property
    def aead_name(self) -> str: ...
    @property
    def mac_name(self) -> str: ...
    @property
    def hash_size(self) -> int: ...
    @property
    def signature_size(self) -> int: ...
    @property
    def public_key_size(self) -> int: ...
    @property
    def aead_key_size(self) -> int: ...
    @property
    def aead_nonce_size(self) -> int: ...
    @property
    def aead_tag_size(self) -> int: ...
    @property
    def empty_root(self) -> bytes: ...

    # hashing, RFC 9162 tree hashing, keyed MAC
    def hash(self, data: bytes) -> bytes: ...
    def leaf_hash(self, leaf: bytes) -> bytes: ...
    def node_hash(self, left: bytes, right: bytes) -> bytes: ...
    def mac(self, key: bytes, data: bytes) -> bytes: ...

    # keys
    def generate_private_key(self) -> PrivateKey: ...
    def public_key_from_bytes(self, raw: bytes) -> PublicKey: ...
    def public_key_to_pem(self, public: PublicKey) -> bytes: ...
    def public_key_from_pem(self, pem: bytes) -> PublicKey: ...
    def private_key_to_pem(self, private: PrivateKey) -> bytes: ...
    def private_key_from_pem(self, pem: bytes) -> PrivateKey: ...
    def key_id_of(self, raw_public_key: bytes) -> str: ...
    def key_id(self, public: PublicKey) -> str: ...

    # signatures
    def sign(self, private: PrivateKey, message: bytes) -> bytes: ...
    def verify(self, public: PublicKey, message: bytes, signature: bytes) -> bool: ...

    # AEAD
    def generate_aead_key(self) -> bytes: ...
    def seal(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes = b"") -> bytes: ...
    def open(self, key: bytes, nonce: bytes, sealed: bytes, aad: bytes = b"") -> bytes: ...


_SUITES: Final[dict[str, CryptoSuite]] = {"intl": INTL, "gm": GM}
_BY_PUBLIC_KEY_SIZE: Final[dict[int, CryptoSuite]] = {INTL.public_key_size: INTL, GM.public_key_size: GM}


def suite_by_name(name: str) -> CryptoSuite:
    """The suite a genesis block names; refuses unknown names and a gm chain on a machine
    without the SM2 backend (fail at start-up, not at the first signature)."""
    suite = _SUITES.get(name)
    if suite is None:
        raise UnknownSuiteError(f"unknown crypto profile {name!r}; expected one of {SUITE_NAMES}")
    if not getattr(suite, "available", True):  # pragma: no cover - x86-64 always has the wheel
        raise CryptoError(f"the {name} profile's backend is not installed here (gmssl-pyx)")
    return suite


def suite_of(key: PublicKey | PrivateKey) -> CryptoSuite:
    """The suite that made ``key`` (every key carries its suite's name)."""
    return _SUITES[key.suite]


def public_key_from_raw(raw: bytes) -> PublicKey:
    """A public key from its canonical bytes, whichever suite they belong to.

    The two suites' encodings cannot be confused: an Ed25519 key is 32 bytes, an SM2 key the
    65-byte uncompressed point. So a key on chain names its own suite, and the chain's rules
    (a chain accepts keys of its own profile only) are checked where keys are registered."""
    suite = _BY_PUBLIC_KEY_SIZE.get(len(raw))
    if suite is None:
        raise KeyFormatError(f"no crypto suite has {len(raw)}-byte public keys (Ed25519: 32, SM2: 65)")
    return suite.public_key_from_bytes(raw)


def private_key_from_pem(pem: bytes) -> PrivateKey:
    """A PKCS#8 PEM private key of either suite (the algorithm OID in it says which)."""
    errors = []
    for suite in _SUITES.values():
        if not getattr(suite, "available", True):  # pragma: no cover - x86-64 always has the wheel
            continue
        try:
            return suite.private_key_from_pem(pem)
        except KeyFormatError as exc:
            errors.append(f"{suite.name}: {exc}")
    raise KeyFormatError("not a private key of any crypto suite (" + "; ".join(errors) + ")")


CHECKPOINT_SUITE: Final = INTL
"""Whose signatures C2SP checkpoints and witness cosignatures carry, on every chain: Ed25519
(``c2sp.org/signed-note`` type 0x01, ``c2sp.org/tlog-cosignature``), fixed by those specs."""


def needs_checkpoint_key(suite: CryptoSuite) -> bool:
    """True when a chain of ``suite`` needs an Ed25519 checkpoint key of its own, beside its
    orderer keys: when its orderer keys cannot sign a C2SP checkpoint (docs/crypto-profiles.md)."""
    return suite is not CHECKPOINT_SUITE


def keeps_sha256_tree(suite: CryptoSuite) -> bool:
    """True when a chain of ``suite`` keeps a second, SHA-256 (RFC 6962) tree over its event
    leaves beside its own: when its own tree is not the one C2SP checkpoints and stock witnesses
    check (``c2sp.org/tlog-checkpoint`` roots are RFC 6962 SHA-256 trees). The SHA-256 tree is
    :mod:`govchain.protocol.merkle`'s default hashing (docs/crypto-profiles.md)."""
    return suite is not CHECKPOINT_SUITE


CREDENTIAL_SUITE: Final = INTL
"""Whose keys sign W3C ``eddsa-jcs-2022`` credential proofs, on every chain: Ed25519, fixed by
the W3C Data Integrity EdDSA cryptosuites (there is no W3C cryptosuite for SM2)."""
