"""The event types the kernel knows: chain genesis, principals and keys, document records.

Later modules (identity, registry, contracts) register their own types in the same
registry; the types here are the ones the ledger needs to decide who may sign.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from govchain.protocol.envelope import HEX64_PATTERN, PRINCIPAL_PATTERN
from govchain.protocol.registry import EVENT_TYPES

ROOT = "root"
"""The principal of the root authority: it signs genesis and registers departments."""
LEDGER = "ledger"
"""The principal of the ordering service: its keys sign blocks."""

PUBLIC_KEY_PATTERN = HEX64_PATTERN  # 32 raw bytes, hex


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@EVENT_TYPES.register("chain.genesis", 1, changes_state=True)
class ChainGenesis(Payload):
    """Founds a chain: its id, root authority keys, orderer keys and initial policy."""

    chain_id: str = Field(pattern=PRINCIPAL_PATTERN)
    root_keys: list[str] = Field(min_length=1, description="hex Ed25519 public keys")
    orderer_keys: list[str] = Field(min_length=1, description="hex Ed25519 public keys")
    policy: dict[str, Any] = Field(default_factory=dict)


@EVENT_TYPES.register("department.registered", 1, changes_state=True)
class DepartmentRegistered(Payload):
    """The root authority admits a department and its first signing key."""

    department_id: str = Field(pattern=PRINCIPAL_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    public_key: str = Field(pattern=PUBLIC_KEY_PATTERN)


@EVENT_TYPES.register("key.added", 1, changes_state=True)
class KeyAdded(Payload):
    """A principal gains another signing key (signed by the root or by the owner itself)."""

    owner: str = Field(pattern=PRINCIPAL_PATTERN)
    public_key: str = Field(pattern=PUBLIC_KEY_PATTERN)


@EVENT_TYPES.register("key.revoked", 1, changes_state=True)
class KeyRevoked(Payload):
    """A key stops being able to sign from the next event on (signed by the root or the owner)."""

    key_id: str = Field(pattern=HEX64_PATTERN)
    reason: str = Field(min_length=1, max_length=200)


@EVENT_TYPES.register("document.registered", 1)
class DocumentRegistered(Payload):
    """A department vouches for a document by its hash; the document itself stays off chain."""

    document_id: str = Field(min_length=1, max_length=128)
    sha256: str = Field(pattern=HEX64_PATTERN)
    title: str = Field(min_length=1, max_length=300)
    kind: str = Field(default="document", max_length=64)
