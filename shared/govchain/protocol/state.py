"""Chain state and its reducer: which principals and keys exist, as of a point in the chain.

This is the one reducer the ledger (to validate) and every verifier (to re-check) share.
It is deterministic: it reads nothing but the events applied to it, in chain order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from govchain.protocol import events as ev
from govchain.protocol.envelope import Envelope
from govchain.protocol.keys import PublicKey


@dataclass(slots=True)
class KeyRecord:
    public_key: PublicKey
    owner: str
    revoked: bool = False

    @property
    def key_id(self) -> str:
        return self.public_key.key_id


@dataclass(slots=True)
class ChainState:
    """What validation needs to know: principals (root, ledger, departments) and their keys."""

    chain_id: str
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    principals: dict[str, str] = field(default_factory=dict)
    """principal id → display name; ``root`` and ``ledger`` are always present."""
    policy: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_genesis(cls, genesis: ev.ChainGenesis) -> ChainState:
        state = cls(chain_id=genesis.chain_id, policy=dict(genesis.policy))
        state.principals[ev.ROOT] = "Root authority"
        state.principals[ev.LEDGER] = "Ledger (orderer)"
        for public_hex in genesis.root_keys:
            state.add_key(PublicKey.from_hex(public_hex), ev.ROOT)
        for public_hex in genesis.orderer_keys:
            state.add_key(PublicKey.from_hex(public_hex), ev.LEDGER)
        return state

    def add_key(self, public_key: PublicKey, owner: str) -> None:
        self.keys[public_key.key_id] = KeyRecord(public_key, owner)

    def active_keys_of(self, owner: str) -> list[PublicKey]:
        return [r.public_key for r in self.keys.values() if r.owner == owner and not r.revoked]

    def is_department(self, principal: str) -> bool:
        return principal in self.principals and principal not in (ev.ROOT, ev.LEDGER)

    # -- snapshots: the orderer persists state so it need not replay the chain on start

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "principals": dict(self.principals),
            "policy": dict(self.policy),
            "keys": [
                {"public_key": r.public_key.hex, "owner": r.owner, "revoked": r.revoked}
                for r in self.keys.values()
            ],
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ChainState:
        state = cls(
            chain_id=value["chain_id"],
            principals=dict(value["principals"]),
            policy=dict(value["policy"]),
        )
        for entry in value["keys"]:
            record = KeyRecord(PublicKey.from_hex(entry["public_key"]), entry["owner"], entry["revoked"])
            state.keys[record.key_id] = record
        return state


def apply_event(state: ChainState, envelope: Envelope, payload: BaseModel) -> None:
    """Apply one validated event to the state (events that change nothing are ignored)."""
    match payload:
        case ev.DepartmentRegistered():
            state.principals[payload.department_id] = payload.name
            state.add_key(PublicKey.from_hex(payload.public_key), payload.department_id)
        case ev.KeyAdded():
            state.add_key(PublicKey.from_hex(payload.public_key), payload.owner)
        case ev.KeyRevoked():
            state.keys[payload.key_id].revoked = True
        case _:
            pass
