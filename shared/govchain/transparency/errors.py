"""Typed errors of the transparency formats, so a caller can tell bad bytes from bad signatures."""

from __future__ import annotations

from govchain.protocol.errors import GovChainError


class TransparencyError(GovChainError):
    """Base of the errors this package raises on purpose."""


class MalformedNote(TransparencyError):
    """The bytes are not a signed note (c2sp.org/signed-note): never trust any part of them."""


class MalformedKey(TransparencyError):
    """A verifier or signer key string is not in the note key format, or its key id is wrong."""


class MalformedCheckpoint(TransparencyError):
    """A note's text is not a checkpoint body (c2sp.org/tlog-checkpoint)."""


class UnverifiedNote(TransparencyError):
    """No signature by a known key: the note's text must be ignored."""


class InvalidSignature(TransparencyError):
    """A signature line names a known key (name and id) but does not verify: the note is forged
    or corrupted, so the whole note is refused (as c2sp.org/signed-note advises)."""

    def __init__(self, name: str, key_id: int) -> None:
        super().__init__(f"invalid signature for key {name}+{key_id:08x}")
        self.name = name
        self.key_id = key_id


class AmbiguousKey(TransparencyError):
    """Two configured keys share a name and key id: a signature could not be attributed."""


class MalformedTilePath(TransparencyError):
    """A path is not a c2sp.org/tlog-tiles tile or entry-bundle path."""


class TileUnavailable(TransparencyError):
    """A tile or bundle is not part of the tree at the given size (or its nodes are missing)."""


class EntryTooLarge(TransparencyError):
    """An entry does not fit an entry bundle's 16-bit length prefix (at most 65,535 bytes)."""


class MalformedWitnessRequest(TransparencyError):
    """An add-checkpoint request or response body is not in the c2sp.org/tlog-witness format."""


class QuorumNotMet(TransparencyError):
    """Fewer trusted witnesses cosigned a checkpoint than the client's policy requires."""

    def __init__(self, found: int, required: int) -> None:
        super().__init__(f"{found} trusted witness cosignature(s), {required} required")
        self.found = found
        self.required = required
