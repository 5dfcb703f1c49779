"""Contracts end to end on real NATS: licences, N-of-M land transfers, deadlines, bad contracts,
engine crashes, and an audit that re-executes everything from the chain."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from govchain.bus import subjects
from govchain.bus.blocks import follow_blocks, last_height
from govchain.protocol.block import Block
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.services.contract import BUILTIN_CONTRACTS
from govchain.services.contract.audit import audit_contracts
from govchain.services.contract.service import Publisher, run_contract_engine

from .conftest import Ledger

OWNER, BUYER = "c-" + "0a" * 16, "c-" + "0b" * 16
DOCS = ["1" * 64, "2" * 64]


def shipped_version(name: str) -> int:
    return int(json.loads(BUILTIN_CONTRACTS[name].read_text())["version"])


def builtin(name: str, **changes: Any) -> dict[str, Any]:
    definition = json.loads(BUILTIN_CONTRACTS[name].read_text())
    definition.update(changes)
    return definition


class World:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.keys: dict[str, SigningKey] = {"root": ledger.root}
        self.engine: asyncio.Task[None] | None = None
        self.stop = asyncio.Event()

    async def commit(self, signer: str, source: str, type: str, data: dict[str, Any]) -> dict[str, Any]:
        return await self.ledger.submit(make_event(self.keys[signer], source=source, type=type, data=data))

    async def start_engine(self, db_url: str) -> None:
        settings = self.ledger.settings.model_copy(update={"database_url": db_url, "contract_tick_s": 0.3})
        self.stop, ready = asyncio.Event(), asyncio.Event()
        self.engine = asyncio.create_task(run_contract_engine(settings, self.ledger.nats_url, self.stop, ready))
        await asyncio.wait_for(ready.wait(), 20)

    async def stop_engine(self) -> None:
        self.stop.set()
        if self.engine is not None:
            await asyncio.wait_for(asyncio.gather(self.engine, return_exceptions=True), 20)
            self.engine = None

    async def case(self, contract_id: str, key: str, *, until: set[str] | None = None) -> dict[str, Any]:
        for _ in range(200):
            answer = await self.ledger.nc.request(
                subjects.CONTRACT_CASE,
                json.dumps(
                    {"contract_id": contract_id, "case_key": key, "min_height": await self.ledger.client.head_height()}
                ).encode(),
                timeout=15,
            )
            found = json.loads(answer.data)
            if "error" not in found and (until is None or found["state"] in until):
                return found
            await asyncio.sleep(0.1)
        raise AssertionError(f"case {key} of {contract_id} never reached {until}: {found}")

    async def result_on_chain(self, event_id: str) -> dict[str, Any]:
        for _ in range(200):
            receipt = await self.ledger.client.receipt(event_id, "contract-engine")
            if receipt["status"] != "pending":
                return receipt
            await asyncio.sleep(0.1)
        raise AssertionError(f"result {event_id} never reached the chain")

    async def populate(self) -> None:
        for dept in ("market", "land", "tax", "housing"):
            self.keys[dept] = await self.ledger.register_department(dept)
        for citizen in (OWNER, BUYER):
            self.keys[citizen] = SigningKey.generate()
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
                "name": "Noodles",
                "registration_no": "1",
                "address": "1 Road",
                "activity": "catering",
                "owner": OWNER,
            },
        )
        for n, digest in enumerate(DOCS):
            await self.commit(
                "market",
                "market",
                "document.registered",
                {"document_id": f"doc-{n}", "sha256": digest, "title": f"Document {n}"},
            )
        await self.commit(
            "land",
            "land",
            "land.parcel_registered",
            {"parcel_id": "P-1", "location": "Lot 1", "area_m2": "100", "land_use": "residential", "owner": OWNER},
        )
        for name in ("business-license", "land-transfer"):
            receipt = await self.commit("root", "root", "contract.deployed", {"definition": builtin(name)})
            assert receipt["status"] == "committed", receipt

    async def apply(self, application_id: str, *, applicant: str = OWNER, documents: list[str] = DOCS) -> None:
        receipt = await self.commit(
            applicant,
            applicant,
            "license.applied",
            {
                "application_id": application_id,
                "applicant": applicant,
                "business_id": "B-1",
                "kind": "food service",
                "documents": documents,
            },
        )
        assert receipt["status"] == "committed", receipt


@pytest.fixture
async def world(ledger: Ledger, db_url: str) -> AsyncIterator[World]:
    handle = World(ledger)
    await handle.start_engine(db_url)
    await handle.populate()
    yield handle
    await handle.stop_engine()


async def test_a_licence_is_issued_once_identity_and_documents_check_out(world: World) -> None:
    await world.apply("A-1")
    case = await world.case("business-license", "A-1", until={"issued", "rejected"})
    assert case["state"] == "issued" and [r["type"] for r in case["results"]] == ["license.issued"]
    receipt = await world.result_on_chain(case["results"][0]["event_id"])
    assert receipt["status"] == "committed"


async def test_a_licence_application_is_rejected_with_the_failed_condition(world: World) -> None:
    await world.apply("A-2", documents=[DOCS[0], "9" * 64])
    await world.apply("A-3", applicant=BUYER)
    unregistered = await world.case("business-license", "A-2", until={"issued", "rejected"})
    not_owner = await world.case("business-license", "A-3", until={"issued", "rejected"})
    assert (unregistered["state"], unregistered["history"][-1]["failed"]) == ("rejected", "documents_registered")
    assert (not_owner["state"], not_owner["history"][-1]["failed"]) == ("rejected", "applicant_owns_business")
    assert [r["type"] for r in not_owner["results"]] == ["license.application_rejected"]
    assert (await world.result_on_chain(not_owner["results"][0]["event_id"]))["status"] == "committed"


async def test_a_land_transfer_is_recorded_when_n_of_m_departments_approve(world: World) -> None:
    await world.commit(
        "land",
        "land",
        "land.transfer_requested",
        {
            "request_id": "R-1",
            "parcel_id": "P-1",
            "from_owner": OWNER,
            "to_owner": BUYER,
            "consideration": "900000.00",
            "approvers": ["land", "tax", "housing"],
            "required": 2,
        },
    )
    await world.commit("tax", "tax", "land.transfer_approved", {"request_id": "R-1"})
    await world.commit("tax", "tax", "land.transfer_approved", {"request_id": "R-1"})  # twice counts once
    await world.commit("market", "market", "land.transfer_approved", {"request_id": "R-1"})  # not an approver
    pending = await world.case("land-transfer", "R-1")
    assert (pending["state"], pending["vars"]["approvals"]) == ("pending", ["tax"])
    await world.commit("housing", "housing", "land.transfer_approved", {"request_id": "R-1"})
    recorded = await world.case("land-transfer", "R-1", until={"recorded"})
    assert recorded["vars"]["approvals"] == ["tax", "housing"]
    assert (await world.result_on_chain(recorded["results"][0]["event_id"]))["status"] == "committed"


async def test_a_land_transfer_without_enough_approvals_expires_by_block_time(world: World) -> None:
    newer = shipped_version("land-transfer") + 1  # versions only increase
    quick = builtin("land-transfer", version=newer)
    quick["deadlines"][0]["after_seconds"] = 1
    assert (await world.commit("root", "root", "contract.deployed", {"definition": quick}))["status"] == "committed"
    await world.commit(
        "land",
        "land",
        "land.transfer_requested",
        {
            "request_id": "R-2",
            "parcel_id": "P-1",
            "from_owner": OWNER,
            "to_owner": BUYER,
            "consideration": "1.00",
            "approvers": ["tax", "housing"],
            "required": 2,
        },
    )
    await world.commit("tax", "tax", "land.transfer_approved", {"request_id": "R-2"})
    expired = await world.case("land-transfer", "R-2", until={"expired"})  # the engine's clock ticks make blocks
    assert expired["version"] == newer and expired["history"][-1]["step"] == "deadline:pending"
    assert [r["type"] for r in expired["results"]] == ["land.transfer_expired"]


async def test_a_contract_version_is_deployed_once_and_versions_only_increase(world: World) -> None:
    again = await world.commit("root", "root", "contract.deployed", {"definition": builtin("business-license")})
    assert (again["status"], again["reason"]) == ("rejected", "state_conflict"), again
    assert again["detail"] == "contract business-license version 1 is already deployed"
    land = shipped_version("land-transfer")
    older = await world.commit(
        "root", "root", "contract.deployed", {"definition": builtin("land-transfer", version=land - 1)}
    )
    assert (older["status"], older["reason"]) == ("rejected", "state_conflict"), older
    assert f"below its latest deployed version {land}" in older["detail"]
    newer = await world.commit(
        "root", "root", "contract.deployed", {"definition": builtin("business-license", version=2)}
    )
    assert newer["status"] == "committed", newer
    answer = json.loads((await world.ledger.nc.request(subjects.CONTRACT_LIST, b"{}", timeout=15)).data)
    while ("business-license", 2) not in {(c["contract_id"], c["version"]) for c in answer["contracts"]}:
        await asyncio.sleep(0.1)
        answer = json.loads((await world.ledger.nc.request(subjects.CONTRACT_LIST, b"{}", timeout=15)).data)
    deployed = sorted((c["contract_id"], c["version"]) for c in answer["contracts"])
    assert deployed == [("business-license", 1), ("business-license", 2), ("land-transfer", land)]


async def on_chain(world: World, event_id: str) -> dict[str, Any]:
    receipt = await world.result_on_chain(event_id)
    assert receipt["status"] == "committed", receipt
    js = world.ledger.nc.jetstream()
    async for _, raw in follow_blocks(js, receipt["height"], to_height=receipt["height"]):
        return Block.from_bytes(raw).events[receipt["position"]]
    raise AssertionError(f"block {receipt['height']} not found")


async def test_a_refused_land_transfer_is_on_chain_with_its_reason(world: World) -> None:
    await world.commit(
        "land",
        "land",
        "land.transfer_requested",
        {  # the buyer does not own P-1
            "request_id": "R-5",
            "parcel_id": "P-1",
            "from_owner": BUYER,
            "to_owner": OWNER,
            "consideration": "10.00",
            "approvers": ["tax", "housing"],
            "required": 1,
        },
    )
    refused = await world.case("land-transfer", "R-5", until={"refused", "pending"})
    assert refused["state"] == "refused" and refused["vars"]["refused_because"] == "seller_owns_parcel"
    assert [r["type"] for r in refused["results"]] == ["land.transfer_refused"]
    event = await on_chain(world, refused["results"][0]["event_id"])
    assert (event["type"], event["source"]) == ("land.transfer_refused", "contract-engine")
    assert event["data"] == {"request_id": "R-5", "parcel_id": "P-1", "reason": "seller_owns_parcel"}
    report = await audit_contracts(world.ledger.nc.jetstream())
    assert report.ok and report.mismatches == [], report


async def test_a_named_department_declines_a_land_transfer_and_it_is_refused_at_once(world: World) -> None:
    await world.commit(
        "land",
        "land",
        "land.transfer_requested",
        {
            "request_id": "R-6",
            "parcel_id": "P-1",
            "from_owner": OWNER,
            "to_owner": BUYER,
            "consideration": "5.00",
            "approvers": ["tax", "housing"],
            "required": 2,
        },
    )
    await world.commit("tax", "tax", "land.transfer_approved", {"request_id": "R-6"})
    # Neither a department it does not name nor one that already approved may decline it:
    await world.commit("market", "market", "land.transfer_declined", {"request_id": "R-6", "reason": "no"})
    await world.commit("tax", "tax", "land.transfer_declined", {"request_id": "R-6", "reason": "changed my mind"})
    assert (await world.case("land-transfer", "R-6"))["state"] == "pending"
    await world.commit(
        "housing", "housing", "land.transfer_declined", {"request_id": "R-6", "reason": "survey outdated"}
    )
    refused = await world.case("land-transfer", "R-6", until={"refused"})
    assert refused["vars"]["refused_because"] == "declined by housing: survey outdated"
    event = await on_chain(world, refused["results"][0]["event_id"])
    assert event["type"] == "land.transfer_refused"
    assert event["data"] == {"request_id": "R-6", "parcel_id": "P-1", "reason": "declined by housing: survey outdated"}
    # A decline without a reason never reaches the contract: the ledger refuses the event.
    bare = await world.commit("housing", "housing", "land.transfer_declined", {"request_id": "R-6", "reason": ""})
    assert bare["status"] == "rejected"


async def test_a_bad_contract_is_refused_at_deployment_with_a_clear_error(world: World) -> None:
    cases = {
        "unknown function": ("guards", [{"name": "g", "expr": "launch_missiles(event)"}], "unknown function"),
        "syntax error": ("guards", [{"name": "g", "expr": "event.data.x +"}], "Failed to parse"),
        "unknown name": ("guards", [{"name": "g", "expr": "os.environ == 1"}], "unknown name"),
    }
    for label, (field, value, message) in cases.items():
        definition = builtin("business-license", contract_id=f"bad-{label.replace(' ', '-')}")
        definition["transitions"][0][field] = value
        receipt = await world.commit("root", "root", "contract.deployed", {"definition": definition})
        assert (receipt["status"], receipt["reason"]) == ("rejected", "invalid_payload"), label
        assert message in receipt["detail"], (label, receipt["detail"])
    unknown_state = builtin("business-license", contract_id="bad-state", states=["issued"])
    receipt = await world.commit("root", "root", "contract.deployed", {"definition": unknown_state})
    assert receipt["status"] == "rejected" and "unknown state 'rejected'" in receipt["detail"]
    by_department = await world.commit(
        "market", "market", "contract.deployed", {"definition": builtin("business-license")}
    )
    assert by_department["reason"] == "unauthorized"


async def test_a_guard_that_errors_rejects_its_case_and_the_engine_goes_on(world: World) -> None:
    fragile = builtin("business-license", contract_id="fragile-license")
    fragile["transitions"][0]["guards"] = [{"name": "divides", "expr": "size(event.data.documents) / 0 > 1"}]
    assert (await world.commit("root", "root", "contract.deployed", {"definition": fragile}))["status"] == "committed"
    await world.apply("A-4")
    failed = await world.case("fragile-license", "A-4", until={"rejected", "issued"})
    assert failed["state"] == "rejected" and "divides (error:" in failed["history"][-1]["failed"]
    await world.apply("A-5")  # the engine is still alive and deciding
    assert (await world.case("business-license", "A-5", until={"issued"}))["state"] == "issued"


class Crash(BaseException):
    pass


async def test_an_engine_crash_between_publish_and_bookkeeping_emits_each_result_once(
    world: World, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(self: Publisher, event_id: str) -> None:
        raise Crash

    monkeypatch.setattr(Publisher, "_mark", crash)
    await world.apply("A-6")
    assert world.engine is not None
    with pytest.raises(Crash):
        await asyncio.wait_for(world.engine, 20)  # published, but not marked as published
    world.engine = None
    monkeypatch.undo()
    await world.start_engine(db_url)  # publishes the same result again
    case = await world.case("business-license", "A-6", until={"issued"})
    result = case["results"][0]["event_id"]
    await world.result_on_chain(result)
    await world.apply("A-7")  # a later block, so any second copy would have been ordered by now
    await world.case("business-license", "A-7", until={"issued"})
    js = world.ledger.nc.jetstream()
    ids = [
        e["id"]
        async for _, raw in follow_blocks(js, 0, to_height=await last_height(js))
        for e in Block.from_bytes(raw).events
    ]
    assert ids.count(result) == 1
    assert (await audit_contracts(js)).ok


async def test_the_audit_re_executes_contracts_and_catches_a_forged_result(world: World) -> None:
    await world.apply("A-8")
    issued = await world.case("business-license", "A-8", until={"issued"})
    await world.result_on_chain(issued["results"][0]["event_id"])
    js = world.ledger.nc.jetstream()
    clean = await audit_contracts(js)
    assert clean.ok and clean.checked >= 1 and clean.mismatches == []

    # Someone holding the engine's key issues a licence no contract decided.
    engine_key = world.ledger.data.signing_key("contract-engine")
    forged = make_event(
        engine_key,
        source="contract-engine",
        type="license.issued",
        data={
            "license_id": "L-FORGED",
            "business_id": "B-1",
            "kind": "casino",
            "valid_from": "2026-01-01",
            "valid_until": "2099-12-31",
        },
    )
    assert (await world.ledger.submit(forged))["status"] == "committed"  # the ledger cannot know
    report = await audit_contracts(js)
    assert not report.ok
    assert [(m["event_id"], m["kind"]) for m in report.mismatches] == [(forged.id, "forged")]


def audit_cli(world: World) -> tuple[int, dict[str, Any]]:
    """``govchain audit contracts --json``, run as an auditor would, against the test's chain."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "govchain.services.cli",
            "audit",
            "contracts",
            "--json",
            "--data",
            str(world.ledger.data.root),
            "--nats-url",
            world.ledger.nats_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout)


async def test_the_audit_command_prints_its_report_as_json(world: World) -> None:
    await world.apply("A-11")
    issued = await world.case("business-license", "A-11", until={"issued"})
    await world.result_on_chain(issued["results"][0]["event_id"])
    code, report = await asyncio.to_thread(audit_cli, world)
    assert (code, set(report)) == (0, {"ok", "checked", "mismatches"})
    assert report["ok"] is True and report["checked"] >= 1 and report["mismatches"] == []


async def test_the_audit_reports_a_result_the_engine_never_put_on_chain(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending = Publisher.pending

    def suppressing(self: Publisher) -> list[Any]:  # the engine "forgets" the decision on A-9
        # In the very rows the drain then publishes: filtering before a second read of the
        # outbox raced with the row's insertion, and A-9's result sometimes got out.
        rows = pending(self)
        for row in rows:
            if row.case_key == "A-9":
                self._mark(row.event_id)
        return [row for row in rows if row.case_key != "A-9"]

    monkeypatch.setattr(Publisher, "pending", suppressing)
    await world.apply("A-9")
    suppressed = (await world.case("business-license", "A-9", until={"issued"}))["results"][0]["event_id"]
    js = world.ledger.nc.jetstream()
    early = await audit_contracts(js)  # nothing later on chain yet: it may still be on its way
    assert early.ok and suppressed in early.not_yet_on_chain

    await world.apply("A-10")  # a later decision reaches the chain: A-9's should have come first
    later = await world.case("business-license", "A-10", until={"issued"})
    await world.result_on_chain(later["results"][0]["event_id"])
    report = await audit_contracts(js)
    assert not report.ok
    assert [(m["event_id"], m["kind"]) for m in report.mismatches] == [(suppressed, "missing")]
    code, printed = await asyncio.to_thread(audit_cli, world)
    assert code == 1 and printed["ok"] is False
    assert [(m["event_id"], m["kind"]) for m in printed["mismatches"]] == [(suppressed, "missing")]


async def test_a_deployment_that_does_not_type_check_is_refused_by_the_ledger(world: World) -> None:
    cases = {
        "guard not a bool": (["transitions", 0, "guards"], [{"name": "g", "expr": "42"}], "must be a bool"),
        "wrong arity": (["transitions", 0, "guards"], [{"name": "g", "expr": "has_role('a')"}], "takes 2 argument"),
        "unknown trigger": (["transitions", 0, "on"], "license.aplied", "unknown event type 'license.aplied'"),
    }
    for label, (path, value, message) in cases.items():
        definition = builtin("business-license", contract_id=f"bad-{label.replace(' ', '-')}")
        target: Any = definition
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
        receipt = await world.commit("root", "root", "contract.deployed", {"definition": definition})
        assert (receipt["status"], receipt["reason"]) == ("rejected", "invalid_payload"), label
        assert message in receipt["detail"], (label, receipt["detail"])


async def test_an_approval_after_the_deadline_does_not_record_the_transfer(world: World, db_url: str) -> None:
    quick = builtin("land-transfer", version=shipped_version("land-transfer") + 2)
    quick["deadlines"][0]["after_seconds"] = 1
    assert (await world.commit("root", "root", "contract.deployed", {"definition": quick}))["status"] == "committed"
    await world.stop_engine()  # no clock ticks: the late approval's own block is the first past the deadline
    await world.commit(
        "land",
        "land",
        "land.transfer_requested",
        {
            "request_id": "R-9",
            "parcel_id": "P-1",
            "from_owner": OWNER,
            "to_owner": BUYER,
            "consideration": "5.00",
            "approvers": ["tax", "housing"],
            "required": 1,
        },
    )
    await asyncio.sleep(1.5)
    await world.commit("tax", "tax", "land.transfer_approved", {"request_id": "R-9"})
    await world.start_engine(db_url)
    case = await world.case("land-transfer", "R-9", until={"expired", "recorded"})
    assert case["state"] == "expired" and [r["type"] for r in case["results"]] == ["land.transfer_expired"]
