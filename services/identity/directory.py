"""Reading the identity tables: the :class:`~govchain.services.identity.verification.Directory`
that DID resolution, credential checks and key lookups run on."""

from __future__ import annotations

import json

from sqlalchemy import Connection, select

from govchain.projection.checkpoint import checkpoints
from govchain.protocol.state import KeyRecord, Principal
from govchain.services.identity.tables import credential_revocations, key_retirements, keys, principals

PROJECTION_NAME = "identity"


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
    row = conn.execute(
        select(credential_revocations).where(
            credential_revocations.c.credential_id == credential_id,
            credential_revocations.c.issuer == issuer,
        )
    ).one_or_none()
    return None if row is None else (row.reason, row.height)


def load_retirement(conn: Connection, key_id: str) -> tuple[int, str] | None:
    row = conn.execute(select(key_retirements).where(key_retirements.c.key_id == key_id)).one_or_none()
    return None if row is None else (row.height, row.time)


def applied_height(conn: Connection, name: str = PROJECTION_NAME) -> int:
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
            self._height = applied_height(self._conn)
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
