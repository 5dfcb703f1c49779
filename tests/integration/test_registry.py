"""The registry against real NATS and databases: queries, visibility by role, access log, erasure."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, update

from govchain.audit import verify_chain
from govchain.bus import subjects
from govchain.client import LedgerQueryError
from govchain.privacy.vault import subject_keys
from govchain.protocol.envelope import make_event
from govchain.protocol.eventref import event_ref, parse_event_ref
from govchain.protocol.genesis import genesis_payload
from govchain.protocol.keys import SigningKey
from govchain.protocol.policy import CONTRACT_ENGINE
from govchain.protocol.proofs import inclusion_problem
from govchain.protocol.requests import sign_request
from govchain.protocol.state import ChainState
from govchain.services.registry.service import run_registry
from govchain.services.registry.tables import departments, void_events
from govchain.storage.engine import make_engine
from tests.conftest import BOTH_PROFILES

from .conftest import Ledger

OWNER = "c-" + "01" * 16
BUYER = "c-" + "02" * 16
STRANGER = "c-" + "03" * 16


class Registry:
    """A running registry next to the ledger, with departments, officials and citizens."""

    def __init__(self, ledger: Ledger, db_url: str) -> None:
        self.ledger = ledger
        self.db_url = db_url
        self.keys: dict[str, SigningKey] = {}
        self.height = 0
        self.events: dict[str, str] = {}  # what the test committed (label → event, source/id)

    async def commit(
        self, signer: str, source: str, type: str, data: dict[str, Any], label: str | None = None
    ) -> dict[str, Any]:
        event = make_event(self.keys[signer], source=source, type=type, data=data)
        receipt = await self.ledger.submit(event)
        if receipt["status"] == "committed":
            self.height = receipt["height"]
            if label is not None:
                self.events[label] = event.ref
        return receipt

    def orderer_keys(self) -> dict[str, Any]:
        genesis = genesis_payload(self.ledger.data.genesis())
        return {r.key_id: r.public_key for r in ChainState.from_genesis(genesis).keys.values() if r.owner == "ledger"}

    def assert_proves(self, answer: dict[str, Any], labels: list[str]) -> None:
        """One proof for each event the answer rests on, no more, each leading (RFC 9162) to
        the log root of a head the orderer signed."""
        expected = [self.events[label] for label in labels]
        proofs = answer["proofs"]
        assert len(proofs) == len(expected)
        assert sorted(event_ref(proof["source"], proof["event_id"]) for proof in proofs) == sorted(expected)
        orderer = self.orderer_keys()
        for proof in proofs:
            assert proof["root"] == proof["head"]["header"]["log_root"]
            assert inclusion_problem(proof, orderer) is None, proof["event_id"]

    async def ask(self, subject: str, params: dict[str, Any], as_: str | None = None) -> dict[str, Any]:
        signer = None if as_ is None else (self.keys[as_], as_)
        return await self.ledger.client.query(subject, {**params, "min_height": self.height}, as_principal=signer)

    async def denied(self, subject: str, params: dict[str, Any], as_: str | None = None) -> str:
        with pytest.raises(LedgerQueryError) as info:
            await self.ask(subject, params, as_)
        return info.value.code

    async def seal(self, dept: str, subject: str, record: str, details: dict[str, str]) -> dict[str, Any]:
        answer = await self.ask(
            subjects.REGISTRY_SEAL,
            {"subject": subject, "record": record, "fields": {"owner_details": details}},
            as_=dept,
        )
        return dict(answer["sealed"]["owner_details"])

    async def populate(self) -> None:
        self.keys["root"] = self.ledger.root
        for dept in ("market", "land", "audit"):  # as Ledger.register_department, keeping the event ids
            self.keys[dept] = self.ledger.new_key()
            receipt = await self.commit(
                "root",
                "root",
                "department.registered",
                {"department_id": dept, "name": dept.title(), "public_key": self.keys[dept].public.hex},
                label=f"department {dept}",
            )
            assert receipt["status"] == "committed", receipt
            self.ledger.department_keys[dept] = self.keys[dept]
        for official, dept, roles in (
            ("market-clerk", "market", ["registrar"]),
            ("land-clerk", "land", []),
            ("auditor-1", "audit", []),
        ):
            self.keys[official] = self.ledger.new_key()
            await self.commit(
                dept,
                dept,
                "official.registered",
                {
                    "official_id": official,
                    "department_id": dept,
                    "name": official,
                    "public_key": self.keys[official].public.hex,
                    "roles": roles,
                },
            )
        await self.commit("root", "root", "role.granted", {"principal": "auditor-1", "role": "auditor"})
        for citizen in (OWNER, BUYER, STRANGER):
            self.keys[citizen] = self.ledger.new_key()
            await self.commit(
                "market",
                "market",
                "citizen.enrolled",
                {"citizen_id": citizen, "public_key": self.keys[citizen].public.hex},
            )
        await self.commit(
            "market",
            "market",
            "business.registered",
            {
                "business_id": "B-1",
                "name": "Harbour Noodle House",
                "registration_no": "913100001",
                "address": "12 Harbour Road",
                "activity": "catering",
                "owner": OWNER,
                "owner_details": await self.seal("market", OWNER, "business.registered/B-1", {"legal_name": "Li Ming"}),
            },
            label="B-1",
        )
        await self.commit(
            "market-clerk",
            "market",
            "license.issued",
            {
                "license_id": "L-1",
                "business_id": "B-1",
                "kind": "food service",
                "valid_from": "2026-01-01",
                "valid_until": "2027-12-31",
            },
            label="L-1",
        )
        await self.commit(
            "land",
            "land",
            "land.parcel_registered",
            {
                "parcel_id": "P-1",
                "location": "Lot 7",
                "area_m2": "532.50",
                "land_use": "residential",
                "owner": OWNER,
                "owner_details": await self.seal("land", OWNER, "land/P-1", {"legal_name": "Li Ming"}),
            },
            label="P-1",
        )


@pytest.fixture
async def registry(ledger: Ledger, db_url: str) -> AsyncIterator[Registry]:
    settings = ledger.settings.model_copy(update={"database_url": db_url})
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_registry(settings, ledger.nats_url, stop, ready))
    await asyncio.wait_for(ready.wait(), 20)
    handle = Registry(ledger, db_url)
    await handle.populate()
    yield handle
    stop.set()
    await asyncio.wait_for(task, 20)


async def test_the_public_sees_public_fields_and_proofs_tied_to_signed_heads(registry: Registry) -> None:
    answer = await registry.ask(subjects.REGISTRY_BUSINESS, {"id": "B-1", "with_proofs": True})
    assert answer["visibility"] == "public"
    assert answer["record"] == {
        "business_id": "B-1",
        "name": "Harbour Noodle House",
        "registration_no": "913100001",
        "address": "12 Harbour Road",
        "activity": "catering",
        "department": "market",
    }
    assert [lic["license_id"] for lic in answer["licenses"]] == ["L-1"]
    assert "personal" not in answer and "owner" not in answer["record"]
    registry.assert_proves(answer, ["B-1", "L-1"])  # the registration and the licence listed with it

    found = await registry.ask(subjects.REGISTRY_BUSINESSES, {"text": "noodle"})
    assert [r["business_id"] for r in found["records"]] == ["B-1"]
    assert await registry.denied(subjects.REGISTRY_BUSINESS, {"id": "B-404"}) == "not_found"
    directory = await registry.ask(subjects.REGISTRY_DEPARTMENTS, {})
    assert [d["department_id"] for d in directory["departments"]] == ["audit", "land", "market"]


@BOTH_PROFILES
async def test_each_role_sees_its_own_layer_of_a_record(registry: Registry) -> None:
    auditor = await registry.ask(subjects.REGISTRY_BUSINESS, {"id": "B-1"}, as_="auditor-1")
    assert auditor["visibility"] == "auditor" and auditor["record"]["owner"] == OWNER
    assert "event_ids" in auditor["record"] and "owner_details" not in auditor["record"]

    owner = await registry.ask(subjects.REGISTRY_BUSINESS, {"id": "B-1"}, as_=OWNER)
    assert owner["personal"] == {"owner_details": {"legal_name": "Li Ming"}}

    # Personal data beyond the person: officers of the holding department, with a stated purpose.
    assert await registry.denied(subjects.REGISTRY_BUSINESS, {"id": "B-1", "purpose": "curious"}) == "forbidden"
    assert (
        await registry.denied(subjects.REGISTRY_BUSINESS, {"id": "B-1", "purpose": "audit"}, as_="auditor-1")
        == "forbidden"
    )
    assert (
        await registry.denied(subjects.REGISTRY_BUSINESS, {"id": "B-1", "purpose": "check"}, as_="land-clerk")
        == "forbidden"
    )
    assert (
        await registry.denied(subjects.REGISTRY_BUSINESS, {"id": "B-1", "purpose": " "}, as_="market-clerk")
        == "purpose_required"
    )
    clerk = await registry.ask(
        subjects.REGISTRY_BUSINESS, {"id": "B-1", "purpose": "licence renewal"}, as_="market-clerk"
    )
    assert clerk["visibility"] == "officer"
    assert clerk["personal"] == {"owner_details": {"legal_name": "Li Ming"}}


@BOTH_PROFILES
async def test_every_official_read_is_on_chain_and_listed_for_the_person(registry: Registry) -> None:
    await registry.ask(subjects.REGISTRY_BUSINESS, {"id": "B-1"}, as_=OWNER)  # one's own read is not logged
    await registry.ask(subjects.REGISTRY_BUSINESS, {"id": "B-1", "purpose": "licence renewal"}, as_="market-clerk")
    registry.height = await registry.ledger.client.head_height()
    log = await registry.ask(subjects.REGISTRY_ACCESS_LOG, {"subject": OWNER}, as_=OWNER)
    assert [(e["reader"], e["reader_department"], e["purpose"], e["record"], e["fields"]) for e in log["entries"]] == [
        ("market-clerk", "market", "licence renewal", "business.registered/B-1", ["owner_details"])
    ]
    source, event_id = parse_event_ref(log["entries"][0]["event_id"])  # the access log names events source/id
    assert source is not None
    receipt = await registry.ledger.client.receipt(event_id, source)
    assert receipt["status"] == "committed"  # the read itself is an event on chain
    assert (await registry.ask(subjects.REGISTRY_ACCESS_LOG, {"subject": OWNER}, as_="auditor-1"))["entries"]
    assert await registry.denied(subjects.REGISTRY_ACCESS_LOG, {"subject": OWNER}, as_=STRANGER) == "forbidden"
    assert await registry.denied(subjects.REGISTRY_ACCESS_LOG, {"subject": OWNER}) == "forbidden"


async def test_requests_must_be_signed_by_the_claimed_principal_and_used_once(registry: Registry) -> None:
    client = registry.ledger.client
    params = {"subject": OWNER}
    forged = await asyncio.gather(
        client.query(subjects.REGISTRY_ACCESS_LOG, params, as_principal=(registry.keys[STRANGER], OWNER)),
        return_exceptions=True,
    )
    assert isinstance(forged[0], LedgerQueryError) and forged[0].code == "unauthenticated"
    auth = sign_request(registry.keys[OWNER], OWNER, subjects.REGISTRY_ACCESS_LOG, params).model_dump()
    assert (await client.request(subjects.REGISTRY_ACCESS_LOG, {**params, "auth": auth}))["subject"] == OWNER
    with pytest.raises(LedgerQueryError) as replay:
        await client.request(subjects.REGISTRY_ACCESS_LOG, {**params, "auth": auth})
    assert replay.value.code == "replayed"
    with pytest.raises(LedgerQueryError) as altered:
        await client.request(subjects.REGISTRY_ACCESS_LOG, {"subject": BUYER, "auth": auth})
    assert altered.value.code == "unauthenticated"


async def test_land_history_is_ordered_and_transfers_from_non_owners_are_void(registry: Registry) -> None:
    first = await registry.commit(
        "land",
        "land",
        "land.transferred",
        {
            "transfer_id": "T-1",
            "parcel_id": "P-1",
            "from_owner": OWNER,
            "to_owner": BUYER,
            "consideration": "1000000.00",
        },
    )
    bogus = await registry.commit(
        "land",
        "land",
        "land.transferred",
        {"transfer_id": "T-2", "parcel_id": "P-1", "from_owner": OWNER, "to_owner": STRANGER, "consideration": "1.00"},
    )
    assert bogus["status"] == "committed"  # authorized, so on chain; inconsistent, so void in the registry
    await registry.commit(
        "land",
        "land",
        "land.transferred",
        {
            "transfer_id": "T-3",
            "parcel_id": "P-1",
            "from_owner": BUYER,
            "to_owner": STRANGER,
            "consideration": "1200000.00",
        },
    )
    public = await registry.ask(subjects.REGISTRY_PARCEL, {"id": "P-1"})
    assert [tx["transfer_id"] for tx in public["history"]] == ["T-1", "T-3"]
    assert "from_owner" not in public["history"][0] and public["history"][0]["height"] == first["height"]
    officer = await registry.ask(subjects.REGISTRY_PARCEL, {"id": "P-1"}, as_="land-clerk")
    assert officer["record"]["owner"] == STRANGER
    assert [(tx["from_owner"], tx["to_owner"]) for tx in officer["history"]] == [(OWNER, BUYER), (BUYER, STRANGER)]
    engine = make_engine(registry.db_url)
    with engine.connect() as conn:
        void = conn.execute(select(void_events.c.reason)).scalars().all()
    engine.dispose()
    assert void == [f"{OWNER} is not the current owner of parcel P-1"]


async def test_documents_verify_by_hash_alone(registry: Registry) -> None:
    receipt = await registry.commit(
        "land", "land", "document.registered", {"document_id": "deed-1", "sha256": "ab" * 32, "title": "Deed"}
    )
    known = await registry.ask(subjects.REGISTRY_DOCUMENT, {"sha256": "ab" * 32, "with_proofs": True})
    assert known["registered"] and known["registrations"][0]["department"] == "land"
    assert known["proofs"][0]["event_height"] == receipt["height"]
    assert (await registry.ask(subjects.REGISTRY_DOCUMENT, {"sha256": "cd" * 32}))["registered"] is False


async def test_the_catalog_shows_each_reader_what_it_may_read(registry: Registry) -> None:
    for dataset_id, access, readers in (
        ("open-permits", "public", []),
        ("tax-arrears", "departments", ["land"]),
        ("audit-trail", "auditors", []),
    ):
        await registry.commit(
            "market",
            "market",
            "dataset.published",
            {
                "dataset_id": dataset_id,
                "title": dataset_id,
                "description": "",
                "fields": ["a"],
                "access": access,
                "readers": readers,
            },
        )

    async def ids(as_: str | None) -> list[str]:
        return [d["dataset_id"] for d in (await registry.ask(subjects.REGISTRY_CATALOG, {}, as_=as_))["datasets"]]

    assert await ids(None) == ["open-permits"]
    assert await ids("land-clerk") == ["open-permits", "tax-arrears"]
    assert await ids("auditor-1") == ["audit-trail", "open-permits", "tax-arrears"]
    assert await ids("market-clerk") == ["audit-trail", "open-permits", "tax-arrears"]


@BOTH_PROFILES
async def test_erasure_shreds_the_key_and_the_chain_still_verifies(registry: Registry) -> None:
    other = await registry.commit(STRANGER, STRANGER, "personal_data.erased", {"subject": OWNER, "reason": "prank"})
    assert other["status"] == "committed"  # the ledger allows citizens to erase; the registry voids it
    assert (await registry.ask(subjects.REGISTRY_BUSINESS, {"id": "B-1"}, as_=OWNER))["personal"]["owner_details"] == {
        "legal_name": "Li Ming"
    }
    read = await registry.ask(
        subjects.REGISTRY_BUSINESS, {"id": "B-1", "purpose": "licence renewal"}, as_="market-clerk"
    )
    assert read["personal"]["owner_details"] == {"legal_name": "Li Ming"}  # a real official read, recorded

    await registry.commit(OWNER, OWNER, "personal_data.erased", {"subject": OWNER, "reason": "right to erasure"})
    for who, params in ((OWNER, {}), ("market-clerk", {"purpose": "licence renewal"})):
        answer = await registry.ask(subjects.REGISTRY_BUSINESS, {"id": "B-1", **params}, as_=who)
        assert answer["personal"]["owner_details"] == {"erased": True}
    # The access log outlives the erasure: the person (and auditors) still see who read their
    # data before it was shredded. Its entries hold no personal contents, and the officer's
    # read after erasure disclosed nothing, so it added no entry.
    registry.height = await registry.ledger.client.head_height()
    log = await registry.ask(subjects.REGISTRY_ACCESS_LOG, {"subject": OWNER}, as_=OWNER)
    assert [(e["reader"], e["purpose"], e["record"], e["fields"]) for e in log["entries"]] == [
        ("market-clerk", "licence renewal", "business.registered/B-1", ["owner_details"])
    ]
    assert "Li Ming" not in json.dumps(log)
    assert (
        await registry.denied(
            subjects.REGISTRY_SEAL,
            {"subject": OWNER, "record": "x/1", "fields": {"owner_details": {"a": 1}}},
            as_="market",
        )
        == "erased"
    )
    engine = make_engine(registry.db_url)
    with engine.connect() as conn:
        row = conn.execute(select(subject_keys).where(subject_keys.c.subject == OWNER)).one()
    engine.dispose()
    assert row.wrapped_key is None and row.erasure_reason == "right to erasure"
    assert (await verify_chain(registry.ledger.nc.jetstream())).ok


async def test_a_denied_reader_gets_an_error_whatever_the_data_holds(registry: Registry) -> None:
    """Authorization comes before the data's state: no sealed field, or an erased subject,
    never turns a refusal into an empty answer."""
    await registry.commit(
        "land",
        "land",
        "land.parcel_registered",
        {"parcel_id": "P-2", "location": "Lot 8", "area_m2": "100.00", "land_use": "farm", "owner": BUYER},
    )
    no_details = {"id": "P-2", "purpose": "check it"}
    for who in (None, "market-clerk", "auditor-1", STRANGER):
        assert await registry.denied(subjects.REGISTRY_PARCEL, no_details, as_=who) == "forbidden", who
    assert (
        await registry.denied(subjects.REGISTRY_PARCEL, {"id": "P-2", "purpose": " "}, as_="land-clerk")
        == "purpose_required"
    )
    allowed = await registry.ask(subjects.REGISTRY_PARCEL, no_details, as_="land-clerk")
    assert allowed["personal"] == {"owner_details": None}

    await registry.commit(OWNER, OWNER, "personal_data.erased", {"subject": OWNER, "reason": "right to erasure"})
    for who in (None, "land-clerk", "auditor-1", STRANGER, BUYER):
        assert (
            await registry.denied(subjects.REGISTRY_BUSINESS, {"id": "B-1", "purpose": "check it"}, as_=who)
            == "forbidden"
        ), who
    erased = await registry.ask(subjects.REGISTRY_BUSINESS, {"id": "B-1", "purpose": "check it"}, as_="market-clerk")
    assert erased["personal"] == {"owner_details": {"erased": True}}
    # Without a purpose the public still gets the public record, and no personal part at all.
    public = await registry.ask(subjects.REGISTRY_BUSINESS, {"id": "B-1"})
    assert public["record"]["name"] == "Harbour Noodle House" and "personal" not in public


async def test_only_officers_seal_personal_data(registry: Registry) -> None:
    params = {"subject": BUYER, "record": "x/1", "fields": {"owner_details": {"a": 1}}}
    assert await registry.denied(subjects.REGISTRY_SEAL, params, as_=STRANGER) == "forbidden"
    assert await registry.denied(subjects.REGISTRY_SEAL, params) == "forbidden"
    # ... and the person themself, for their own data only (issue 14: a rating's comment)
    own = await registry.ask(subjects.REGISTRY_SEAL, params, as_=BUYER)
    assert own["sealed"]["owner_details"]["subject"] == BUYER
    sealed = await registry.ask(subjects.REGISTRY_SEAL, params, as_="land-clerk")
    field = sealed["sealed"]["owner_details"]
    assert set(field) == {"enc", "subject", "key_version", "nonce", "ct"} and field["subject"] == BUYER


@BOTH_PROFILES
async def test_every_answer_proves_each_event_it_rests_on(registry: Registry) -> None:
    """Issue 3: each answer can carry the inclusion proof of every event it rests on."""
    commit = registry.commit
    assert (
        await commit(
            "market-clerk",
            "market",
            "license.issued",
            {
                "license_id": "L-2",
                "business_id": "B-1",
                "kind": "alcohol",
                "valid_from": "2026-01-01",
                "valid_until": "2026-12-31",
            },
            label="L-2 issued",
        )
    )["status"] == "committed"
    assert (
        await commit(
            "market-clerk", "market", "license.revoked", {"license_id": "L-2", "reason": "lapsed"}, label="L-2 revoked"
        )
    )["status"] == "committed"
    await commit(
        "market",
        "market",
        "business.registered",
        {
            "business_id": "B-2",
            "name": "Noodle Bar Two",
            "registration_no": "913100002",
            "address": "1 Quay",
            "activity": "catering",
            "owner": BUYER,
        },
        label="B-2",
    )
    await commit(
        "land",
        "land",
        "land.transferred",
        {
            "transfer_id": "T-1",
            "parcel_id": "P-1",
            "from_owner": OWNER,
            "to_owner": BUYER,
            "consideration": "1000000.00",
        },
        label="T-1",
    )
    await commit(
        "land",
        "land",
        "land.transferred",
        {
            "transfer_id": "T-2",
            "parcel_id": "P-1",
            "from_owner": BUYER,
            "to_owner": STRANGER,
            "consideration": "1200000.00",
        },
        label="T-2",
    )
    await commit(
        "land",
        "land",
        "document.registered",
        {"document_id": "deed-1", "sha256": "ef" * 32, "title": "Deed"},
        label="deed",
    )
    for dataset_id, access, label in (
        ("open-permits", "public", "permits v1"),
        ("open-permits", "public", "permits v2"),
        ("audit-trail", "auditors", "trail"),
    ):
        await commit(
            "market",
            "market",
            "dataset.published",
            {
                "dataset_id": dataset_id,
                "title": dataset_id,
                "description": "",
                "fields": ["a"],
                "access": access,
                "readers": [],
            },
            label=label,
        )

    def ask(subject: str, params: dict[str, Any], as_: str | None = None) -> Any:
        return registry.ask(subject, {**params, "with_proofs": True}, as_)

    registry.assert_proves(
        await ask(subjects.REGISTRY_BUSINESS, {"id": "B-1"}), ["B-1", "L-1", "L-2 issued", "L-2 revoked"]
    )
    registry.assert_proves(await ask(subjects.REGISTRY_BUSINESSES, {"text": "noodle"}), ["B-1", "B-2"])
    parcel = await ask(subjects.REGISTRY_PARCEL, {"id": "P-1"})
    assert [tx["transfer_id"] for tx in parcel["history"]] == ["T-1", "T-2"]
    registry.assert_proves(parcel, ["P-1", "T-1", "T-2"])  # the registration and each land transaction
    registry.assert_proves(await ask(subjects.REGISTRY_DOCUMENT, {"sha256": "ef" * 32}), ["deed"])
    directory = await ask(subjects.REGISTRY_DEPARTMENTS, {})
    assert "unproven" not in directory
    registry.assert_proves(directory, ["department audit", "department land", "department market"])
    registry.assert_proves(await ask(subjects.REGISTRY_CATALOG, {}), ["permits v1", "permits v2"])  # what it shows
    registry.assert_proves(
        await ask(subjects.REGISTRY_CATALOG, {}, as_="auditor-1"), ["trail", "permits v1", "permits v2"]
    )

    await registry.ask(subjects.REGISTRY_BUSINESS, {"id": "B-1", "purpose": "licence renewal"}, as_="market-clerk")
    registry.height = await registry.ledger.client.head_height()
    log = await ask(subjects.REGISTRY_ACCESS_LOG, {"subject": OWNER}, as_=OWNER)
    assert [e["reader"] for e in log["entries"]] == ["market-clerk"]
    registry.events |= {f"read {n}": entry["event_id"] for n, entry in enumerate(log["entries"])}
    registry.assert_proves(log, [f"read {n}" for n in range(len(log["entries"]))])
    registry.assert_proves(await ask(subjects.REGISTRY_ACCESS_LOG, {"subject": OWNER}, as_="auditor-1"), ["read 0"])

    # Without with_proofs no answer carries any.
    assert "proofs" not in await registry.ask(subjects.REGISTRY_DEPARTMENTS, {})
    assert "proofs" not in await registry.ask(subjects.REGISTRY_ACCESS_LOG, {"subject": OWNER}, as_=OWNER)


async def test_a_department_row_from_before_event_ids_is_named_unproven(registry: Registry) -> None:
    """Rows written before migration 0002 have no event id: said outright, not silently unproven."""
    engine = make_engine(registry.db_url)
    with engine.begin() as conn:
        conn.execute(update(departments).where(departments.c.department_id == "land").values(event_id=None))
    engine.dispose()
    directory = await registry.ask(subjects.REGISTRY_DEPARTMENTS, {"with_proofs": True})
    assert directory["unproven"] == ["department land"]
    registry.assert_proves(directory, ["department audit", "department market"])


class _LaggingLedger:
    """The ledger's proof index a moment behind the registry (a fake: this race is too narrow to
    provoke on demand against the real ledger)."""

    def __init__(self, unknown_for: int) -> None:
        self.unknown_for = unknown_for
        self.asked = 0

    async def inclusion_proof(self, event_id: str, *, source: str | None = None) -> dict[str, Any]:
        self.asked += 1
        if self.asked <= self.unknown_for:
            raise LedgerQueryError("not_found", f"event {event_id} is not on chain")
        return {"source": source, "event_id": event_id}


@pytest.mark.parametrize("unknown_for, answered", [(2, True), (10**6, False)])
async def test_a_proof_the_ledger_has_not_indexed_yet_is_waited_for_then_refused(
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    unknown_for: int,
    answered: bool,
) -> None:
    from govchain.privacy.vault import KeyVault
    from govchain.services.registry import queries
    from govchain.services.registry.projection import RegistryProjection
    from govchain.services.registry.tables import documents

    monkeypatch.setattr(queries, "PROOF_WAIT_S", 0.3)
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    RegistryProjection().prepare(engine)
    with engine.begin() as conn:
        conn.execute(
            documents.insert().values(
                event_id="land/" + "e" * 64,
                sha256="ab" * 32,
                document_id="d",
                title="t",
                kind="deed",
                department="land",
                height=1,
            )
        )
    ledger = _LaggingLedger(unknown_for)
    api = queries.RegistryQueries(
        engine,
        KeyVault(engine),
        client=lambda: ledger,
        state=lambda: None,  # type: ignore[arg-type, return-value]
        height=lambda: 1,
        key=SigningKey.generate(),
    )
    answer = await api.verify_document(queries.DocumentRequest(sha256="ab" * 32, with_proofs=True))
    engine.dispose()
    if answered:
        assert answer["proofs"] == [{"source": "land", "event_id": "e" * 64}] and ledger.asked == 3
    else:
        assert answer["code"] == "proof_unavailable" and "proofs" not in answer


async def test_an_answer_resting_on_more_events_than_a_reply_holds_is_refused(
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from govchain.privacy.vault import KeyVault
    from govchain.services.registry import queries
    from govchain.services.registry.projection import RegistryProjection
    from govchain.services.registry.tables import documents

    monkeypatch.setattr(queries, "MAX_PROOFS", 2)
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    RegistryProjection().prepare(engine)
    with engine.begin() as conn:
        for n in range(3):
            conn.execute(
                documents.insert().values(
                    event_id=f"{n:064x}",
                    sha256="ab" * 32,
                    document_id=f"d{n}",
                    title="t",
                    kind="deed",
                    department="land",
                    height=1,
                )
            )
    ledger = _LaggingLedger(0)
    api = queries.RegistryQueries(
        engine,
        KeyVault(engine),
        client=lambda: ledger,
        state=lambda: None,  # type: ignore[arg-type, return-value]
        height=lambda: 1,
        key=SigningKey.generate(),
    )
    refused = await api.verify_document(queries.DocumentRequest(sha256="ab" * 32, with_proofs=True))
    assert refused["code"] == "too_many_proofs" and ledger.asked == 0
    assert len((await api.verify_document(queries.DocumentRequest(sha256="ab" * 32)))["registrations"]) == 3
    engine.dispose()


async def test_a_licence_a_contract_issued_is_revoked_by_the_businesss_registrar(registry: Registry) -> None:
    """The contract engine signs the licences a contract issues; the department that registered
    the business (here ``market``, for B-1) answers for them and may revoke them, no other."""
    registry.keys[CONTRACT_ENGINE] = registry.ledger.data.signing_key(CONTRACT_ENGINE)
    issued = await registry.commit(
        CONTRACT_ENGINE,
        CONTRACT_ENGINE,
        "license.issued",
        {
            "license_id": "L-APP-1",
            "business_id": "B-1",
            "kind": "catering",
            "valid_from": "2026-01-01",
            "valid_until": "2026-12-31",
        },
    )
    assert issued["status"] == "committed", issued
    revocation = {"license_id": "L-APP-1", "reason": "hygiene inspection failed"}
    assert (await registry.commit("land", "land", "license.revoked", revocation))["status"] == "committed"
    assert (await registry.commit("market-clerk", "market", "license.revoked", revocation))["status"] == "committed"
    record = await registry.ask(subjects.REGISTRY_BUSINESS, {"id": "B-1"})
    [licence] = [held for held in record["licenses"] if held["license_id"] == "L-APP-1"]
    assert licence["status"] == "revoked" and licence["revocation_reason"] == "hygiene inspection failed"
    engine = make_engine(registry.db_url)
    with engine.connect() as conn:
        void = conn.execute(select(void_events.c.reason)).scalars().all()
    engine.dispose()
    assert void == ["licence L-APP-1 may be revoked by market only, not by land"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the wait, not the store, under test
async def test_a_question_ahead_of_the_registry_is_answered_not_ready_before_the_asker_gives_up(
    registry: Registry,
) -> None:
    """A projection waits for ``min_height`` less long than a client waits for an answer, so a
    reader of a projection that is behind gets ``not_ready`` in words, not a timeout."""
    with pytest.raises(LedgerQueryError) as refused:
        await registry.ledger.client.query(subjects.REGISTRY_DEPARTMENTS, {"min_height": registry.height + 1000})
    assert refused.value.code == "not_ready"
