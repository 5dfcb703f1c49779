"""Ed25519 note keys: key ids, verifier keys (vkeys), signer keys, and the signer and verifier.

A verifier key ``<name>+<hex key id>+<base64(type || public key)>`` is how a log or a witness
publishes its key (c2sp.org/signed-note, "Verifier keys"). The key id is the first four bytes of
SHA-256(name || 0x0A || type || public key), so one key used under two names or two signature
types has distinct ids. Type 0x01 is a plain Ed25519 note signature (what a log signs its
checkpoints with); type 0x04 is a timestamped cosignature (:mod:`.cosignature`).

Signer keys ``PRIVATE+KEY+<name>+<hex key id>+<base64(type || seed)>`` are Go's note format
(golang.org/x/mod/sumdb/note). GovChain keeps its own keys as PEM files (govchain.protocol.keys);
this form is read and written for interoperability and for the published test vectors.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govchain.protocol.keys import PublicKey, SigningKey
from govchain.transparency.errors import MalformedKey
from govchain.transparency.note import b64decode_canonical, b64encode, is_valid_key_name

ALG_ED25519 = 0x01
"""Signature type of an Ed25519 signature over the note text."""
ALG_COSIGNATURE_V1 = 0x04
"""Signature type of a timestamped Ed25519 checkpoint cosignature (c2sp.org/tlog-cosignature)."""

_HEX_ID = re.compile(r"[0-9a-f]{8}")


def key_id(name: str, alg: int, public_key: bytes) -> int:
    """SHA-256(name || "\\n" || alg || public key)[:4] as a big-endian uint32."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


class NoteVerifier(Protocol):
    """A key that checks note signatures: what :func:`verify_note` is configured with."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, text: bytes, signature: bytes) -> bool:
        """``signature`` is a line's bytes after the key id; never raises."""
        ...


class NoteSigner(Protocol):
    """A key that signs note texts."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, text: bytes) -> bytes:
        """The signature bytes that follow the key id in the signature line."""
        ...


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A parsed vkey: name, signature type and public key; its id is derived, never trusted."""

    name: str
    alg: int
    public_key: bytes
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise MalformedKey(f"invalid key name {self.name!r}")
        if self.alg in (ALG_ED25519, ALG_COSIGNATURE_V1) and len(self.public_key) != 32:
            raise MalformedKey("an Ed25519 public key is 32 bytes")
        object.__setattr__(self, "key_id", key_id(self.name, self.alg, self.public_key))

    def __str__(self) -> str:
        return format_vkey(self.name, self.alg, self.public_key)


def format_vkey(name: str, alg: int, public_key: bytes) -> str:
    """``name+hex(key id)+base64(alg || public key)``."""
    if not is_valid_key_name(name):
        raise MalformedKey(f"invalid key name {name!r}")
    return f"{name}+{key_id(name, alg, public_key):08x}+{b64encode(bytes([alg]) + public_key)}"


def parse_vkey(vkey: str, *, algs: tuple[int, ...] = (ALG_ED25519, ALG_COSIGNATURE_V1)) -> VerifierKey:
    """Parse a vkey of one of ``algs``; refuse a wrong key id, length or type (MalformedKey)."""
    parts = vkey.split("+", 2)  # base64 may itself contain "+"
    if len(parts) != 3:
        raise MalformedKey("a vkey is name+keyid+key")
    name, hex_id, encoded = parts
    if not _HEX_ID.fullmatch(hex_id):
        raise MalformedKey("a vkey's key id is 8 lowercase hex digits")
    try:
        material = b64decode_canonical(encoded)
    except ValueError:
        raise MalformedKey("a vkey's key is canonical base64") from None
    if not material:
        raise MalformedKey("a vkey has key material")
    alg, public = material[0], material[1:]
    if alg not in algs:
        raise MalformedKey(f"unsupported vkey signature type 0x{alg:02x}")
    parsed = VerifierKey(name, alg, public)
    if parsed.key_id != int(hex_id, 16):
        raise MalformedKey(f"vkey {name}: key id {hex_id} does not match the key")
    return parsed


@dataclass(frozen=True, slots=True)
class Ed25519Verifier:
    """Checks type 0x01 signatures: plain Ed25519 over the note text (a log's checkpoint key)."""

    name: str
    public_key: bytes
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_id", VerifierKey(self.name, ALG_ED25519, self.public_key).key_id)

    @classmethod
    def from_vkey(cls, vkey: str) -> Ed25519Verifier:
        parsed = parse_vkey(vkey, algs=(ALG_ED25519,))
        return cls(parsed.name, parsed.public_key)

    @property
    def vkey(self) -> str:
        return format_vkey(self.name, ALG_ED25519, self.public_key)

    def verify(self, text: bytes, signature: bytes) -> bool:
        return PublicKey(self.public_key).verify(signature, text)


class Ed25519Signer:
    """Signs note texts with a GovChain signing key under a note key name (type 0x01)."""

    __slots__ = ("_key", "key_id", "name")

    def __init__(self, name: str, key: SigningKey) -> None:
        if not is_valid_key_name(name):
            raise MalformedKey(f"invalid key name {name!r}")
        self.name = name
        self._key = key
        self.key_id = key_id(name, ALG_ED25519, key.public.raw)

    @property
    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self.name, self._key.public.raw)

    def sign(self, text: bytes) -> bytes:
        return self._key.sign(text)

    def __repr__(self) -> str:
        return f"Ed25519Signer({self.verifier.vkey})"


def signing_key_from_seed(seed: bytes) -> SigningKey:
    """A GovChain signing key from a 32-byte RFC 8032 seed (the note signer-key material)."""
    if len(seed) != 32:
        raise MalformedKey("an Ed25519 seed is 32 bytes")
    return SigningKey(Ed25519PrivateKey.from_private_bytes(seed))


def seed_of(key: SigningKey) -> bytes:
    """The 32-byte seed of a signing key (for writing a note signer key)."""
    private = serialization.load_pem_private_key(key.to_pem(), password=None)
    return private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def parse_signer_key(skey: str) -> tuple[str, int, SigningKey]:
    """``PRIVATE+KEY+name+hexid+base64(alg || seed)`` → (name, alg, key); checks the key id."""
    parts = skey.split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise MalformedKey("a signer key is PRIVATE+KEY+name+keyid+key")
    name, hex_id, encoded = parts[2:]
    if not _HEX_ID.fullmatch(hex_id) or not is_valid_key_name(name):
        raise MalformedKey("malformed signer key")
    try:
        material = b64decode_canonical(encoded)
    except ValueError:
        raise MalformedKey("a signer key's key is canonical base64") from None
    if not material or material[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise MalformedKey("unsupported signer key type")
    alg, key = material[0], signing_key_from_seed(material[1:])
    if key_id(name, alg, key.public.raw) != int(hex_id, 16):
        raise MalformedKey(f"signer key {name}: key id {hex_id} does not match the key")
    return name, alg, key


def format_signer_key(name: str, alg: int, key: SigningKey) -> str:
    """The Go note signer-key string; it holds the private seed: keep it like a key file."""
    if not is_valid_key_name(name):
        raise MalformedKey(f"invalid key name {name!r}")
    material = bytes([alg]) + seed_of(key)
    return f"PRIVATE+KEY+{name}+{key_id(name, alg, key.public.raw):08x}+{b64encode(material)}"
