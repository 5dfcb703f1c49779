"""The 国密 suite: SM3 (GB/T 32905), SM2 with SM3 (GB/T 32918, GB/T 35276), SM4-GCM, HMAC-SM3.

SM2 and SM3 run on GmSSL (see :mod:`govchain.crypto.sm2`). SM4-GCM and HMAC-SM3 run on
OpenSSL through ``cryptography``, which has SM4 in GCM mode (as RFC 8998 uses it: a 96-bit
nonce and a 128-bit tag) and SM3 in HMAC; no GCM is built by hand here. SM4 is a 128-bit
block cipher with 128-bit keys only, so a data key for this suite is 16 bytes, not 32.
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from govchain.crypto import sm2
from govchain.crypto.base import SuiteBase
from govchain.crypto.errors import DecryptionError, KeyFormatError
from govchain.crypto.keys import PrivateKey, PublicKey
from govchain.crypto.pem import armor, dearmor

_PROBE = bytes(32)


class _Secret(NamedTuple):
    """What a gm PrivateKey holds: the scalar d and the signer's Z (fixed per key and ID)."""

    d: bytes
    z: bytes


class GmSuite(SuiteBase):
    """SM3 / SM2 / SM4-GCM. Stateless; use the :data:`GM` instance."""

    __slots__ = ()
    name: Final[Literal["gm"]] = "gm"
    hash_name: Final = "SM3"
    signature_name: Final = "SM2-with-SM3"
    aead_name: Final = "SM4-GCM"
    mac_name: Final = "HMAC-SM3"
    aead_key_size = 16
    public_key_size = sm2.PUBLIC_KEY_SIZE
    distinguishing_id: Final = sm2.DEFAULT_ID

    @property
    def available(self) -> bool:
        """False on machines without the gmssl-pyx wheel (not x86-64)."""
        return sm2.available()

    def hash(self, data: bytes) -> bytes:
        return sm2.sm3(data)

    def mac(self, key: bytes, data: bytes) -> bytes:
        """HMAC (RFC 2104) with SM3 as the hash, e.g. for keyed pseudonyms."""
        h = crypto_hmac.HMAC(key, hashes.SM3())
        h.update(data)
        return h.finalize()

    # -- keys -------------------------------------------------------------------------------

    def public_key_from_bytes(self, raw: bytes) -> PublicKey:
        """The 65-byte uncompressed point 04 || x || y, checked to be on the curve."""
        raw = sm2.validate_public(raw)
        return PublicKey("gm", raw, self.key_id_of(raw))

    def generate_private_key(self) -> PrivateKey:
        d, public = sm2.generate()
        return self._wrap(d, public)

    def public_key_to_pem(self, public: PublicKey) -> bytes:
        self._own(public)
        return armor(sm2.public_key_der(public.raw), "PUBLIC KEY")

    def public_key_from_pem(self, pem: bytes) -> PublicKey:
        return self.public_key_from_bytes(sm2.public_from_der(dearmor(pem, "PUBLIC KEY")))

    def private_key_to_pem(self, private: PrivateKey) -> bytes:
        """PKCS#8 PEM as OpenSSL writes it, unencrypted (key files are 0600)."""
        self._own(private)
        secret = cast(_Secret, private._handle)
        return armor(sm2.private_key_der(secret.d, private.public.raw), "PRIVATE KEY")

    def private_key_from_pem(self, pem: bytes) -> PrivateKey:
        """Reads PKCS#8 and proves the halves belong together by one sign/verify round."""
        d, public = sm2.private_from_der(dearmor(pem, "PRIVATE KEY"))
        if not sm2.verify_digest(public, _PROBE, sm2.sign_digest(d, _PROBE)):
            raise KeyFormatError("the public key in the PEM is not the private key's")
        return self._wrap(d, public)

    def _wrap(self, d: bytes, public: bytes) -> PrivateKey:
        # Z depends only on the key and the identifier: computed once per key, not per signature.
        return PrivateKey("gm", self.public_key_from_bytes(public), _Secret(d, sm2.z_value(public)))

    # -- signatures -------------------------------------------------------------------------

    def sign(self, private: PrivateKey, message: bytes) -> bytes:
        """64-byte raw r || s over e = SM3(Z || M), ID 1234567812345678, random k."""
        self._own(private)
        secret = cast(_Secret, private._handle)
        return sm2.sign_digest(secret.d, sm2.sm3(secret.z + message))

    def verify(self, public: PublicKey, message: bytes, signature: bytes) -> bool:
        """True only for a valid signature; malformed input is ``False``, never an exception."""
        self._own(public)
        if len(signature) != self.signature_size:
            return False
        return sm2.verify_digest(public.raw, sm2.message_digest(public.raw, message), signature)

    # -- AEAD -------------------------------------------------------------------------------

    def seal(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
        """SM4-GCM (RFC 8998): ciphertext || 16-byte tag. Never reuse a nonce under one key."""
        self._check_aead(key, nonce)
        enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(aad)
        body = enc.update(plaintext) + enc.finalize()
        return body + enc.tag

    def open(self, key: bytes, nonce: bytes, sealed: bytes, aad: bytes = b"") -> bytes:
        """The plaintext, or :class:`DecryptionError` if anything was altered."""
        self._check_aead(key, nonce)
        if len(sealed) < self.aead_tag_size:
            raise DecryptionError("sealed data is shorter than its tag")
        body, tag = sealed[: -self.aead_tag_size], sealed[-self.aead_tag_size :]
        dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        dec.authenticate_additional_data(aad)
        plaintext = dec.update(body)
        try:
            dec.finalize()
        except InvalidTag as exc:
            raise DecryptionError("SM4-GCM authentication failed") from exc
        return plaintext  # released only after the tag checked out


GM: Final = GmSuite()
