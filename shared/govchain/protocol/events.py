"""The event types of the kernel: genesis, principals, keys, roles, policy, and records.

Principals are who may act: the root authority, services (ledger, contract engine,
gateway), departments, their officials, and citizens under a pseudonym. These events are
what the ledger needs to decide who may sign what, so the ledger and every verifier apply
them with the one reducer in :mod:`govchain.protocol.state`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from govchain.crypto import suite_by_name
from govchain.protocol.envelope import HEX64_PATTERN, PRINCIPAL_PATTERN
from govchain.protocol.policy import ROLE_PATTERN, Grant
from govchain.protocol.registry import EVENT_TYPES

ROOT = "root"
"""The principal of the root authority: it signs genesis and registers departments."""
LEDGER = "ledger"
"""The principal of the ordering service: its keys sign blocks."""

PUBLIC_KEY_PATTERN = r"^(?:[0-9a-f]{64}|04[0-9a-f]{128})$"
"""Hex of a raw public key: 32 bytes (Ed25519, ``intl`` chains) or the 65-byte uncompressed SM2
point (``gm`` chains). Which of the two a chain takes is its crypto profile's to say."""
CRYPTO_PROFILES = ("intl", "gm")
CITIZEN_PATTERN = r"^c-[0-9a-f]{32}$"
"""A citizen's pseudonymous id: keyed HMAC of the national id (see govchain.pseudonym)."""

MAX_GRACE_BLOCKS = 10_000


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@EVENT_TYPES.register("chain.genesis", 1, changes_state=True)
class ChainGenesis(Payload):
    """Founds a chain: its id, root authority keys, orderer keys and initial policy."""

    chain_id: str = Field(pattern=PRINCIPAL_PATTERN)
    root_keys: list[str] = Field(min_length=1, description="hex public keys of the chain's suite")
    orderer_keys: list[str] = Field(min_length=1, description="hex public keys of the chain's suite")
    services: dict[str, str] = Field(
        default_factory=dict, description="platform services (registry, contract engine, gateway) → public key"
    )
    policy: dict[str, Any] = Field(default_factory=dict)
    crypto_profile: Literal["intl", "gm"] = Field(
        default="intl",
        description="the chain's crypto suite, fixed for its life (docs/crypto-profiles.md); "
        "absent means intl, as on every chain made before profiles existed",
    )
    checkpoint_key: str | None = Field(
        default=None,
        pattern=HEX64_PATTERN,
        description="hex Ed25519 public key that signs the chain's C2SP checkpoints, on a chain whose "
        "orderer keys are not Ed25519 (gm); absent: the orderer key signs them",
    )

    @model_validator(mode="after")
    def _keys_of_the_profile(self) -> ChainGenesis:
        size = 2 * suite_by_name(self.crypto_profile).public_key_size  # hex digits of the profile's keys
        for key in [*self.root_keys, *self.orderer_keys, *self.services.values()]:
            if len(key) != size or not re.fullmatch(PUBLIC_KEY_PATTERN, key):
                raise ValueError(f"a {self.crypto_profile} chain's keys are {size} hex digits: {key[:16]}...")
        return self


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
    """A principal gains another signing key.

    With ``purpose: "credentials"`` the key signs W3C credentials (``eddsa-jcs-2022``) and
    nothing on the chain: it must be Ed25519, whatever the chain's profile, which is how a gm
    chain's departments issue credentials any VC verifier accepts (docs/crypto-profiles.md)."""

    owner: str = Field(pattern=PRINCIPAL_PATTERN)
    public_key: str = Field(pattern=PUBLIC_KEY_PATTERN)
    purpose: Literal["credentials"] | None = Field(
        default=None,
        description='"credentials": an Ed25519 key that signs W3C credentials only, never an event (on any profile)',
    )


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


# -- witnessed checkpoints ------------------------------------------------------------------

NOTE_KEY_NAME_PATTERN = r"^[A-Za-z0-9._~:/@!$&'()*,;=%-]{1,200}$"
"""A c2sp.org/signed-note key name as GovChain accepts it on chain: a schema-less URL such as
``audit.example.gov/witness`` (no spaces, no ``+``, printable ASCII only). The log's origin
line is one too: the log signs its checkpoints under a key named after its origin."""
MAX_WITNESSES = 32
WITNESS_POLICY_TYPE = "witness.policy_set"


def default_log_origin(chain_id: str) -> str:
    """The origin line of a chain's checkpoints until a witness policy names another:
    ``govchain.example/<chain id>`` (a deployment sets its own, e.g. ``gov.example.cn/govchain/<id>``)."""
    return f"govchain.example/{chain_id}"


def cosignature_vkey_name(vkey: str) -> str:
    """The key name of a c2sp.org/tlog-cosignature verifier key
    ``<name>+<hex key id>+<base64(0x04 || Ed25519 public key)>``, after checking its form, type
    and key id (the first four bytes of SHA-256(name || 0x0A || 0x04 || key)); ValueError if not.

    The transparency package parses vkeys too; the protocol repeats these few lines so that it
    stays free of everything outside itself, and judges every policy event alike."""
    parts = vkey.split("+", 2)
    if len(parts) != 3 or not re.fullmatch(NOTE_KEY_NAME_PATTERN, parts[0]):
        raise ValueError("a witness vkey is name+keyid+key, its name a schema-less URL")
    name, hex_id, encoded = parts
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise ValueError("a vkey's key id is 8 lowercase hex digits")
    try:
        material = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("a vkey's key is standard base64") from None
    if base64.b64encode(material).decode("ascii") != encoded:
        raise ValueError("a vkey's key is canonical base64")
    if len(material) != 33 or material[0] != 0x04:
        raise ValueError("a witness vkey is a cosignature/v1 key: type 0x04 and a 32-byte Ed25519 key")
    if hashlib.sha256(name.encode() + b"\n" + material).digest()[:4] != bytes.fromhex(hex_id):
        raise ValueError(f"vkey {name}: key id {hex_id} does not match the key")
    return name


class NamedWitness(BaseModel):
    """One checkpoint witness: its note key name, its cosignature verifier key, and where the
    ledger asks it (optional: a deployment may reach it at another address, GOVCHAIN_WITNESS_URLS)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NOTE_KEY_NAME_PATTERN)
    vkey: str = Field(max_length=300, description="c2sp.org/tlog-cosignature vkey (type 0x04)")
    url: str | None = Field(
        default=None,
        max_length=512,
        pattern=r"^https?://[^\s]+$",
        description="base URL; the ledger POSTs to <url>/add-checkpoint",
    )

    @model_validator(mode="after")
    def _vkey_names_the_witness(self) -> NamedWitness:
        if cosignature_vkey_name(self.vkey) != self.name:
            raise ValueError(f"the vkey is named {self.vkey.split('+', 1)[0]!r}, not {self.name!r}")
        return self


def _check_witnesses(witnesses: list[NamedWitness], quorum: int) -> None:
    if quorum > len(witnesses):
        raise ValueError(f"a quorum of {quorum} cannot be met by {len(witnesses)} witnesses")
    names = [w.name for w in witnesses]
    if len(set(names)) != len(names):
        raise ValueError("each witness is named once")
    keys = [w.vkey.split("+", 2)[2] for w in witnesses]
    if len(set(keys)) != len(keys):
        raise ValueError("each witness has its own key")


class Sha256WitnessPolicy(BaseModel):
    """Who cosigns a gm chain's SHA-256 checkpoints (origin ``<origin>/sha256``, the RFC 6962
    tree over the same leaves: what stock C2SP witnesses check), and how many must (k of n)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    witnesses: list[NamedWitness] = Field(max_length=MAX_WITNESSES)
    quorum: int = Field(ge=0, le=MAX_WITNESSES)

    @model_validator(mode="after")
    def _consistent(self) -> Sha256WitnessPolicy:
        _check_witnesses(self.witnesses, self.quorum)
        return self


@EVENT_TYPES.register(WITNESS_POLICY_TYPE, 1, changes_state=True)
class WitnessPolicySet(Payload):
    """The root authority names the checkpoint witnesses and how many of them must cosign.

    From the block after it, the ledger asks these witnesses to cosign each checkpoint, and a
    client that requires a witnessed checkpoint counts only their cosignatures, ``quorum`` of
    them at least (k of n). ``origin`` is the checkpoints' origin line (default
    :func:`default_log_origin`). An empty list with quorum 0 withdraws the policy.

    ``witnesses`` cosign checkpoints of the chain's own tree (SM3 on a gm chain). ``sha256``, on a
    gm chain only, names the witnesses of its SHA-256 checkpoints (docs/crypto-profiles.md); a
    policy without it asks nobody to cosign those, and an intl policy never carries it."""

    origin: str | None = Field(default=None, pattern=NOTE_KEY_NAME_PATTERN)
    witnesses: list[NamedWitness] = Field(max_length=MAX_WITNESSES)
    quorum: int = Field(ge=0, le=MAX_WITNESSES)
    sha256: Sha256WitnessPolicy | None = Field(
        default=None,
        exclude_if=lambda value: value is None,  # absent, not null: an intl policy dumps as before
        description="gm chains only: who cosigns the SHA-256 checkpoints (origin `<origin>/sha256`)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> WitnessPolicySet:
        _check_witnesses(self.witnesses, self.quorum)
        return self
