"""The registry's query API over NATS request/reply, with field-level visibility.

Public questions need no identity. Anything beyond public fields needs a signed request
(:mod:`govchain.protocol.requests`); an officer's read of personal data is recorded on chain
(``personal_data.accessed``, signed by the registry service) before the data is returned.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from faststream.nats import NatsRouter
from nats.errors import NoRespondersError
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select

from govchain.bus.subjects import DEFAULT, ChainNames
from govchain.client import GovChainClient, LedgerQueryError
from govchain.privacy.fields import SealedField
from govchain.privacy.vault import KeyVault, SubjectErased, UnknownSubjectKey
from govchain.projection.runner import wait_for_height
from govchain.protocol.envelope import make_event
from govchain.protocol.eventref import parse_event_ref
from govchain.protocol.keys import SigningKey
from govchain.protocol.requests import AccessDenied, ReplayGuard, RequestSignature, authenticate
from govchain.protocol.state import ChainState
from govchain.services.registry import tables as t
from govchain.services.registry.access import Viewer, may_read_access_log, personal_access, view

REGISTRY_SERVICE = "registry"
PROOF_REQUESTS_IN_FLIGHT = 16
PROOF_WAIT_S = 3.0
"""How long an event the projection applied may stay unknown to the ledger's proof index."""
MAX_PROOFS = 256
"""Proofs in one answer: each is about 1-2.5 KB (path and signed head), and a reply must fit in
NATS's max_payload (1 MB by default); beyond this the query is refused with a clear error."""


class Request(BaseModel):
    auth: RequestSignature | None = None
    min_height: int | None = Field(default=None, description="answer only once this block is applied")
    with_proofs: bool = Field(default=False, description="attach inclusion proofs of the events the answer rests on")


class RecordRequest(Request):
    id: str = Field(max_length=64)
    purpose: str | None = Field(default=None, max_length=300, description="why personal data is read (recorded)")


class SearchRequest(Request):
    text: str = Field(default="", max_length=100)


class DocumentRequest(Request):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class SubjectRequest(Request):
    subject: str = Field(max_length=64)


class SealRequest(Request):
    subject: str = Field(max_length=64)
    record: str = Field(max_length=200, description="e.g. business.registered/B-001: binds the ciphertext to it")
    fields: dict[str, Any]


def denied(exc: AccessDenied) -> dict[str, str]:
    return {"error": exc.detail, "code": exc.code}


NOT_READY = {"error": "the registry has not reached the requested height yet", "code": "not_ready"}


class RegistryQueries:
    def __init__(
        self,
        engine: Engine,
        vault: KeyVault,
        client: Callable[[], GovChainClient],
        state: Callable[[], ChainState | None],
        height: Callable[[], int],
        key: SigningKey,
        names: ChainNames = DEFAULT,
    ) -> None:
        self.engine = engine
        self.names = names
        """The chain's subjects: each query is answered, and its signed request checked, under its own."""
        self.vault = vault
        self.client = client
        self.state = state
        self.height = height
        self.key = key
        self.replays = ReplayGuard()

    # -- plumbing shared by every query

    def viewer(self, query: str, request: Request) -> Viewer:
        state = self.state()
        if request.auth is None or state is None:
            return Viewer()
        params = request.model_dump(mode="json", exclude={"auth"}, exclude_unset=True)  # as the client signed it
        principal = authenticate(state, query, params, request.auth)
        self.replays.check(request.auth.nonce)
        return Viewer.of(state, principal)

    def rows(self, statement: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(statement)]

    async def proofs(self, event_ids: list[str]) -> list[dict[str, Any]]:
        """One ledger inclusion proof per event (each tied to the signed head of a block), in
        the order given, each event once. Events are named ``source/id`` (bare ids in rows
        from before registry migration 0003)."""
        client = self.client()
        unique = list(dict.fromkeys(event_ids))
        if len(unique) > MAX_PROOFS:
            raise AccessDenied(
                "too_many_proofs",
                (
                    f"the answer rests on {len(unique)} events; at most {MAX_PROOFS} proofs fit in one answer: "
                    "ask for a narrower answer, or for each event's proof from the ledger"
                ),
            )
        gate = asyncio.Semaphore(PROOF_REQUESTS_IN_FLIGHT)

        async def one(event_id: str) -> dict[str, Any]:
            # The ledger indexes a block just after appending it, and this projection may have
            # applied it first: an event it does not know yet is asked for again, briefly.
            delay, deadline = 0.02, time.monotonic() + PROOF_WAIT_S
            while True:
                try:
                    async with gate:
                        source, bare_id = parse_event_ref(event_id)
                        return await client.inclusion_proof(bare_id, source=source)
                except LedgerQueryError as exc:
                    if exc.code != "not_found" or time.monotonic() > deadline:
                        raise AccessDenied(
                            "proof_unavailable", f"no inclusion proof of event {event_id}: {exc}"
                        ) from exc
                except (TimeoutError, NoRespondersError) as exc:
                    raise AccessDenied("proof_unavailable", "the ledger did not answer for an inclusion proof") from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.25)

        return list(await asyncio.gather(*(one(event_id) for event_id in unique)))

    async def with_proofs(
        self,
        request: Request,
        result: dict[str, Any],
        event_ids: list[str],
        unproven: list[str] | None = None,
    ) -> dict[str, Any]:
        """Attach, when asked for, the proofs of every event the answer rests on. ``unproven``
        names parts of the answer whose event this store does not know (rows written before
        it kept their event ids): said outright, never silently missing from the proofs."""
        if request.with_proofs:
            result["proofs"] = await self.proofs(event_ids)
            if unproven:
                result["unproven"] = unproven
        return result

    async def answer(self, query: str, request: Request, work: Callable[[Viewer], Any]) -> dict[str, Any]:
        """Wait for ``min_height``, authenticate (the subject is the signed query name), run ``work``."""
        if not await wait_for_height(self.height, request.min_height):
            return NOT_READY
        try:
            viewer = self.viewer(query, request)
            result = work(viewer)
            if asyncio.iscoroutine(result):
                result = await result
        except AccessDenied as exc:
            return denied(exc)
        return {"visibility": viewer.label, "as_of_height": self.height(), **result}

    # -- personal fields

    async def personal(
        self,
        viewer: Viewer,
        *,
        subject: str,
        department: str,
        sealed: str | None,
        record: str,
        field: str,
        purpose: str | None,
    ) -> Any:
        """Open a sealed field for ``viewer``: recorded on chain first when an officer reads it.

        Authorization comes first: a caller who may not read the field is refused
        (:class:`AccessDenied`) whether or not there is anything to read, so a refusal never
        looks like "no data" and the data's state (absent, erased) is not told to strangers.
        An authorized read of nothing (no sealed field, or an erased subject) discloses no
        personal data and is not recorded.
        """
        must_record = personal_access(viewer, subject=subject, department=department, purpose=purpose)
        if sealed is None:
            return None
        if await asyncio.to_thread(self.vault.is_erased, subject):
            return {"erased": True}
        if must_record:
            assert viewer.principal is not None and purpose is not None
            await self.record_access(subject, viewer.principal, purpose, record, [field])
        try:
            return await asyncio.to_thread(
                self.vault.open_for, SealedField.model_validate_json(sealed), record_context(record, field)
            )
        except (SubjectErased, UnknownSubjectKey):
            return {"erased": True}

    async def record_access(self, subject: str, reader: str, purpose: str, record: str, fields: list[str]) -> None:
        event = make_event(
            self.key,
            source=REGISTRY_SERVICE,
            type="personal_data.accessed",
            data={
                "subject": subject,
                "reader": reader,
                "purpose": purpose,
                "record": record,
                "fields": fields,
            },
        )
        receipt = await self.client().submit(event)
        if receipt["status"] != "committed":
            raise AccessDenied("not_recorded", f"the access could not be recorded on chain: {receipt.get('reason')}")

    # -- the queries

    async def owned_record(
        self,
        request: RecordRequest,
        viewer: Viewer,
        row: dict[str, Any],
        *,
        kind: str,
        record: str,
        related: dict[str, Any],
        related_events: list[str],
    ) -> dict[str, Any]:
        """A record with an owner: its visible fields, what it relates to, the owner's sealed
        details when asked for (by the owner, or with a purpose), and, when asked for, proofs
        of the record's events and of ``related_events`` (those of what it relates to)."""
        result: dict[str, Any] = {"record": view(kind, _decoded(row), viewer, subject=row["owner"]), **related}
        if request.purpose is not None or viewer.principal == row["owner"]:
            result["personal"] = {
                "owner_details": await self.personal(
                    viewer,
                    subject=row["owner"],
                    department=row["department"],
                    sealed=row["owner_details"],
                    record=record,
                    field="owner_details",
                    purpose=request.purpose,
                )
            }
        return await self.with_proofs(request, result, [*json.loads(row["event_ids"]), *related_events])

    def one(self, table: Any, key: str, value: str, what: str) -> dict[str, Any]:
        found = self.rows(select(table).where(table.c[key] == value))
        if not found:
            raise AccessDenied("not_found", f"{what} {value} is not registered")
        return found[0]

    async def business(self, request: RecordRequest) -> dict[str, Any]:
        async def work(viewer: Viewer) -> dict[str, Any]:
            row = self.one(t.businesses, "business_id", request.id, "business")
            licenses = self.rows(select(t.licenses).where(t.licenses.c.business_id == request.id))
            return await self.owned_record(
                request,
                viewer,
                row,
                kind="business",
                record=f"business.registered/{request.id}",
                related={"licenses": [view("license", _decoded(lic), viewer) for lic in licenses]},
                related_events=[event_id for lic in licenses for event_id in json.loads(lic["event_ids"])],
            )

        return await self.answer(self.names.registry_business, request, work)

    async def search_businesses(self, request: SearchRequest) -> dict[str, Any]:
        async def work(viewer: Viewer) -> dict[str, Any]:
            # autoescape: '%' and '_' in the text are searched for, not LIKE wildcards
            rows = self.rows(
                select(t.businesses)
                .where(t.businesses.c.name.icontains(request.text, autoescape=True))
                .order_by(t.businesses.c.business_id)
                .limit(100)
            )
            records = [view("business", _decoded(row), viewer, subject=row["owner"]) for row in rows]
            return await self.with_proofs(
                request, {"records": records}, [event_id for row in rows for event_id in json.loads(row["event_ids"])]
            )

        return await self.answer(self.names.registry_businesses, request, work)

    async def parcel(self, request: RecordRequest) -> dict[str, Any]:
        async def work(viewer: Viewer) -> dict[str, Any]:
            row = self.one(t.parcels, "parcel_id", request.id, "parcel")
            history = self.rows(
                select(t.land_transactions)
                .where(t.land_transactions.c.parcel_id == request.id)
                .order_by(t.land_transactions.c.height, t.land_transactions.c.position)
            )
            return await self.owned_record(
                request,
                viewer,
                row,
                kind="parcel",
                record=f"land/{request.id}",
                related={"history": [view("transaction", tx, viewer) for tx in history]},
                related_events=[tx["event_id"] for tx in history],
            )

        return await self.answer(self.names.registry_parcel, request, work)

    async def verify_document(self, request: DocumentRequest) -> dict[str, Any]:
        async def work(viewer: Viewer) -> dict[str, Any]:
            rows = self.rows(select(t.documents).where(t.documents.c.sha256 == request.sha256))
            result: dict[str, Any] = {"registered": bool(rows), "registrations": rows}
            return await self.with_proofs(request, result, [row["event_id"] for row in rows])

        return await self.answer(self.names.registry_document, request, work)

    async def departments(self, request: Request) -> dict[str, Any]:
        async def work(viewer: Viewer) -> dict[str, Any]:
            rows = self.rows(select(t.departments).order_by(t.departments.c.department_id))
            return await self.with_proofs(
                request,
                {"departments": rows},
                [row["event_id"] for row in rows if row["event_id"]],
                unproven=[f"department {row['department_id']}" for row in rows if not row["event_id"]],
            )

        return await self.answer(self.names.registry_departments, request, work)

    async def catalog(self, request: Request) -> dict[str, Any]:
        async def work(viewer: Viewer) -> dict[str, Any]:
            rows = [_decoded(row) for row in self.rows(select(t.datasets).order_by(t.datasets.c.dataset_id))]
            shown = [row for row in rows if _may_read_dataset(viewer, row)]
            return await self.with_proofs(
                request, {"datasets": shown}, [event_id for row in shown for event_id in row["event_ids"]]
            )

        return await self.answer(self.names.registry_catalog, request, work)

    async def seal(self, request: SealRequest) -> dict[str, Any]:
        """Encrypt personal fields under the subject's data key, for a department about to publish."""

        def work(viewer: Viewer) -> dict[str, Any]:
            if not viewer.is_officer and viewer.principal != request.subject:
                raise AccessDenied(
                    "forbidden", "only departments, their officials and the person themself seal personal data"
                )
            try:
                sealed = {
                    name: self.vault.seal_for(request.subject, value, record_context(request.record, name)).model_dump()
                    for name, value in request.fields.items()
                }
            except SubjectErased as exc:
                raise AccessDenied("erased", str(exc)) from exc
            return {"sealed": sealed}

        return await self.answer(self.names.registry_seal, request, work)

    async def access_log(self, request: SubjectRequest) -> dict[str, Any]:
        async def work(viewer: Viewer) -> dict[str, Any]:
            may_read_access_log(viewer, request.subject)
            rows = self.rows(
                select(t.access_log).where(t.access_log.c.subject == request.subject).order_by(t.access_log.c.height)
            )
            from govchain.services.registry.sharing import shared_reads_of  # imports this module

            entries = sorted(
                [*(_decoded(row) for row in rows), *shared_reads_of(self, request.subject)],
                key=lambda entry: entry["height"],
            )
            return await self.with_proofs(
                request,
                {"subject": request.subject, "entries": entries},
                [entry["event_id"] for entry in entries],
            )

        return await self.answer(self.names.registry_access_log, request, work)


def record_context(record: str, field: str) -> str:
    """The AES-GCM associated data of a sealed field: it cannot be moved to another record."""
    return f"{record}/{field}"


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    """JSON columns back to values."""
    return {
        key: json.loads(value) if key in ("event_ids", "fields", "readers") and isinstance(value, str) else value
        for key, value in row.items()
    }


def _may_read_dataset(viewer: Viewer, row: dict[str, Any]) -> bool:
    if row["access"] == "public" or viewer.auditor or viewer.department == row["department"]:
        return True
    return row["access"] == "departments" and viewer.department in row["readers"]


class OwnerRequest(Request):
    owner: str = Field(max_length=64)


async def businesses_of(queries: RegistryQueries, request: OwnerRequest) -> dict[str, Any]:
    """The businesses ``owner`` owns, for the owner themself or an officer (a signed request):
    the owner field links a person's records, so the public never gets this list."""

    def work(viewer: Viewer) -> dict[str, Any]:
        if viewer.principal != request.owner and not viewer.sees_internal():
            raise AccessDenied("forbidden", "a person's businesses are shown to that person and to officers only")
        rows = queries.rows(
            select(t.businesses).where(t.businesses.c.owner == request.owner).order_by(t.businesses.c.business_id)
        )
        return {
            "owner": request.owner,
            "records": [view("business", _decoded(r), viewer, subject=r["owner"]) for r in rows],
        }

    return await queries.answer(queries.names.registry_businesses_of, request, work)


def registry_router(queries: RegistryQueries) -> NatsRouter:
    names = queries.names
    router = NatsRouter()
    router.subscriber(names.registry_business)(queries.business)
    router.subscriber(names.registry_businesses)(queries.search_businesses)

    @router.subscriber(names.registry_businesses_of)
    async def owned(request: OwnerRequest) -> dict[str, Any]:
        return await businesses_of(queries, request)

    router.subscriber(names.registry_parcel)(queries.parcel)
    router.subscriber(names.registry_document)(queries.verify_document)
    router.subscriber(names.registry_departments)(queries.departments)
    router.subscriber(names.registry_catalog)(queries.catalog)
    router.subscriber(names.registry_access_log)(queries.access_log)
    router.subscriber(names.registry_seal)(queries.seal)
    from govchain.services.registry.sharing import SharingQueries

    sharing = SharingQueries(queries)
    router.subscriber(names.registry_dataset_read)(sharing.read)
    router.subscriber(names.registry_grants)(sharing.grants)
    return router
