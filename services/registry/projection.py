"""The registry projection: records built from blocks, with the registry's consistency rules.

The ledger has already judged who may publish each event. Here the registry judges whether
an authorized event is consistent with the records (a licence for a business that exists,
a transfer from the parcel's current owner). The rules read only earlier blocks, so every
replica and auditor gets the same records; an inconsistent event is kept as *void*, with
its reason, rather than silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, Table, insert, select, update

from govchain.privacy.vault import KeyVault
from govchain.protocol import events as ev
from govchain.protocol import records as rec
from govchain.protocol import sharing
from govchain.protocol.envelope import Envelope
from govchain.protocol.policy import CONTRACT_ENGINE
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.state import ChainState
from govchain.protocol.verify import VerifiedBlock
from govchain.services.registry import tables as t
from govchain.storage.migrations import upgrade_to_head

MIGRATIONS = Path(__file__).with_name("migrations")


class Void(Exception):
    """An authorized event that contradicts the records; it is recorded as void."""


@dataclass(frozen=True, slots=True)
class At:
    """Where an event stands: its block height, its position in the block, the chain state after the block."""

    height: int
    position: int
    state: ChainState


Handler = Callable[[Connection, Envelope, Any, At], None]


def _exists(conn: Connection, table: Table, key: str, value: str) -> bool:
    return conn.execute(select(table.c[key]).where(table.c[key] == value)).first() is not None


def _sealed(value: BaseModel | None) -> str | None:
    return None if value is None else json.dumps(value.model_dump())


def _business(conn: Connection, e: Envelope, p: rec.BusinessRegistered, at: At) -> None:
    if _exists(conn, t.businesses, "business_id", p.business_id):
        raise Void(f"business {p.business_id} is already registered")
    conn.execute(
        insert(t.businesses).values(
            business_id=p.business_id,
            name=p.name,
            registration_no=p.registration_no,
            address=p.address,
            activity=p.activity,
            owner=p.owner,
            owner_details=_sealed(p.owner_details),
            department=e.source,
            height=at.height,
            event_ids=json.dumps([e.ref]),
        )
    )


def _license_issued(conn: Connection, e: Envelope, p: rec.LicenseIssued, at: At) -> None:
    if not _exists(conn, t.businesses, "business_id", p.business_id):
        raise Void(f"business {p.business_id} is not registered")
    if _exists(conn, t.licenses, "license_id", p.license_id):
        raise Void(f"licence {p.license_id} already exists")
    if p.valid_until < p.valid_from:
        raise Void("licence ends before it starts")
    conn.execute(
        insert(t.licenses).values(
            license_id=p.license_id,
            business_id=p.business_id,
            kind=p.kind,
            valid_from=p.valid_from,
            valid_until=p.valid_until,
            status="valid",
            department=e.source,
            height=at.height,
            event_ids=json.dumps([e.ref]),
        )
    )


def _licensing_authority(conn: Connection, licence: Any) -> str:
    """The department that answers for a licence, and alone may revoke it: the one that issued
    it; for a licence a contract issued (the engine signs its results), the department that
    registered the business, for which the contract automated the approval."""
    if licence.department != CONTRACT_ENGINE:
        return str(licence.department)
    found = select(t.businesses.c.department).where(t.businesses.c.business_id == licence.business_id)
    registrar = conn.execute(found).scalar_one_or_none()
    if registrar is None:  # a licence is issued only for a registered business, and none is removed
        raise Void(f"licence {licence.license_id} is for business {licence.business_id}, which is not registered")
    return str(registrar)


def _license_revoked(conn: Connection, e: Envelope, p: rec.LicenseRevoked, at: At) -> None:
    row = conn.execute(select(t.licenses).where(t.licenses.c.license_id == p.license_id)).one_or_none()
    if row is None:
        raise Void(f"licence {p.license_id} does not exist")
    authority = _licensing_authority(conn, row)
    if authority != e.source:
        raise Void(f"licence {p.license_id} may be revoked by {authority} only, not by {e.source}")
    if row.status == "revoked":
        raise Void(f"licence {p.license_id} is already revoked")
    conn.execute(
        update(t.licenses)
        .where(t.licenses.c.license_id == p.license_id)
        .values(
            status="revoked",
            revocation_reason=p.reason,
            height=at.height,
            event_ids=json.dumps([*json.loads(row.event_ids), e.ref]),
        )
    )


def _parcel(conn: Connection, e: Envelope, p: rec.ParcelRegistered, at: At) -> None:
    if _exists(conn, t.parcels, "parcel_id", p.parcel_id):
        raise Void(f"parcel {p.parcel_id} is already registered")
    conn.execute(
        insert(t.parcels).values(
            parcel_id=p.parcel_id,
            location=p.location,
            area_m2=p.area_m2,
            land_use=p.land_use,
            owner=p.owner,
            owner_details=_sealed(p.owner_details),
            department=e.source,
            height=at.height,
            event_ids=json.dumps([e.ref]),
        )
    )


def _transfer(conn: Connection, e: Envelope, p: rec.LandTransferred, at: At) -> None:
    parcel = conn.execute(select(t.parcels).where(t.parcels.c.parcel_id == p.parcel_id)).one_or_none()
    if parcel is None:
        raise Void(f"parcel {p.parcel_id} is not registered")
    if parcel.owner != p.from_owner:
        raise Void(f"{p.from_owner} is not the current owner of parcel {p.parcel_id}")
    if p.from_owner == p.to_owner:
        raise Void("a transfer needs a new owner")
    if _exists(conn, t.land_transactions, "transfer_id", p.transfer_id):
        raise Void(f"transfer {p.transfer_id} is already recorded")
    conn.execute(
        insert(t.land_transactions).values(
            transfer_id=p.transfer_id,
            parcel_id=p.parcel_id,
            from_owner=p.from_owner,
            to_owner=p.to_owner,
            consideration=p.consideration,
            contract_sha256=p.contract_sha256,
            height=at.height,
            position=at.position,
            event_id=e.ref,
        )
    )
    conn.execute(
        update(t.parcels)
        .where(t.parcels.c.parcel_id == p.parcel_id)
        .values(
            owner=p.to_owner,
            owner_details=_sealed(p.to_owner_details),
            height=at.height,
            event_ids=json.dumps([*json.loads(parcel.event_ids), e.ref]),
        )
    )


def _document(conn: Connection, e: Envelope, p: ev.DocumentRegistered, at: At) -> None:
    conn.execute(
        insert(t.documents).values(
            event_id=e.ref,
            sha256=p.sha256,
            document_id=p.document_id,
            title=p.title,
            kind=p.kind,
            department=e.source,
            height=at.height,
        )
    )


def _dataset(conn: Connection, e: Envelope, p: rec.DatasetPublished, at: At) -> None:
    row = conn.execute(select(t.datasets).where(t.datasets.c.dataset_id == p.dataset_id)).one_or_none()
    values = dict(
        department=e.source,
        title=p.title,
        description=p.description,
        fields=json.dumps(p.fields),
        access=p.access,
        readers=json.dumps(p.readers),
        height=at.height,
        source=p.source,
        approvers=json.dumps(p.approvers),
        required=p.required,
    )
    if row is None:
        conn.execute(insert(t.datasets).values(dataset_id=p.dataset_id, event_ids=json.dumps([e.ref]), **values))
    elif row.department != e.source:
        raise Void(f"data set {p.dataset_id} belongs to {row.department}")
    else:
        conn.execute(
            update(t.datasets)
            .where(t.datasets.c.dataset_id == p.dataset_id)
            .values(
                event_ids=json.dumps([*json.loads(row.event_ids), e.ref]),
                **values,
            )
        )


def grant_problem(dataset: Any, p: sharing.DatasetAccessGranted) -> str | None:
    """Why a grant of the data-sharing contract is inconsistent with the catalog, or None.

    The contract checks what the request says; the registry checks it against the set the
    holder published: that it exists and is the holder's, that the fields are the set's, and
    that the approvals meet the set's own rule (its ``approvers``, ``required`` of them; by
    default the holder alone)."""
    if dataset is None:
        return f"no_dataset: data set {p.dataset_id} is not in the catalog"
    if dataset.department != p.holder:
        return f"not_holder: data set {p.dataset_id} belongs to {dataset.department}, not {p.holder}"
    unknown = sorted(set(p.fields) - set(json.loads(dataset.fields)))
    if unknown:
        return f"unknown_fields: data set {p.dataset_id} has no field(s) {', '.join(unknown)}"
    approvers = json.loads(dataset.approvers or "[]") or [dataset.department]
    required = dataset.required or 1
    counted = sorted(set(p.approvals) & set(approvers))
    if len(counted) < required:
        return (
            f"approval_rule: data set {p.dataset_id} needs {required} of {', '.join(approvers)}; "
            f"approved by {', '.join(counted) or 'none of them'}"
        )
    return None


def _granted(conn: Connection, e: Envelope, p: sharing.DatasetAccessGranted, at: At) -> None:
    if _exists(conn, t.data_grants, "request_id", p.request_id):
        raise Void(f"grant {p.request_id} is already recorded")
    dataset = conn.execute(select(t.datasets).where(t.datasets.c.dataset_id == p.dataset_id)).one_or_none()
    problem = grant_problem(dataset, p)
    conn.execute(
        insert(t.data_grants).values(
            request_id=p.request_id,
            dataset_id=p.dataset_id,
            holder=p.holder,
            grantee=p.grantee,
            purpose=p.purpose,
            fields=json.dumps(p.fields),
            approvals=json.dumps(p.approvals),
            expires_on=p.expires_on,
            status="granted" if problem is None else "void",
            void_reason=problem,
            height=at.height,
            event_id=e.ref,
        )
    )
    if problem is not None:  # kept (reads under it are refused with the reason) and listed as void
        conn.execute(insert(t.void_events).values(event_id=e.ref, type=e.type, reason=problem[:300], height=at.height))


def _read(conn: Connection, e: Envelope, p: sharing.DatasetRead, at: At) -> None:
    if not _exists(conn, t.data_grants, "request_id", p.request_id):
        raise Void(f"no grant {p.request_id}")
    conn.execute(
        insert(t.dataset_reads).values(
            event_id=e.ref,
            request_id=p.request_id,
            dataset_id=p.dataset_id,
            reader=p.reader,
            reader_department=at.state.department_of(p.reader) or p.reader,
            fields=json.dumps(p.fields),
            records=p.records,
            time=e.time,
            height=at.height,
        )
    )
    subjects = sorted(set(p.subjects))
    if subjects:
        conn.execute(insert(t.dataset_read_subjects), [{"event_id": e.ref, "subject": s} for s in subjects])


class RegistryProjection:
    """Registry records; ``vault`` (sharing the database) is erased in the same transaction."""

    name = "registry"

    def __init__(self, vault: KeyVault | None = None) -> None:
        self.vault = vault
        self._erased_in_block = False
        self._handlers: dict[type[BaseModel], Handler] = {
            rec.BusinessRegistered: _business,
            rec.LicenseIssued: _license_issued,
            rec.LicenseRevoked: _license_revoked,
            rec.ParcelRegistered: _parcel,
            rec.LandTransferred: _transfer,
            ev.DocumentRegistered: _document,
            rec.DatasetPublished: _dataset,
            sharing.DatasetAccessGranted: _granted,
            sharing.DatasetRead: _read,
            rec.PersonalDataAccessed: self._accessed,
            rec.PersonalDataErased: self._erased,
            ev.DepartmentRegistered: self._department,
        }

    def prepare(self, engine: Engine) -> None:
        upgrade_to_head(engine, MIGRATIONS)

    def apply(self, conn: Connection, block: VerifiedBlock) -> None:
        self._erased_in_block = False
        for position, envelope in enumerate(block.envelopes):
            event_type = EVENT_TYPES.resolve(envelope.type, envelope.schemaversion)
            handler = self._handlers.get(event_type.model)
            if handler is None:
                continue
            payload = event_type.model.model_validate(envelope.data)
            savepoint = conn.begin_nested()
            try:
                handler(conn, envelope, payload, At(block.block.height, position, block.state))
                savepoint.commit()
            except Void as void:
                savepoint.rollback()
                conn.execute(
                    insert(t.void_events).values(
                        event_id=envelope.ref,
                        type=envelope.type,
                        reason=str(void),
                        height=block.block.height,
                    )
                )

    def _department(self, conn: Connection, e: Envelope, p: ev.DepartmentRegistered, at: At) -> None:
        conn.execute(
            insert(t.departments).values(
                department_id=p.department_id,
                name=p.name,
                registered_height=at.height,
                event_id=e.ref,
            )
        )

    def _accessed(self, conn: Connection, e: Envelope, p: rec.PersonalDataAccessed, at: At) -> None:
        conn.execute(
            insert(t.access_log).values(
                event_id=e.ref,
                subject=p.subject,
                reader=p.reader,
                reader_department=at.state.department_of(p.reader),
                purpose=p.purpose,
                record=p.record,
                fields=json.dumps(p.fields),
                time=e.time,
                height=at.height,
            )
        )

    def _erased(self, conn: Connection, e: Envelope, p: rec.PersonalDataErased, at: At) -> None:
        if e.source not in (p.subject, ev.ROOT):
            raise Void(f"{e.source} may not erase the data of {p.subject}")
        if _exists(conn, t.erasures, "subject", p.subject):
            raise Void(f"{p.subject} is already erased")
        conn.execute(insert(t.erasures).values(subject=p.subject, reason=p.reason, height=at.height, event_id=e.ref))
        if self.vault is not None:
            self.vault.erase_within(conn, p.subject, p.reason)
            self._erased_in_block = True

    def after_commit(self) -> None:
        """Once a block that erased keys has committed, scrub them from the vault's WAL too."""
        if self._erased_in_block and self.vault is not None:
            self._erased_in_block = False
            self.vault.flush_erasures()
