"""The event types of the kernel: genesis, principals, keys, roles, policy, and records.

Principals are who may act: the root authority, services (ledger, contract engine,
gateway), departments, their officials, and citizens under a pseudonym. These events are
what the ledger needs to decide who may sign what, so the ledger and every verifier apply
them with the one reducer in :mod:`govchain.protocol.state`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from govchain.protocol.envelope import HEX64_PATTERN, PRINCIPAL_PATTERN
from govchain.protocol.policy import ROLE_PATTERN, Grant
from govchain.protocol.registry import EVENT_TYPES

ROOT = "root"
"""The principal of the root authority: it signs genesis and registers departments."""
LEDGER = "ledger"
"""The principal of the ordering service: its keys sign blocks."""

PUBLIC_KEY_PATTERN = HEX64_PATTERN  # 32 raw bytes, hex
CITIZEN_PATTERN = r"^c-[0-9a-f]{32}$"
"""A citizen's pseudonymous id: keyed HMAC of the national id (see govchain.pseudonym)."""

MAX_GRACE_BLOCKS = 10_000


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@EVENT_TYPES.register("chain.genesis", 1, changes_state=True)
class ChainGenesis(Payload):
    """Founds a chain: its id, root authority keys, orderer keys and initial policy."""

    chain_id: str = Field(pattern=PRINCIPAL_PATTERN)
    root_keys: list[str] = Field(min_length=1, description="hex Ed25519 public keys")
    orderer_keys: list[str] = Field(min_length=1, description="hex Ed25519 public keys")
    services: dict[str, str] = Field(
        default_factory=dict, description="platform services (registry, contract engine, gateway) → public key"
    )
    policy: dict[str, Any] = Field(default_factory=dict)


@EVENT_TYPES.register("department.registered", 1, changes_state=True)
class DepartmentRegistered(Payload):
    """The root authority admits a department and its first signing key."""

    department_id: str = Field(pattern=PRINCIPAL_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    public_key: str = Field(pattern=PUBLIC_KEY_PATTERN)


@EVENT_TYPES.register("service.registered", 1, changes_state=True)
class ServiceRegistered(Payload):
    """The root authority admits a platform service (contract engine, gateway, ...) and its key."""

    service_id: str = Field(pattern=PRINCIPAL_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    public_key: str = Field(pattern=PUBLIC_KEY_PATTERN)


@EVENT_TYPES.register("official.registered", 1, changes_state=True)
class OfficialRegistered(Payload):
    """A department's admin registers one of its officials, with a key and initial roles."""

    official_id: str = Field(pattern=PRINCIPAL_PATTERN)
    department_id: str = Field(pattern=PRINCIPAL_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    public_key: str = Field(pattern=PUBLIC_KEY_PATTERN)
    roles: list[str] = Field(default_factory=list, max_length=20)


@EVENT_TYPES.register("citizen.enrolled", 1, changes_state=True)
class CitizenEnrolled(Payload):
    """A department enrolls a citizen under a pseudonym; no personal data reaches the chain."""

    citizen_id: str = Field(pattern=CITIZEN_PATTERN)
    public_key: str | None = Field(default=None, pattern=PUBLIC_KEY_PATTERN)


@EVENT_TYPES.register("key.added", 1, changes_state=True)
class KeyAdded(Payload):
    """A principal gains another signing key."""

    owner: str = Field(pattern=PRINCIPAL_PATTERN)
    public_key: str = Field(pattern=PUBLIC_KEY_PATTERN)


@EVENT_TYPES.register("key.rotated", 1, changes_state=True)
class KeyRotated(Payload):
    """A new key replaces an old one; the old one may still sign for ``grace_blocks`` blocks,
    so events signed just before the rotation are not lost (rotation without downtime)."""

    owner: str = Field(pattern=PRINCIPAL_PATTERN)
    old_key_id: str = Field(pattern=HEX64_PATTERN)
    public_key: str = Field(pattern=PUBLIC_KEY_PATTERN)
    grace_blocks: int = Field(default=10, ge=0, le=MAX_GRACE_BLOCKS)


@EVENT_TYPES.register("key.revoked", 1, changes_state=True)
class KeyRevoked(Payload):
    """A key stops being able to sign from the next event on."""

    key_id: str = Field(pattern=HEX64_PATTERN)
    reason: str = Field(min_length=1, max_length=200)


@EVENT_TYPES.register("role.granted", 1, changes_state=True)
class RoleGranted(Payload):
    """A principal gains a role (by the root, or by the admin of the principal's department)."""

    principal: str = Field(pattern=PRINCIPAL_PATTERN)
    role: str = Field(pattern=ROLE_PATTERN)


@EVENT_TYPES.register("role.revoked", 1, changes_state=True)
class RoleRevoked(Payload):
    """A principal loses a role."""

    principal: str = Field(pattern=PRINCIPAL_PATTERN)
    role: str = Field(pattern=ROLE_PATTERN)


@EVENT_TYPES.register("policy.rule_set", 1, changes_state=True)
class PolicyRuleSet(Payload):
    """The root authority sets who may publish one event type (an empty list forbids it)."""

    event_type: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
    grants: list[Grant] = Field(max_length=50)


@EVENT_TYPES.register("document.registered", 1)
class DocumentRegistered(Payload):
    """A department vouches for a document by its hash; the document itself stays off chain."""

    document_id: str = Field(min_length=1, max_length=128)
    sha256: str = Field(pattern=HEX64_PATTERN)
    title: str = Field(min_length=1, max_length=300)
    kind: str = Field(default="document", max_length=64)


@EVENT_TYPES.register("credential.revoked", 1)
class CredentialRevoked(Payload):
    """The issuer of a verifiable credential revokes it; verifiers see it as of the chain."""

    credential_id: str = Field(min_length=1, max_length=256)
    reason: str = Field(min_length=1, max_length=200)
