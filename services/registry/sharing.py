"""Reads of shared data sets under grants, checked and recorded on chain; the grants themselves.

A department reads a data set of another department only under a grant of the
``data-sharing`` contract (``dataset.access_granted``), and only through the registry, which
checks the read first and refuses with a reason:

- ``forbidden``: the reader is not an officer of the grantee department;
- ``no_grant``: no grant of that id; ``grant_void``: the registry found the grant
  inconsistent with the catalog (its reason follows);
- ``grant_expired``: the newest block's (UTC) day is after the grant's ``expires_on``: the
  chain's clock, never the wall clock, so any auditor can tell whether a read was in time;
- ``out_of_scope``: a field not granted was asked for; ``not_readable``: the set names no register.

A read that passes is recorded on chain (``dataset.read``, signed by the registry service,
naming the people whose personal fields it held) *before* the answer is sent, as an
official's read of personal data is; each of them finds it in their access log.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import Field
from sqlalchemy import or_, select

from govchain.privacy.fields import SealedField
from govchain.privacy.vault import SubjectErased, UnknownSubjectKey
from govchain.protocol.envelope import make_event
from govchain.protocol.requests import AccessDenied
from govchain.services.registry import tables as t
from govchain.services.registry.access import FIELDS, Level, Viewer
from govchain.services.registry.queries import (
    REGISTRY_SERVICE,
    RegistryQueries,
    Request,
    _decoded,
    record_context,
)

SOURCES: dict[str, tuple[Any, str, str, str]] = {
    # register → (table, record kind in access.FIELDS, key column, sealed-field record prefix)
    "businesses": (t.businesses, "business", "business_id", "business.registered/"),
    "parcels": (t.parcels, "parcel", "parcel_id", "land/"),
    "licenses": (t.licenses, "license", "license_id", ""),
}
MAX_RECORDS = 500


class DatasetReadRequest(Request):
    request_id: str = Field(max_length=64, description="the grant (named by its request) to read under")
    fields: list[str] | None = Field(default=None, max_length=50, description="default: every granted field")


class GrantsRequest(Request):
    dataset_id: str | None = Field(default=None, max_length=64)


def read_problem(grant: dict[str, Any] | None, viewer: Viewer, fields: list[str], today: str) -> AccessDenied | None:
    """Why a read under ``grant`` is refused, or None. ``today``: the newest block's UTC day."""
    if not viewer.is_officer:
        return AccessDenied("forbidden", "only departments and their officials read shared data sets")
    if grant is None:
        return AccessDenied("no_grant", "no such grant (see `govchain sharing grants`)")
    if viewer.department != grant["grantee"]:
        return AccessDenied("forbidden", f"grant {grant['request_id']} is for {grant['grantee']}")
    if grant["status"] != "granted":
        return AccessDenied("grant_void", f"grant {grant['request_id']} is void: {grant['void_reason']}")
    if today > grant["expires_on"]:
        return AccessDenied(
            "grant_expired", f"grant {grant['request_id']} expired on {grant['expires_on']} (chain time is {today})"
        )
    extra = sorted(set(fields) - set(grant["fields"]))
    if extra:
        return AccessDenied(
            "out_of_scope", f"field(s) {', '.join(extra)} are not granted; granted: {', '.join(grant['fields'])}"
        )
    return None


class SharingQueries:
    def __init__(self, queries: RegistryQueries) -> None:
        self.q = queries

    async def today(self) -> str:
        """The UTC day of the newest block: the clock grants expire by."""
        head = await self.q.client().head()
        return str(head["header"]["time"])[:10]

    async def read(self, request: DatasetReadRequest) -> dict[str, Any]:
        async def work(viewer: Viewer) -> dict[str, Any]:
            rows = self.q.rows(select(t.data_grants).where(t.data_grants.c.request_id == request.request_id))
            grant = _decoded(rows[0]) if rows else None
            fields = list(
                dict.fromkeys(request.fields if request.fields is not None else (grant or {}).get("fields", []))
            )
            problem = read_problem(grant, viewer, fields, await self.today())
            if problem is not None:
                raise problem
            assert grant is not None and viewer.principal is not None
            dataset = self.q.rows(select(t.datasets).where(t.datasets.c.dataset_id == grant["dataset_id"]))
            source = dataset[0]["source"] if dataset else None
            if source not in SOURCES:
                raise AccessDenied("not_readable", f"data set {grant['dataset_id']} names no register to read")
            table, kind, key, prefix = SOURCES[source]
            found = self.q.rows(
                select(table).where(table.c.department == grant["holder"]).order_by(table.c[key]).limit(MAX_RECORDS)
            )
            levels = FIELDS[kind]
            personal = [f for f in fields if levels.get(f) is Level.PERSONAL]
            people = sorted({row["owner"] for row in found if any(row.get(f) for f in personal)})
            receipt = await self.q.client().submit(
                make_event(
                    self.q.key,
                    source=REGISTRY_SERVICE,
                    type="dataset.read",
                    data={
                        "request_id": grant["request_id"],
                        "dataset_id": grant["dataset_id"],
                        "reader": viewer.principal,
                        "fields": fields,
                        "records": len(found),
                        "subjects": people,
                    },
                )
            )
            if receipt["status"] != "committed":
                raise AccessDenied("not_recorded", f"the read could not be recorded on chain: {receipt.get('reason')}")
            records = []
            for row in found:
                record: dict[str, Any] = {}
                for f in fields:
                    if f in personal:
                        record[f] = await self._open(row, f, f"{prefix}{row[key]}")
                    elif f in row and levels.get(f) is not None:
                        record[f] = row[f]
                records.append(record)
            return {
                "request_id": grant["request_id"],
                "dataset_id": grant["dataset_id"],
                "fields": fields,
                "records": records,
                "read_event": {
                    "source": REGISTRY_SERVICE,
                    "id": receipt.get("event_id"),
                    "height": receipt.get("height"),
                },
            }

        return await self.q.answer(self.q.names.registry_dataset_read, request, work)

    async def _open(self, row: dict[str, Any], field: str, record: str) -> Any:
        sealed = row.get(field)
        if sealed is None:
            return None
        if await asyncio.to_thread(self.q.vault.is_erased, row["owner"]):
            return {"erased": True}
        try:
            return await asyncio.to_thread(
                self.q.vault.open_for, SealedField.model_validate_json(sealed), record_context(record, field)
            )
        except (SubjectErased, UnknownSubjectKey):
            return {"erased": True}

    async def grants(self, request: GrantsRequest) -> dict[str, Any]:
        """Grants the viewer is party to (holder or grantee; auditors see all), with their reads."""

        async def work(viewer: Viewer) -> dict[str, Any]:
            if not (viewer.is_officer or viewer.auditor):
                raise AccessDenied("forbidden", "grants are shown to the departments party to them and to auditors")
            g = t.data_grants.c
            statement = select(t.data_grants).order_by(g.height, g.request_id)
            if not viewer.auditor:
                statement = statement.where(or_(g.holder == viewer.department, g.grantee == viewer.department))
            if request.dataset_id is not None:
                statement = statement.where(g.dataset_id == request.dataset_id)
            grants = [_decoded(row) for row in self.q.rows(statement)]
            ids = [grant["request_id"] for grant in grants]
            reads = (
                self.q.rows(
                    select(t.dataset_reads)
                    .where(t.dataset_reads.c.request_id.in_(ids))
                    .order_by(t.dataset_reads.c.height)
                )
                if ids
                else []
            )
            for grant in grants:
                grant["approvals"] = (
                    json.loads(grant["approvals"]) if isinstance(grant["approvals"], str) else grant["approvals"]
                )
                grant["reads"] = [_decoded(r) for r in reads if r["request_id"] == grant["request_id"]]
            return await self.q.with_proofs(
                request, {"grants": grants, "today": await self.today()}, [grant["event_id"] for grant in grants]
            )

        return await self.q.answer(self.q.names.registry_grants, request, work)


def shared_reads_of(queries: RegistryQueries, subject: str) -> list[dict[str, Any]]:
    """Reads under grants that held ``subject``'s personal data, as access-log entries."""
    r, s, g = t.dataset_reads.c, t.dataset_read_subjects.c, t.data_grants.c
    rows = queries.rows(
        select(
            r.event_id, r.reader, r.reader_department, r.dataset_id, r.request_id, r.fields, r.time, r.height, g.purpose
        )
        .join(t.dataset_read_subjects, s.event_id == r.event_id)
        .join(t.data_grants, g.request_id == r.request_id, isouter=True)
        .where(s.subject == subject)
        .order_by(r.height)
    )
    return [
        {
            "event_id": row["event_id"],
            "subject": subject,
            "reader": row["reader"],
            "reader_department": row["reader_department"],
            "purpose": row["purpose"] or f"data-sharing grant {row['request_id']}",
            "record": f"dataset/{row['dataset_id']} (grant {row['request_id']})",
            "fields": json.loads(row["fields"]),
            "time": row["time"],
            "height": row["height"],
        }
        for row in rows
    ]
