"""The identity read model: principals, keys, policy and credential revocations, as tables.

It does not re-implement the identity rules: the chain verifier applies them with the
shared reducer, and this projection copies the resulting state of whatever a block touched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, insert, select

from govchain.protocol import events as ev
from govchain.protocol.envelope import Envelope
from govchain.protocol.keys import PublicKey
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.state import KeyRecord, Principal
from govchain.protocol.verify import VerifiedBlock
from govchain.services.identity.directory import PROJECTION_NAME
from govchain.services.identity.tables import credential_revocations, key_retirements, keys, principals
from govchain.storage.migrations import upgrade_to_head

_PRINCIPAL_FIELDS = ("department_id", "service_id", "official_id", "citizen_id", "owner", "principal")
_KEY_FIELDS = ("old_key_id", "key_id")


@dataclass(frozen=True, slots=True)
class Touched:
    principals: set[str]
    keys: set[str]


def touched_by(envelopes: Iterable[Envelope]) -> Touched:
    """Which principals and keys a block's identity events changed."""
    principal_ids: set[str] = set()
    key_ids: set[str] = set()
    for envelope in envelopes:
        if not EVENT_TYPES.changes_state(envelope.type, envelope.schemaversion):
            continue
        data = envelope.data
        principal_ids.update(data[f] for f in _PRINCIPAL_FIELDS if isinstance(data.get(f), str))
        key_ids.update(data[f] for f in _KEY_FIELDS if isinstance(data.get(f), str))
        if isinstance(data.get("public_key"), str):
            key_ids.add(PublicKey.from_hex(data["public_key"]).key_id)
    return Touched(principal_ids, key_ids)


class IdentityProjection:
    name = PROJECTION_NAME

    def prepare(self, engine: Engine) -> None:
        upgrade_to_head(engine, Path(__file__).with_name("migrations"))

    def apply(self, conn: Connection, block: VerifiedBlock) -> None:
        state = block.state
        touched = touched_by(block.envelopes)
        if block.block.height == 0:  # genesis: root and ledger, their keys
            touched = Touched(set(state.principals), set(state.keys))
        for principal_id in touched.principals & set(state.principals):
            _upsert_principal(conn, state.principals[principal_id])
        for key_id in touched.keys & set(state.keys):
            _upsert_key(conn, state.keys[key_id])
        _record_retirements(conn, block.block.height, block.block.header.time)
        for envelope in block.envelopes:
            if envelope.type == "credential.revoked":
                payload = ev.CredentialRevoked.model_validate(envelope.data)
                conn.execute(
                    delete(credential_revocations).where(
                        credential_revocations.c.credential_id == payload.credential_id,
                        credential_revocations.c.issuer == envelope.source,
                    )
                )
                conn.execute(
                    insert(credential_revocations).values(
                        credential_id=payload.credential_id,
                        issuer=envelope.source,
                        reason=payload.reason,
                        height=block.block.height,
                        event_id=envelope.id,
                    )
                )


def _upsert_principal(conn: Connection, principal: Principal) -> None:
    conn.execute(delete(principals).where(principals.c.id == principal.id))
    row = principal.to_json()
    conn.execute(insert(principals).values(**{**row, "roles": json.dumps(row["roles"])}))


def _upsert_key(conn: Connection, record: KeyRecord) -> None:
    conn.execute(delete(keys).where(keys.c.key_id == record.key_id))
    conn.execute(insert(keys).values(key_id=record.key_id, **record.to_json()))


def _record_retirements(conn: Connection, height: int, block_time: str) -> None:
    """Rotated-out keys whose last signing height is this block retire at this block's time."""
    retiring = conn.execute(select(keys.c.key_id).where(keys.c.valid_until == height)).scalars().all()
    for key_id in retiring:
        conn.execute(delete(key_retirements).where(key_retirements.c.key_id == key_id))
        conn.execute(insert(key_retirements).values(key_id=key_id, height=height, time=block_time))
