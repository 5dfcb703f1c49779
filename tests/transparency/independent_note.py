"""A second, independent reading of c2sp.org/signed-note and c2sp.org/tlog-cosignature, written
from the spec text alone (it imports nothing from govchain), so tests can check that bytes
GovChain signs are what any other implementation accepts.

Deliberately plain: one function per question a verifier asks.
"""

from __future__ import annotations

import base64
import hashlib
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EM_DASH_SPACE = "\u2014 "


class Refused(Exception):
    pass


def read_vkey(vkey: str) -> tuple[str, bytes, int, bytes]:
    """(name, 4-byte key id, signature type, public key) of ``name+hexid+base64(type||key)``."""
    name, rest = vkey.split("+", 1)
    hex_id, material_b64 = rest.split("+", 1)
    material = base64.b64decode(material_b64, validate=True)
    key_id = bytes.fromhex(hex_id)
    sig_type, public = material[0], material[1:]
    expected = hashlib.sha256(name.encode() + b"\x0a" + bytes([sig_type]) + public).digest()[:4]
    if expected != key_id or len(public) != 32:
        raise Refused("vkey key id does not match")
    return name, key_id, sig_type, public


def split_note(note: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """(text incl. final newline, [(key name, base64-decoded signature)])."""
    decoded = note.decode("utf-8")
    if any(ord(c) < 0x20 and c != "\n" for c in decoded):
        raise Refused("control character")
    cut = decoded.rindex("\n\n")
    text, signature_block = decoded[: cut + 1], decoded[cut + 2 :]
    if not signature_block.endswith("\n"):
        raise Refused("signature block must end in a newline")
    signatures = []
    for line in signature_block.split("\n")[:-1]:
        if not line.startswith(EM_DASH_SPACE):
            raise Refused("not a signature line")
        name, b64 = line[len(EM_DASH_SPACE) :].split(" ", 1)
        signatures.append((name, base64.b64decode(b64, validate=True)))
    return text.encode("utf-8"), signatures


def ed25519_ok(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def verify_log_signature(note: bytes, vkey: str) -> bytes:
    """The note text, if the Ed25519 (type 0x01) key ``vkey`` signed it; else Refused."""
    name, key_id, sig_type, public = read_vkey(vkey)
    if sig_type != 0x01:
        raise Refused("not an Ed25519 note key")
    text, signatures = split_note(note)
    for sig_name, raw in signatures:
        if sig_name == name and raw[:4] == key_id:
            if ed25519_ok(public, raw[4:], text):
                return text
            raise Refused("signature by the known key does not verify")
    raise Refused("no signature by the key")


def verify_cosignature(note: bytes, witness_vkey: str) -> int:
    """The timestamp of a valid ``cosignature/v1`` by ``witness_vkey`` (type 0x04); else Refused."""
    name, key_id, sig_type, public = read_vkey(witness_vkey)
    if sig_type != 0x04:
        raise Refused("not a cosignature key")
    text, signatures = split_note(note)
    for sig_name, raw in signatures:
        if sig_name == name and raw[:4] == key_id:
            if len(raw) != 4 + 8 + 64:
                raise Refused("a timestamped signature is 8 + 64 bytes")
            (timestamp,) = struct.unpack(">Q", raw[4:12])
            message = b"cosignature/v1\n" + b"time " + str(timestamp).encode() + b"\n" + text
            if ed25519_ok(public, raw[12:], message):
                return timestamp
            raise Refused("cosignature does not verify")
    raise Refused("no cosignature by the witness")


def read_checkpoint(text: bytes) -> tuple[str, int, bytes, list[str]]:
    """(origin, size, root, extension lines) of a checkpoint body."""
    lines = text.decode("utf-8").split("\n")
    if lines[-1] != "" or len(lines) < 4:
        raise Refused("a checkpoint is at least three newline-terminated lines")
    origin, size_text, root_b64, *extensions = lines[:-1]
    if not size_text.isascii() or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise Refused("tree size is a decimal without leading zeros")
    root = base64.b64decode(root_b64, validate=True)
    if len(root) != 32 or not origin or any(not line for line in extensions):
        raise Refused("bad checkpoint")
    return origin, int(size_text), root, extensions
