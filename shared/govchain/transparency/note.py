"""c2sp.org/signed-note syntax: a text, a blank line, then ``— <name> <base64>`` signature lines.

Only syntax lives here (no keys, no crypto), so the parser can be held to the byte-level rules
of the spec on its own, and every caller (witness, client, ledger) refuses the same bytes.
Parsing follows the reference implementation, golang.org/x/mod/sumdb/note ``Open``: valid UTF-8,
no control characters but newline, split at the *last* blank line, at most 100 signatures.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from govchain.transparency.errors import MalformedNote

SIGNATURE_PREFIX = "\u2014 "
"""Em dash (U+2014) and a space open every signature line."""
MAX_SIGNATURES = 100
"""More signature lines make a note malformed (the spec asks verifiers to accept at least 16;
Go's reference implementation refuses more than 100, and so do we)."""

_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""Unicode's White_Space property (what Go's unicode.IsSpace tests): key names contain none."""
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
"""ASCII control characters other than newline (U+000A); DEL (U+007F) is not below U+0020."""


def is_valid_key_name(name: str) -> bool:
    """A key name is non-empty and has no Unicode space and no ``+`` (it is a vkey separator)."""
    return bool(name) and "+" not in name and not any(c in _WHITE_SPACE for c in name)


def b64encode(data: bytes) -> str:
    """Standard base64 (RFC 4648 §4) with padding."""
    return base64.b64encode(data).decode("ascii")


def b64decode_canonical(text: str) -> bytes:
    """Standard base64, refusing anything but the one canonical encoding of the bytes.

    Strictness makes a signature line's bytes round-trip exactly, so two parsers never
    disagree on which signature a line carries. Raises ValueError."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"not standard base64: {exc}") from None
    if b64encode(data) != text:
        raise ValueError("not the canonical base64 encoding")
    return data


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 32-bit key id, and the signature bytes after the id."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        """The signature line, newline included: ``— name base64(key id || signature)``."""
        if not is_valid_key_name(self.name):
            raise MalformedNote(f"invalid key name {self.name!r}")
        return f"{SIGNATURE_PREFIX}{self.name} {b64encode(self.key_id.to_bytes(4, 'big') + self.signature)}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A parsed note whose signatures are not yet checked: its text must not be trusted yet."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def to_bytes(self) -> bytes:
        return format_note(self.text, self.signatures)


def check_text(text: str) -> None:
    """A note text ends with a newline and carries no control character but newline."""
    if not text.endswith("\n"):
        raise MalformedNote("a note text must end with a newline")
    _check_characters(text)


def format_note(text: str, signatures: tuple[NoteSignature, ...] | list[NoteSignature]) -> bytes:
    """The note's bytes: text, blank line, one line per signature (at least one)."""
    check_text(text)
    if not signatures:
        raise MalformedNote("a signed note carries at least one signature")
    return (text + "\n" + "".join(s.line() for s in signatures)).encode("utf-8")


def parse_signature_line(line: str) -> NoteSignature:
    """One signature line without its newline; raise MalformedNote."""
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNote("a signature line starts with an em dash and a space")
    if _CONTROL.search(line) or "\n" in line:
        raise MalformedNote("a signature line has no control characters")
    name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not is_valid_key_name(name) or not encoded:
        raise MalformedNote("malformed signature line")
    try:
        raw = b64decode_canonical(encoded)
    except ValueError:
        raise MalformedNote("a signature is not canonical base64") from None
    if len(raw) < 5:
        raise MalformedNote("a signature is a 4-byte key id and at least one byte")
    return NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def parse_note(data: bytes, *, max_signatures: int = MAX_SIGNATURES) -> Note:
    """Split a signed note into text and signature lines; raise MalformedNote.

    Nothing is verified: use :func:`govchain.transparency.verification.verify_note`."""
    try:
        message = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNote("a note is valid UTF-8") from None
    _check_characters(message)
    split = message.rfind("\n\n")
    if split < 0:
        raise MalformedNote("a note has a blank line between text and signatures")
    text, block = message[: split + 1], message[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNote("a note ends with a signature line and a newline")
    lines = block[:-1].split("\n", max_signatures)
    if len(lines) > max_signatures:
        raise MalformedNote(f"a note carries at most {max_signatures} signatures")
    return Note(text, tuple(parse_signature_line(line) for line in lines))


def _check_characters(text: str) -> None:
    if _CONTROL.search(text):
        raise MalformedNote("a note has no control characters but newline")
