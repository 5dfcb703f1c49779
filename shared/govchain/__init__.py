"""GovChain shared kernel: the protocol (domain) and the plumbing every service uses.

The names in ``__all__`` are the SDK: what a department's system, a downstream subscriber or
an auditor needs, importable as ``from govchain import ...``:

- talking to GovChain: :class:`GovChainClient` (publish, receipts, proofs, queries) and
  its :class:`LedgerQueryError`; :class:`ChainNames` picks a chain where several share a NATS
  cluster (``GovChainClient(nc, names=ChainNames("east"))``);
- keys: :class:`SigningKey` (Ed25519, or SM2 on a 国密 chain; PEM files) and :class:`PublicKey`;
- signing events: :func:`make_event` builds and signs an :class:`Envelope`;
  :func:`parse_envelope` reads one from wire bytes; :func:`sign_batch` signs many events
  of one department at once as an :class:`EventBatch`;
- proofs: :func:`inclusion_problem`, :func:`consistency_problem` and
  :func:`signed_head_problem` check what the ledger answers against the orderer's keys
  (``None`` when it checks out); :func:`leaf_hash` ties an inclusion proof to your event
  (``leaf_hash(envelope.to_bytes())``; SHA-256: on a gm chain ``suite.leaf_hash``, with the
  suite from :meth:`GovChainClient.crypto_suite`, see docs/crypto-profiles.md);
- blocks: :class:`ChainVerifier` verifies a :class:`Block` (its :class:`BlockHeader`) as
  the next one of the chain and returns a :class:`VerifiedBlock`; its :class:`Checkpoint`
  resumes verification after a stored height;
- errors: everything raised on purpose is a :class:`GovChainError`; an event refused is
  :class:`EventRejected` with a :class:`RejectionReason`; a block that does not verify,
  :class:`BlockVerificationError`.

They load on first use (PEP 562), so ``import govchain`` and ``import govchain.protocol``
load neither NATS nor a database; only :class:`GovChainClient` brings nats-py.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from govchain.bus.subjects import ChainNames
    from govchain.client import GovChainClient, LedgerQueryError
    from govchain.protocol.batch import EventBatch, sign_batch
    from govchain.protocol.block import Block, BlockHeader
    from govchain.protocol.envelope import Envelope, make_event, parse_envelope
    from govchain.protocol.errors import (
        BlockVerificationError,
        CanonicalizationError,
        EventRejected,
        GovChainError,
        KeyFileError,
        RejectionReason,
    )
    from govchain.protocol.keys import PublicKey, SigningKey
    from govchain.protocol.merkle import leaf_hash
    from govchain.protocol.proofs import consistency_problem, inclusion_problem, signed_head_problem
    from govchain.protocol.verify import ChainVerifier, Checkpoint, VerifiedBlock

_EXPORTS = {
    # client
    "GovChainClient": "govchain.client",
    "LedgerQueryError": "govchain.client",
    "ChainNames": "govchain.bus.subjects",
    # keys
    "PublicKey": "govchain.protocol.keys",
    "SigningKey": "govchain.protocol.keys",
    # events and batches
    "Envelope": "govchain.protocol.envelope",
    "make_event": "govchain.protocol.envelope",
    "parse_envelope": "govchain.protocol.envelope",
    "EventBatch": "govchain.protocol.batch",
    "sign_batch": "govchain.protocol.batch",
    # proofs
    "consistency_problem": "govchain.protocol.proofs",
    "inclusion_problem": "govchain.protocol.proofs",
    "signed_head_problem": "govchain.protocol.proofs",
    "leaf_hash": "govchain.protocol.merkle",
    # blocks and the chain
    "Block": "govchain.protocol.block",
    "BlockHeader": "govchain.protocol.block",
    "ChainVerifier": "govchain.protocol.verify",
    "Checkpoint": "govchain.protocol.verify",
    "VerifiedBlock": "govchain.protocol.verify",
    # errors
    "BlockVerificationError": "govchain.protocol.errors",
    "CanonicalizationError": "govchain.protocol.errors",
    "EventRejected": "govchain.protocol.errors",
    "GovChainError": "govchain.protocol.errors",
    "KeyFileError": "govchain.protocol.errors",
    "RejectionReason": "govchain.protocol.errors",
}
"""Each public name and the module that defines it."""

__all__ = [
    "__version__",
    "Block",
    "BlockHeader",
    "BlockVerificationError",
    "CanonicalizationError",
    "ChainNames",
    "ChainVerifier",
    "Checkpoint",
    "consistency_problem",
    "Envelope",
    "EventBatch",
    "EventRejected",
    "GovChainClient",
    "GovChainError",
    "inclusion_problem",
    "KeyFileError",
    "leaf_hash",
    "LedgerQueryError",
    "make_event",
    "parse_envelope",
    "PublicKey",
    "RejectionReason",
    "sign_batch",
    "signed_head_problem",
    "SigningKey",
    "VerifiedBlock",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups find it without coming here
    return value


def __dir__() -> list[str]:
    """The public names and the submodules imported so far (not this file's helpers)."""
    return sorted({*__all__, *(name for name, value in globals().items() if isinstance(value, ModuleType))})
