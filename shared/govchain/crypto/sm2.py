"""SM2 signatures with SM3 (GB/T 32918.2, GB/T 35276) over GmSSL, and SM2 key encodings.

GmSSL (through the ``gmssl-pyx`` C extension) does the curve arithmetic; this module pins
everything around it that interoperability depends on:

* the signer's distinguishing identifier is GB/T 35276's default ``1234567812345678``, and
  the signed digest is e = SM3(Z || M) with Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)
  (GB/T 32918.2 §5.5, §6.1), computed here so it can be checked against the standard's
  published Z and e and so any other SM2 implementation can reproduce it;
* on the wire a signature is raw r || s (64 bytes, big-endian). It is fixed-length like an
  Ed25519 signature and has no second encoding of the same value (DER has), so a signature
  field is never malleable. :func:`signature_to_der` / :func:`signature_from_der` convert at
  the edges for tools that want GB/T 35276's ASN.1 SEQUENCE { r, s } (OpenSSL, X.509);
* public keys are the uncompressed point 04 || x || y, checked to lie on the curve; PEM and
  DER are SubjectPublicKeyInfo and PKCS#8 (RFC 5915) with the sm2p256v1 OID, byte for byte
  what OpenSSL writes, so keys move between GovChain and OpenSSL/GmSSL tools unchanged.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from govchain.crypto.errors import CryptoError, KeyFormatError

try:  # The only SM2 backend; wheels exist for x86-64 (Linux, Windows, macOS) only.
    import gmssl_pyx as _gmssl
except ImportError:  # pragma: no cover - exercised only on machines without the wheel
    _gmssl = None

# Recommended curve parameters of GB/T 32918.5-2017 (sm2p256v1).
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

DEFAULT_ID = b"1234567812345678"
"""The default distinguishing identifier of GB/T 35276-2017 (also GM/T 0009-2012 §10)."""

PUBLIC_KEY_SIZE = 65
SIGNATURE_SIZE = 64

_CURVE_BYTES = b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY))
# SubjectPublicKeyInfo { id-ecPublicKey, sm2p256v1 (1.2.156.10197.1.301) } BIT STRING prefix.
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
# PKCS#8 { v0, { id-ecPublicKey, sm2p256v1 }, OCTET STRING ECPrivateKey { 1, d, [1] Q } }.
_PKCS8_PREFIX = bytes.fromhex("308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420")
_PKCS8_MIDDLE = bytes.fromhex("a144034200")


def _backend() -> Any:
    if _gmssl is None:  # pragma: no cover
        raise CryptoError("the gm suite needs the gmssl-pyx package (wheels for x86-64 only); it is not installed")
    return _gmssl


def available() -> bool:
    """True when the SM2/SM3 backend can be imported on this machine."""
    return _gmssl is not None


def sm3(data: bytes) -> bytes:
    """SM3 (GB/T 32905). GmSSL's is ~3x faster than OpenSSL's through ``cryptography`` on the
    small inputs Merkle trees hash (bench figures in docs/crypto-profiles.md)."""
    if type(data) is not bytes:
        data = bytes(data)
    digest: bytes = _backend().sm3_hash(data)
    return digest


# -- keys -------------------------------------------------------------------------------------


def validate_public(raw: bytes) -> bytes:
    """``raw`` if it is 04 || x || y with (x, y) on the curve; otherwise :class:`KeyFormatError`.

    The cofactor is 1, so every on-curve point other than infinity (which has no such
    encoding) is in the prime-order group.
    """
    raw = bytes(raw)
    if len(raw) != PUBLIC_KEY_SIZE or raw[0] != 0x04:
        raise KeyFormatError("an SM2 public key is the 65-byte uncompressed point 04 || x || y")
    x = int.from_bytes(raw[1:33], "big")
    y = int.from_bytes(raw[33:], "big")
    if x >= P or y >= P or (y * y - (x * x * x + A * x + B)) % P:
        raise KeyFormatError("the SM2 public key is not a point on the curve")
    return raw


def compress_public(raw: bytes) -> bytes:
    """The 33-byte compressed form 02|03 || x (SEC 1 §2.3.3) of a valid 65-byte public key."""
    raw = validate_public(raw)
    return bytes([2 + (raw[64] & 1)]) + raw[1:33]


def decompress_public(compressed: bytes) -> bytes:
    """The 65-byte point 04 || x || y of a compressed key (SEC 1 §2.3.4), or
    :class:`KeyFormatError`. p ≡ 3 (mod 4), so y = (x³ + ax + b)^((p+1)/4) mod p."""
    if len(compressed) != 33 or compressed[0] not in (2, 3):
        raise KeyFormatError("a compressed SM2 public key is 33 bytes, 02 or 03 || x")
    x = int.from_bytes(compressed[1:], "big")
    if x >= P:
        raise KeyFormatError("the compressed SM2 public key's x is not below p")
    rhs = (x * x * x + A * x + B) % P
    y = pow(rhs, (P + 1) // 4, P)
    if y * y % P != rhs:
        raise KeyFormatError("the compressed SM2 public key is not a point on the curve")
    if y & 1 != compressed[0] & 1:
        y = P - y
    return validate_public(b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big"))


def check_scalar(d: bytes) -> bytes:
    """A private key must be 32 bytes with 1 <= d <= n - 2 (GB/T 32918.1 key generation)."""
    if len(d) != 32 or not 1 <= int.from_bytes(d, "big") <= N - 2:
        raise KeyFormatError("an SM2 private key is 32 bytes with 1 <= d <= n-2")
    return bytes(d)


def generate() -> tuple[bytes, bytes]:
    """A fresh key pair (d, 04 || x || y); GmSSL draws d from the OS (/dev/urandom)."""
    public, private = _backend().sm2_key_generate()
    return check_scalar(private), validate_public(b"\x04" + public)


def public_key_der(public: bytes) -> bytes:
    return _SPKI_PREFIX + validate_public(public)


def public_from_der(der: bytes) -> bytes:
    if len(der) != len(_SPKI_PREFIX) + PUBLIC_KEY_SIZE or not der.startswith(_SPKI_PREFIX):
        raise KeyFormatError("not an SM2 SubjectPublicKeyInfo (sm2p256v1, uncompressed point)")
    return validate_public(der[len(_SPKI_PREFIX) :])


def private_key_der(d: bytes, public: bytes) -> bytes:
    return _PKCS8_PREFIX + check_scalar(d) + _PKCS8_MIDDLE + validate_public(public)


def private_from_der(der: bytes) -> tuple[bytes, bytes]:
    """(d, public) from PKCS#8 as OpenSSL writes it; the public key part is required.

    GmSSL exposes no d*G, so a key without its public half cannot be completed here: re-export
    it with ``openssl pkey``. The caller checks that the two halves belong together.
    """
    head, middle = len(_PKCS8_PREFIX), len(_PKCS8_PREFIX) + 32
    if (
        len(der) != middle + len(_PKCS8_MIDDLE) + PUBLIC_KEY_SIZE
        or not der.startswith(_PKCS8_PREFIX)
        or der[middle : middle + len(_PKCS8_MIDDLE)] != _PKCS8_MIDDLE
    ):
        raise KeyFormatError("not an SM2 PKCS#8 private key with its public key (as OpenSSL writes)")
    return check_scalar(der[head:middle]), validate_public(der[middle + len(_PKCS8_MIDDLE) :])


# -- signatures -------------------------------------------------------------------------------


def z_value(public: bytes, uid: bytes = DEFAULT_ID) -> bytes:
    """Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A) (GB/T 32918.2 §5.5)."""
    if len(uid) >= 8192:
        raise CryptoError("an SM2 distinguishing identifier is shorter than 8192 bytes")
    return sm3((len(uid) * 8).to_bytes(2, "big") + uid + _CURVE_BYTES + public[1:])


def message_digest(public: bytes, message: bytes, uid: bytes = DEFAULT_ID) -> bytes:
    """e = SM3(Z_A || M), the value SM2 actually signs (GB/T 32918.2 §6.1 steps A1-A2)."""
    return sm3(z_value(public, uid) + message)


def sign_digest(d: bytes, digest: bytes) -> bytes:
    """Raw r || s over a 32-byte digest e, with a fresh random k from GmSSL."""
    backend = _backend()
    try:
        der = backend.sm2_sign_sm3_digest(d, digest)
    except backend.GmsslInnerError as exc:  # bad scalar or digest, or no OS randomness
        raise CryptoError(f"SM2 signing failed: {exc}") from exc
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_digest(public: bytes, digest: bytes, signature: bytes) -> bool:
    """True only for a valid raw r || s with 1 <= r, s <= n - 1 over digest e.

    Range and length are checked here, so GmSSL only ever sees well-formed input; it writes
    a source-location line to stderr when the verification equation fails (its error_print).
    """
    if len(signature) != SIGNATURE_SIZE or len(digest) != 32:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (0 < r < N and 0 < s < N):
        return False
    backend = _backend()
    try:
        return bool(backend.sm2_verify_sm3_digest(public[1:], digest, encode_dss_signature(r, s)))
    except (backend.GmsslInnerError, ValueError, TypeError):
        return False


def signature_to_der(signature: bytes) -> bytes:
    """Raw r || s to the DER SEQUENCE { r INTEGER, s INTEGER } of GB/T 35276."""
    if len(signature) != SIGNATURE_SIZE:
        raise CryptoError("an SM2 signature is 64 bytes r || s")
    return encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))


def signature_from_der(der: bytes) -> bytes:
    """DER SEQUENCE { r, s } to raw r || s; refuses BER and any value outside [1, n-1]."""
    try:
        r, s = decode_dss_signature(der)
    except ValueError as exc:
        raise CryptoError(f"not a DER SM2 signature: {exc}") from exc
    if not (0 < r < N and 0 < s < N) or encode_dss_signature(r, s) != der:
        raise CryptoError("not a canonical DER SM2 signature")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")
