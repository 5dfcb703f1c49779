"""Chain state and its reducer: principals, keys, roles, policy and deployed contract versions,
as of a point in the chain.

This is the one reducer the ledger (to validate), the identity service (to answer) and
every verifier (to re-check) share. It is deterministic: it reads nothing but the events
applied to it, in chain order, and the height of the block being applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from govchain.crypto import DEFAULT_SUITE, INTL, CryptoSuite, suite_by_name
from govchain.protocol import events as ev
from govchain.protocol.contracts import ContractDeployed
from govchain.protocol.envelope import Envelope
from govchain.protocol.keys import PublicKey
from govchain.protocol.policy import ADMIN_ROLE, Policy, PrincipalKind


@dataclass(slots=True)
class Principal:
    id: str
    kind: PrincipalKind
    name: str
    department: str | None = None
    """The department an official belongs to (a department is its own)."""
    roles: set[str] = field(default_factory=set)
    registered_height: int = 0
    updated_height: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "department": self.department,
            "roles": sorted(self.roles),
            "registered_height": self.registered_height,
            "updated_height": self.updated_height,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Principal:
        return cls(**{**value, "roles": set(value["roles"])})


@dataclass(slots=True)
class KeyRecord:
    public_key: PublicKey
    owner: str
    added_height: int = 0
    revoked_height: int | None = None
    revocation_reason: str | None = None
    valid_until: int | None = None
    """Last height at which a rotated-out key may still sign."""
    purpose: str | None = None
    """``credentials``: the key signs W3C credentials only, never an event (see ``key.added``)."""

    @property
    def key_id(self) -> str:
        return self.public_key.key_id

    @property
    def revoked(self) -> bool:
        return self.revoked_height is not None

    def usable_at(self, height: int) -> bool:
        return not self.revoked and (self.valid_until is None or height <= self.valid_until)

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "public_key": self.public_key.hex,
            "owner": self.owner,
            "added_height": self.added_height,
            "revoked_height": self.revoked_height,
            "revocation_reason": self.revocation_reason,
            "valid_until": self.valid_until,
        }
        if self.purpose is not None:  # absent for event keys: older snapshots read the same
            value["purpose"] = self.purpose
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> KeyRecord:
        return cls(**{**value, "public_key": PublicKey.from_hex(value["public_key"])})


@dataclass(slots=True)
class ChainState:
    """What validation needs to know, as of the event being judged."""

    chain_id: str
    height: int = 0
    """Height of the block whose events are being applied."""
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    principals: dict[str, Principal] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)
    contracts: dict[str, list[int]] = field(default_factory=dict)
    """Contract id → its deployed versions, ascending (validation refuses a redeployment)."""
    witness_policy: ev.WitnessPolicySet | None = None
    """The checkpoint witnesses and their quorum, as the root authority last set them (None:
    no witnesses named; checkpoints carry the log's signature alone)."""
    witness_policy_height: int | None = None
    """Height of the block that set :attr:`witness_policy`."""
    suite: CryptoSuite = INTL
    """The chain's crypto suite, as its genesis names it (``intl`` when it names none)."""
    checkpoint_key: PublicKey | None = None
    """The Ed25519 key that signs checkpoints on a chain whose orderer keys are not Ed25519."""

    @classmethod
    def from_genesis(cls, genesis: ev.ChainGenesis) -> ChainState:
        state = cls(
            chain_id=genesis.chain_id,
            policy=Policy.model_validate(genesis.policy),
            suite=suite_by_name(genesis.crypto_profile),
        )
        if genesis.checkpoint_key is not None:
            state.checkpoint_key = PublicKey.from_hex(genesis.checkpoint_key)
        state.add_principal(Principal(ev.ROOT, "root", "Root authority"))
        state.add_principal(Principal(ev.LEDGER, "service", "Ledger (orderer)"))
        for public_hex in genesis.root_keys:
            state.add_key(PublicKey.from_hex(public_hex), ev.ROOT)
        for public_hex in genesis.orderer_keys:
            state.add_key(PublicKey.from_hex(public_hex), ev.LEDGER)
        for service_id, public_hex in genesis.services.items():
            state.add_principal(Principal(service_id, "service", service_id))
            state.add_key(PublicKey.from_hex(public_hex), service_id)
        return state

    def add_principal(self, principal: Principal) -> None:
        principal.registered_height = principal.updated_height = self.height
        self.principals[principal.id] = principal

    def add_key(self, public_key: PublicKey, owner: str, purpose: str | None = None) -> None:
        self.keys[public_key.key_id] = KeyRecord(public_key, owner, added_height=self.height, purpose=purpose)

    @property
    def log_origin(self) -> str:
        """The origin line of the chain's checkpoints (and the name of the log's note key)."""
        policy = self.witness_policy
        if policy is not None and policy.origin is not None:
            return policy.origin
        return ev.default_log_origin(self.chain_id)

    def deployed_versions(self, contract_id: str) -> list[int]:
        return self.contracts.get(contract_id, [])

    def touch(self, principal_id: str) -> None:
        self.principals[principal_id].updated_height = self.height

    def active_keys_of(self, owner: str) -> list[PublicKey]:
        return [r.public_key for r in self.keys.values() if r.owner == owner and r.usable_at(self.height)]

    def kind_of(self, principal_id: str) -> PrincipalKind | None:
        principal = self.principals.get(principal_id)
        return None if principal is None else principal.kind

    def is_department(self, principal_id: str) -> bool:
        return self.kind_of(principal_id) == "department"

    def department_of(self, principal_id: str) -> str | None:
        principal = self.principals.get(principal_id)
        return None if principal is None else principal.department

    def has_role(self, principal_id: str, role: str) -> bool:
        """Explicit roles, plus ``admin`` for a department acting through its own keys."""
        principal = self.principals.get(principal_id)
        if principal is None:
            return False
        return role in principal.roles or (role == ADMIN_ROLE and principal.kind == "department")

    def is_admin_of(self, principal_id: str, department: str | None) -> bool:
        return (
            department is not None
            and self.department_of(principal_id) == department
            and self.has_role(principal_id, ADMIN_ROLE)
        )

    # -- snapshots: the orderer and projections persist state so they need not replay the chain

    def to_json(self) -> dict[str, Any]:
        value = {
            "chain_id": self.chain_id,
            "height": self.height,
            "policy": self.policy.model_dump(mode="json"),
            "principals": [p.to_json() for p in self.principals.values()],
            "keys": [r.to_json() for r in self.keys.values()],
            "contracts": {cid: list(versions) for cid, versions in sorted(self.contracts.items())},
        }
        if self.suite is not INTL:  # absent on intl chains: their snapshots read as before
            value["crypto_profile"] = self.suite.name
        if self.checkpoint_key is not None:
            value["checkpoint_key"] = self.checkpoint_key.hex
        if self.witness_policy is not None:  # absent until set: older snapshots read the same
            value["witness_policy"] = {
                **self.witness_policy.model_dump(mode="json"),
                "set_height": self.witness_policy_height,
            }
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ChainState:
        state = cls(
            chain_id=value["chain_id"],
            height=value["height"],
            policy=Policy.model_validate(value["policy"]),
            suite=suite_by_name(value.get("crypto_profile", DEFAULT_SUITE)),
        )
        if value.get("checkpoint_key") is not None:
            state.checkpoint_key = PublicKey.from_hex(value["checkpoint_key"])
        state.principals = {p["id"]: Principal.from_json(p) for p in value["principals"]}
        for entry in value["keys"]:
            record = KeyRecord.from_json(entry)
            state.keys[record.key_id] = record
        # A snapshot written before deployed versions were part of the state has no "contracts".
        # It still loads, knowing of no deployment before its height: whoever resumes from it
        # would accept a redeployment of a version deployed earlier, which a replay from genesis
        # refuses. Replay such a snapshot from genesis to hold the rule for those versions too.
        state.contracts = {cid: sorted(versions) for cid, versions in value.get("contracts", {}).items()}
        witnesses = value.get("witness_policy")
        if witnesses is not None:
            body = {k: v for k, v in witnesses.items() if k != "set_height"}
            state.witness_policy = ev.WitnessPolicySet.model_validate(body)
            state.witness_policy_height = witnesses.get("set_height")
        return state

    def copy(self) -> ChainState:
        return ChainState.from_json(self.to_json())


def apply_event(state: ChainState, envelope: Envelope, payload: BaseModel) -> None:
    """Apply one validated event to the state (events that change nothing are ignored)."""
    match payload:
        case ev.DepartmentRegistered():
            state.add_principal(Principal(payload.department_id, "department", payload.name, payload.department_id))
            state.add_key(PublicKey.from_hex(payload.public_key), payload.department_id)
        case ev.ServiceRegistered():
            state.add_principal(Principal(payload.service_id, "service", payload.name))
            state.add_key(PublicKey.from_hex(payload.public_key), payload.service_id)
        case ev.OfficialRegistered():
            state.add_principal(
                Principal(payload.official_id, "official", payload.name, payload.department_id, set(payload.roles))
            )
            state.add_key(PublicKey.from_hex(payload.public_key), payload.official_id)
        case ev.CitizenEnrolled():
            state.add_principal(Principal(payload.citizen_id, "citizen", "citizen"))
            if payload.public_key is not None:
                state.add_key(PublicKey.from_hex(payload.public_key), payload.citizen_id)
        case ev.KeyAdded():
            state.add_key(PublicKey.from_hex(payload.public_key), payload.owner, payload.purpose)
            state.touch(payload.owner)
        case ev.KeyRotated():
            state.keys[payload.old_key_id].valid_until = state.height + payload.grace_blocks
            state.add_key(PublicKey.from_hex(payload.public_key), payload.owner)
            state.touch(payload.owner)
        case ev.KeyRevoked():
            record = state.keys[payload.key_id]
            record.revoked_height = state.height
            record.revocation_reason = payload.reason
            state.touch(record.owner)
        case ev.RoleGranted():
            state.principals[payload.principal].roles.add(payload.role)
            state.touch(payload.principal)
        case ev.RoleRevoked():
            state.principals[payload.principal].roles.discard(payload.role)
            state.touch(payload.principal)
        case ev.PolicyRuleSet():
            state.policy.publish[payload.event_type] = list(payload.grants)
        case ev.WitnessPolicySet():
            state.witness_policy = payload
            state.witness_policy_height = state.height
        case ContractDeployed():
            definition = payload.definition
            versions = state.contracts.setdefault(definition.contract_id, [])
            versions.append(definition.version)
            versions.sort()
        case _:
            pass
