"""Typed errors of the protocol layer.

Every way an event or a block can be refused has a stable, machine-readable reason code,
so a publisher, an operator and an auditor read the same word for the same fault.
"""

from __future__ import annotations

from enum import StrEnum


class GovChainError(Exception):
    """Base of every error GovChain raises on purpose."""


class CanonicalizationError(GovChainError):
    """A value has no RFC 8785 canonical form (e.g. an integer beyond 2**53, NaN)."""


class KeyFileError(GovChainError):
    """A key file is missing, unreadable, of the wrong kind or too widely readable."""


class RejectionReason(StrEnum):
    """Why the orderer refused an event; recorded on stream REJECTED with the event."""

    MALFORMED_ENVELOPE = "malformed_envelope"
    OVERSIZED = "oversized"
    SUBJECT_MISMATCH = "subject_mismatch"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_PAYLOAD = "invalid_payload"
    UNKNOWN_KEY = "unknown_key"
    KEY_REVOKED = "key_revoked"
    SIGNER_NOT_OF_SOURCE = "signer_not_of_source"
    BAD_SIGNATURE = "bad_signature"
    UNAUTHORIZED = "unauthorized"
    CONFLICTING_ID = "conflicting_id"
    STATE_CONFLICT = "state_conflict"
    INVALID_TIME = "invalid_time"
    INTERNAL_ERROR = "internal_error"
    """The orderer failed on the message itself: quarantined with its hash, so it cannot stop the ledger."""


class EventRejected(GovChainError):
    """An event failed validation; carries the reason code and a human-readable detail."""

    def __init__(self, reason: RejectionReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class BlockVerificationError(GovChainError):
    """A block does not verify: the chain is broken or tampered at ``height``."""

    def __init__(self, height: int, detail: str) -> None:
        super().__init__(f"block {height} fails verification: {detail}")
        self.height = height
        self.detail = detail


class ContractError(GovChainError, ValueError):
    """A contract definition is invalid, or an expression failed while a case was evaluated."""
