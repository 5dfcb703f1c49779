"""Multikey encoding of public keys (W3C Controlled Identifiers 1.0, §2.2.2).

DID documents and Data Integrity proofs name keys as ``publicKeyMultibase`` strings:
a multicodec prefix saying "this is an Ed25519 public key" followed by the raw key,
base58btc-encoded with the multibase prefix ``z``. Decoding checks the prefix and the
length, so a key of another curve, or a truncated one, can never be taken for ours.

A gm chain's SM2 keys use the multicodec table's ``sm2-pub`` (0x1206, varint ``86 24``,
status draft, "SM2 public key (compressed)"): the prefix followed by the 33-byte SEC 1
compressed point (``z`` + base58btc, ``zQ…`` … strings). It is the only registered code for
SM2; no W3C cryptosuite uses it yet (docs/crypto-profiles.md), so these verification methods
serve DID resolution and GovChain's own checks, while credentials keep Ed25519.

base58btc is implemented here (it is a few lines) rather than pulled in as a dependency.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govchain.crypto.sm2 import compress_public, decompress_public
from govchain.protocol.errors import GovChainError
from govchain.protocol.keys import PublicKey, SigningKey

# Multicodec codes as unsigned varints: ed25519-pub = 0xed, ed25519-priv = 0x1300.
ED25519_PUB_PREFIX = b"\xed\x01"
ED25519_PRIV_PREFIX = b"\x80\x26"
ED25519_KEY_LENGTH = 32
# sm2-pub = 0x1206 (draft in the multicodec table): the compressed point, 33 bytes.
SM2_PUB_PREFIX = b"\x86\x24"
SM2_COMPRESSED_LENGTH = 33

MULTIBASE_BASE58BTC = "z"
_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {char: value for value, char in enumerate(_ALPHABET)}


class MultikeyError(GovChainError):
    """A multibase or Multikey string is malformed, of another key type, or the wrong length."""


def b58encode(data: bytes) -> str:
    """Bitcoin base58 of ``data``; each leading zero byte becomes a leading ``1``."""
    zeros = len(data) - len(data.lstrip(b"\x00"))
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, rest = divmod(number, 58)
        digits.append(_ALPHABET[rest])
    return "1" * zeros + "".join(reversed(digits))


def b58decode(text: str) -> bytes:
    """Inverse of :func:`b58encode`; raises :class:`MultikeyError` on a non-alphabet character."""
    if not isinstance(text, str):
        raise MultikeyError("base58 input must be a string")
    number = 0
    for char in text:
        value = _INDEX.get(char)
        if value is None:
            raise MultikeyError(f"{char!r} is not a base58btc character")
        number = number * 58 + value
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * zeros + body


def multibase_b58(data: bytes) -> str:
    """Multibase base58btc: ``z`` followed by the base58btc of ``data``."""
    return MULTIBASE_BASE58BTC + b58encode(data)


def decode_multibase_b58(value: str) -> bytes:
    """Bytes of a multibase base58btc string; any other multibase prefix is refused."""
    if not isinstance(value, str) or not value.startswith(MULTIBASE_BASE58BTC):
        raise MultikeyError("not a multibase base58btc value (it must start with 'z')")
    return b58decode(value[1:])


def public_key_multibase(key: PublicKey) -> str:
    """The ``publicKeyMultibase`` of a public key: ``z6Mk...`` for Ed25519, ``sm2-pub`` of
    the compressed point for SM2."""
    prefix, encode, _ = _MULTIKEY_CODECS[key.suite.name]
    return multibase_b58(prefix + encode(key.raw))


def public_key_from_multibase(value: str) -> PublicKey:
    """The public key (Ed25519 or SM2) in a ``publicKeyMultibase`` string."""
    data = decode_multibase_b58(value)
    for prefix, _, decode in _MULTIKEY_CODECS.values():
        if data.startswith(prefix):
            try:
                return PublicKey(decode(data[len(prefix) :]))
            except ValueError as exc:
                raise MultikeyError(f"not a valid Multikey: {exc}") from exc
    raise MultikeyError(f"not an Ed25519 public or SM2 public Multikey (multicodec prefix {data[:2].hex() or 'none'})")


def _ed25519_raw(raw: bytes) -> bytes:
    if len(raw) != ED25519_KEY_LENGTH:
        raise MultikeyError(f"an Ed25519 public key is {ED25519_KEY_LENGTH} bytes, got {len(raw)}")
    return raw


def _sm2_raw(compressed: bytes) -> bytes:
    if len(compressed) != SM2_COMPRESSED_LENGTH:
        raise MultikeyError(f"an SM2 public Multikey is {SM2_COMPRESSED_LENGTH} bytes, got {len(compressed)}")
    return decompress_public(compressed)


_MULTIKEY_CODECS: dict[str, tuple[bytes, Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
    "intl": (ED25519_PUB_PREFIX, bytes, _ed25519_raw),
    "gm": (SM2_PUB_PREFIX, compress_public, _sm2_raw),
}
"""Suite name → (multicodec prefix, raw key → Multikey body, Multikey body → raw key)."""


def secret_key_multibase(key_seed: bytes) -> str:
    """The ``secretKeyMultibase`` of a 32-byte Ed25519 seed (for tests and key export)."""
    if len(key_seed) != ED25519_KEY_LENGTH:
        raise MultikeyError("an Ed25519 secret key seed is 32 bytes")
    return multibase_b58(ED25519_PRIV_PREFIX + key_seed)


def signing_key_from_multibase(value: str) -> SigningKey:
    """The signing key in an Ed25519 ``secretKeyMultibase`` string (multicodec 0x1300)."""
    seed = _strip_prefix(decode_multibase_b58(value), ED25519_PRIV_PREFIX, "Ed25519 secret")
    return SigningKey(Ed25519PrivateKey.from_private_bytes(seed))


def _strip_prefix(data: bytes, prefix: bytes, what: str) -> bytes:
    if not data.startswith(prefix):
        raise MultikeyError(f"not an {what} Multikey (multicodec prefix {data[:2].hex() or 'none'})")
    raw = data[len(prefix) :]
    if len(raw) != ED25519_KEY_LENGTH:
        raise MultikeyError(f"an {what} key is {ED25519_KEY_LENGTH} bytes, got {len(raw)}")
    return raw
