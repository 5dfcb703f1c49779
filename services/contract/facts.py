"""The chain facts contract guards may read, from the engine's own copy of the registry
(built from the same blocks) and the chain state its verifier derived."""

from __future__ import annotations

from sqlalchemy import Connection, select

from govchain.protocol.state import ChainState
from govchain.services.registry import tables as registry


class SqlFacts:
    """:class:`govchain.protocol.contracts.Facts` as of the block being applied."""

    def __init__(self, conn: Connection, state: ChainState) -> None:
        self._conn = conn
        self._state = state

    def principal_kind(self, principal: str) -> str:
        return self._state.kind_of(str(principal)) or ""

    def principal_department(self, principal: str) -> str:
        return self._state.department_of(str(principal)) or ""

    def has_role(self, principal: str, role: str) -> bool:
        return self._state.has_role(str(principal), str(role))

    def document_registered(self, sha256: str) -> bool:
        return self.document_department(sha256) != ""

    def document_department(self, sha256: str) -> str:
        row = self._conn.execute(
            select(registry.documents.c.department).where(registry.documents.c.sha256 == str(sha256)).limit(1)
        ).first()
        return "" if row is None else str(row.department)

    def business_owner(self, business_id: str) -> str:
        row = self._conn.execute(
            select(registry.businesses.c.owner).where(registry.businesses.c.business_id == str(business_id))
        ).first()
        return "" if row is None else str(row.owner)

    def parcel_owner(self, parcel_id: str) -> str:
        row = self._conn.execute(
            select(registry.parcels.c.owner).where(registry.parcels.c.parcel_id == str(parcel_id))
        ).first()
        return "" if row is None else str(row.owner)
