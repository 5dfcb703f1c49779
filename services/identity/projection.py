"""The identity read model: principals, keys, policy and credential revocations, as tables.

It does not re-implement the identity rules: the chain verifier applies them with the
shared reducer, and this projection copies the resulting state of whatever a block touched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from dataclasses import dataclass

from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, Text, delete, insert, select

from govchain.projection.checkpoint import checkpoints

from govchain.protocol import events as ev
from govchain.protocol.envelope import Envelope
from govchain.protocol.keys import PublicKey
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.state import KeyRecord, Principal
from govchain.protocol.verify import VerifiedBlock
from govchain.storage.migrations import upgrade_to_head

metadata = MetaData()

principals = Table(
    "identity_principals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("department", String(64), index=True),
    Column("roles", Text, nullable=False),
    Column("registered_height", Integer, nullable=False),
    Column("updated_height", Integer, nullable=False),
)

keys = Table(
    "identity_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False, index=True),
    Column("public_key", String(64), nullable=False),
    Column("added_height", Integer, nullable=False),
    Column("revoked_height", Integer),
    Column("revocation_reason", String(200)),
    Column("valid_until", Integer, index=True),
)

# The time of the block at a rotated-out key's ``valid_until`` height: a credential has a
# time, not a height, so one issued after this time cannot have been issued with the key.
key_retirements = Table(
    "identity_key_retirements",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("height", Integer, nullable=False),
    Column("time", String(40), nullable=False),
)

credential_revocations = Table(
    "identity_credential_revocations",
    metadata,
    Column("credential_id", String(256), primary_key=True),
    Column("issuer", String(64), primary_key=True),
    Column("reason", String(200), nullable=False),
    Column("height", Integer, nullable=False),
    Column("event_id", String(64), nullable=False),
)

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
    name = "identity"

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
                conn.execute(delete(credential_revocations).where(
                    credential_revocations.c.credential_id == payload.credential_id,
                    credential_revocations.c.issuer == envelope.source,
                ))
                conn.execute(insert(credential_revocations).values(
                    credential_id=payload.credential_id, issuer=envelope.source, reason=payload.reason,
                    height=block.block.height, event_id=envelope.id,
                ))


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


# -- reads


def load_principal(conn: Connection, principal_id: str) -> Principal | None:
    row = conn.execute(select(principals).where(principals.c.id == principal_id)).one_or_none()
    if row is None:
        return None
    return Principal.from_json({**row._asdict(), "roles": json.loads(row.roles)})


def load_keys(conn: Connection, owner: str) -> list[KeyRecord]:
    rows = conn.execute(select(keys).where(keys.c.owner == owner).order_by(keys.c.added_height, keys.c.key_id))
    return [_key_record(row) for row in rows]


def load_key(conn: Connection, key_id: str) -> KeyRecord | None:
    row = conn.execute(select(keys).where(keys.c.key_id == key_id)).one_or_none()
    return None if row is None else _key_record(row)


def _key_record(row: object) -> KeyRecord:
    values = dict(row._asdict())  # type: ignore[attr-defined]
    values.pop("key_id")
    return KeyRecord.from_json(values)


def load_revocation(conn: Connection, credential_id: str, issuer: str) -> tuple[str, int] | None:
    row = conn.execute(select(credential_revocations).where(
        credential_revocations.c.credential_id == credential_id, credential_revocations.c.issuer == issuer,
    )).one_or_none()
    return None if row is None else (row.reason, row.height)


def load_retirement(conn: Connection, key_id: str) -> tuple[int, str] | None:
    row = conn.execute(select(key_retirements).where(key_retirements.c.key_id == key_id)).one_or_none()
    return None if row is None else (row.height, row.time)


def applied_height(conn: Connection, name: str = "identity") -> int:
    """The projection's last applied block, read on the same connection as its rows."""
    height = conn.execute(select(checkpoints.c.height).where(checkpoints.c.name == name)).scalar_one_or_none()
    return -1 if height is None else int(height)



class SqlDirectory:
    """The :class:`~govchain.services.identity.verification.Directory` over the projection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._height: int | None = None

    @property
    def height(self) -> int:
        if self._height is None:
            self._height = applied_height(self._conn, IdentityProjection.name)
        return self._height

    def principal(self, principal_id: str) -> Principal | None:
        return load_principal(self._conn, principal_id)

    def key(self, key_id: str) -> KeyRecord | None:
        return load_key(self._conn, key_id)

    def keys_of(self, principal_id: str) -> list[KeyRecord]:
        return load_keys(self._conn, principal_id)

    def revocation(self, credential_id: str, issuer: str) -> tuple[str, int] | None:
        return load_revocation(self._conn, credential_id, issuer)

    def retirement(self, key_id: str) -> tuple[int, str] | None:
        return load_retirement(self._conn, key_id)
