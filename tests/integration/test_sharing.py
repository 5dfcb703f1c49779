"""Data sharing between departments on real NATS: requests decided by the data-sharing contract,
grants checked by the registry, reads recorded on chain and shown in the citizen's access log,
and every refusal with its reason."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from govchain.bus import subjects
from govchain.client import LedgerQueryError
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.services.contract import BUILTIN_CONTRACTS
from govchain.services.contract.service import run_contract_engine
from govchain.services.registry.access import Viewer
from govchain.services.registry.service import run_registry
from govchain.services.registry.sharing import read_problem

from .conftest import Ledger

OWNER = "c-" + "01" * 16
OTHER = "c-" + "02" * 16
FIELDS = ["business_id", "name", "address", "owner_details"]


class Sharing:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.keys: dict[str, SigningKey] = {"root": ledger.root}

    async def commit(self, signer: str, source: str, type: str, data: dict[str, Any]) -> dict[str, Any]:
        receipt = await self.ledger.submit(make_event(self.keys[signer], source=source, type=type, data=data))
        assert receipt["status"] == "committed", receipt
        return receipt

    async def ask(self, subject: str, params: dict[str, Any], as_: str) -> dict[str, Any]:
        head = await self.ledger.client.head_height()
        return await self.ledger.client.query(
            subject, {**params, "min_height": head}, as_principal=(self.keys[as_], as_)
        )

    async def denied(self, subject: str, params: dict[str, Any], as_: str) -> tuple[str, str]:
        with pytest.raises(LedgerQueryError) as info:
            await self.ask(subject, params, as_)
        return info.value.code, str(info.value)

    async def populate(self) -> None:
        for dept in ("market", "tax", "audit", "land"):
            self.keys[dept] = await self.ledger.register_department(dept)
        self.keys["tax-clerk"] = SigningKey.generate()
        await self.commit(
            "tax",
            "tax",
            "official.registered",
            {
                "official_id": "tax-clerk",
                "department_id": "tax",
                "name": "Tax clerk",
                "public_key": self.keys["tax-clerk"].public.hex,
                "roles": [],
            },
        )
        for citizen in (OWNER, OTHER):
            self.keys[citizen] = SigningKey.generate()
            await self.commit(
                "market",
                "market",
                "citizen.enrolled",
                {"citizen_id": citizen, "public_key": self.keys[citizen].public.hex},
            )
        sealed = await self.ask(
            subjects.REGISTRY_SEAL,
            {
                "subject": OWNER,
                "record": "business.registered/B-1",
                "fields": {"owner_details": {"legal_name": "Li Ming"}},
            },
            as_="market",
        )
        await self.commit(
            "market",
            "market",
            "business.registered",
            {
                "business_id": "B-1",
                "name": "Harbour Noodle House",
                "registration_no": "1",
                "address": "12 Harbour Rd",
                "activity": "catering",
                "owner": OWNER,
                "owner_details": sealed["sealed"]["owner_details"],
            },
        )
        await self.commit(
            "market",
            "market",
            "business.registered",
            {
                "business_id": "B-2",
                "name": "Tea House",
                "registration_no": "2",
                "address": "3 Hill Rd",
                "activity": "catering",
                "owner": OTHER,
            },
        )
        for dataset_id, rule in (
            ("businesses", {}),
            ("businesses-sensitive", {"approvers": ["market", "audit"], "required": 2}),
        ):
            await self.commit(
                "market",
                "market",
                "dataset.published",
                {
                    "dataset_id": dataset_id,
                    "title": "Registered businesses",
                    "description": "",
                    "fields": FIELDS,
                    "access": "departments",
                    "readers": ["tax"],
                    "source": "businesses",
                    **rule,
                },
            )
        definition = json.loads(BUILTIN_CONTRACTS["data-sharing"].read_text())
        await self.commit("root", "root", "contract.deployed", {"definition": definition})

    async def request(
        self, request_id: str, dataset_id: str, approvers: list[str], required: int, fields: list[str] | None = None
    ) -> None:
        await self.commit(
            "tax",
            "tax",
            "dataset.access_requested",
            {
                "request_id": request_id,
                "dataset_id": dataset_id,
                "holder": "market",
                "purpose": "tax registration checks",
                "fields": fields or ["name", "owner_details"],
                "duration_days": 30,
                "approvers": approvers,
                "required": required,
            },
        )

    async def case(self, request_id: str, final: set[str]) -> dict[str, Any]:
        for _ in range(300):
            try:
                case = await self.ledger.client.request(
                    subjects.CONTRACT_CASE,
                    {
                        "contract_id": "data-sharing",
                        "case_key": request_id,
                        "min_height": await self.ledger.client.head_height(),
                    },
                )
                if case["state"] in final:
                    for result in case["results"]:
                        await self.ledger.client.wait_receipt(result["event_id"], "contract-engine")
                    return case
            except LedgerQueryError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"case {request_id} never settled")


@pytest.fixture
async def sharing(ledger: Ledger, db_url: str) -> AsyncIterator[Sharing]:
    stops, tasks = [], []
    for run, settings in (
        (run_registry, ledger.settings.model_copy(update={"database_url": db_url})),
        (run_contract_engine, ledger.settings.model_copy(update={"contract_tick_s": 0.3})),
    ):
        stop, ready = asyncio.Event(), asyncio.Event()
        tasks.append(asyncio.create_task(run(settings, ledger.nats_url, stop, ready)))
        stops.append(stop)
        await asyncio.wait_for(ready.wait(), 20)
    handle = Sharing(ledger)
    await handle.populate()
    yield handle
    for stop in stops:
        stop.set()
    for task in tasks:
        await asyncio.wait_for(task, 20)


async def test_a_granted_read_is_checked_recorded_and_shown_to_the_citizen(sharing: Sharing) -> None:
    await sharing.request("DS-1", "businesses", ["market"], 1)
    await sharing.commit("market", "market", "dataset.access_approved", {"request_id": "DS-1"})
    case = await sharing.case("DS-1", {"granted", "refused"})
    assert case["state"] == "granted"
    assert [r["type"] for r in case["results"]] == ["dataset.access_granted"]

    grants = (await sharing.ask(subjects.REGISTRY_GRANTS, {}, as_="tax"))["grants"]
    assert [(g["request_id"], g["status"], g["grantee"], g["fields"], g["approvals"]) for g in grants] == [
        ("DS-1", "granted", "tax", ["name", "owner_details"], ["market"])
    ]
    assert grants[0]["expires_on"] == case["vars"]["expires_on"]  # 30 days after the approving block's day
    assert (await sharing.ask(subjects.REGISTRY_GRANTS, {}, as_="market"))["grants"][0]["request_id"] == "DS-1"
    assert (await sharing.ask(subjects.REGISTRY_GRANTS, {}, as_="land"))["grants"] == []

    answer = await sharing.ask(subjects.REGISTRY_DATASET_READ, {"request_id": "DS-1"}, as_="tax-clerk")
    assert answer["records"] == [
        {"name": "Harbour Noodle House", "owner_details": {"legal_name": "Li Ming"}},
        {"name": "Tea House", "owner_details": None},
    ]
    read = answer["read_event"]
    receipt = await sharing.ledger.client.receipt(read["id"], read["source"])
    assert receipt["status"] == "committed"

    # The citizen whose personal data the answer held sees the read, by whom and why; the other does not.
    log = (await sharing.ask(subjects.REGISTRY_ACCESS_LOG, {"subject": OWNER}, as_=OWNER))["entries"]
    assert [(e["reader"], e["reader_department"], e["purpose"], e["fields"]) for e in log] == [
        ("tax-clerk", "tax", "tax registration checks", ["name", "owner_details"])
    ]
    assert log[0]["record"] == "dataset/businesses (grant DS-1)"
    assert (await sharing.ask(subjects.REGISTRY_ACCESS_LOG, {"subject": OTHER}, as_=OTHER))["entries"] == []
    reads = (await sharing.ask(subjects.REGISTRY_GRANTS, {}, as_="market"))["grants"][0]["reads"]
    assert [(r["reader"], r["records"]) for r in reads] == [("tax-clerk", 2)]

    # Refused reads, each with its reason; none of them reaches the chain.
    assert (
        await sharing.denied(subjects.REGISTRY_DATASET_READ, {"request_id": "DS-1", "fields": ["address"]}, as_="tax")
    )[0] == "out_of_scope"
    assert (await sharing.denied(subjects.REGISTRY_DATASET_READ, {"request_id": "DS-1"}, as_="land"))[0] == "forbidden"
    assert (await sharing.denied(subjects.REGISTRY_DATASET_READ, {"request_id": "DS-1"}, as_=OWNER))[0] == "forbidden"
    assert (await sharing.denied(subjects.REGISTRY_DATASET_READ, {"request_id": "DS-404"}, as_="tax"))[0] == "no_grant"


async def test_refusals_by_the_contract_and_by_the_registry(sharing: Sharing) -> None:
    await sharing.request("DS-2", "businesses", ["tax"], 1)  # the holder is not an approver
    await sharing.request("DS-3", "businesses-sensitive", ["market"], 1)  # weaker than the set's 2 of 2
    await sharing.request("DS-4", "businesses-sensitive", ["market", "audit"], 2)  # declined by audit
    await sharing.request("DS-5", "businesses-sensitive", ["market", "audit"], 2)  # 2 of 2: granted
    await sharing.commit("market", "market", "dataset.access_approved", {"request_id": "DS-3"})
    await sharing.commit("market", "market", "dataset.access_approved", {"request_id": "DS-4"})
    await sharing.commit("audit", "audit", "dataset.access_declined", {"request_id": "DS-4", "reason": "too broad"})
    await sharing.commit("market", "market", "dataset.access_approved", {"request_id": "DS-5"})
    assert (await sharing.case("DS-5", {"pending", "granted"}))["state"] == "pending"  # 1 of 2 so far
    await sharing.commit("audit", "audit", "dataset.access_approved", {"request_id": "DS-5"})

    refused = await sharing.case("DS-2", {"refused"})
    assert [r["type"] for r in refused["results"]] == ["dataset.access_refused"]
    assert refused["vars"]["refused_because"] == "holder_among_approvers"
    declined = await sharing.case("DS-4", {"refused"})
    assert [r["type"] for r in declined["results"]] == ["dataset.access_refused"]
    assert declined["vars"]["refused_because"] == "declined by audit: too broad"
    assert (await sharing.case("DS-3", {"granted"}))["state"] == "granted"
    assert (await sharing.case("DS-5", {"granted"}))["state"] == "granted"

    for _ in range(100):
        grants = {g["request_id"]: g for g in (await sharing.ask(subjects.REGISTRY_GRANTS, {}, as_="tax"))["grants"]}
        if {"DS-3", "DS-5"} <= set(grants):
            break
        await asyncio.sleep(0.1)
    assert grants["DS-5"]["status"] == "granted" and grants["DS-5"]["approvals"] == ["market", "audit"]
    assert grants["DS-3"]["status"] == "void"
    assert grants["DS-3"]["void_reason"] == (
        "approval_rule: data set businesses-sensitive needs 2 of market, audit; approved by market"
    )
    code, message = await sharing.denied(subjects.REGISTRY_DATASET_READ, {"request_id": "DS-3"}, as_="tax")
    assert code == "grant_void" and "approval_rule" in message
    assert len((await sharing.ask(subjects.REGISTRY_DATASET_READ, {"request_id": "DS-5"}, as_="tax"))["records"]) == 2


def test_a_read_after_the_grant_expired_is_refused() -> None:
    """Expiry is judged by the newest block's UTC day (chain time), inclusive of expires_on."""
    grant = {
        "request_id": "DS-1",
        "grantee": "tax",
        "status": "granted",
        "void_reason": None,
        "expires_on": "2026-03-31",
        "fields": ["name"],
    }
    tax = Viewer("tax", "department", "tax")
    assert read_problem(grant, tax, ["name"], "2026-03-31") is None
    expired = read_problem(grant, tax, ["name"], "2026-04-01")
    assert expired is not None and expired.code == "grant_expired"

    def code(*args: Any) -> str | None:
        return getattr(read_problem(*args), "code", None)

    assert code(grant, tax, ["name", "address"], "2026-03-01") == "out_of_scope"
    assert code(grant, Viewer("land", "department", "land"), ["name"], "2026-03-01") == "forbidden"
    assert code(None, tax, ["name"], "2026-03-01") == "no_grant"
    assert code({**grant, "status": "void", "void_reason": "x"}, tax, ["name"], "2026-03-01") == "grant_void"


def test_a_grant_inconsistent_with_the_catalog_is_void_with_its_reason() -> None:
    from types import SimpleNamespace

    from govchain.protocol.sharing import DatasetAccessGranted
    from govchain.services.registry.projection import grant_problem

    grant = DatasetAccessGranted(
        request_id="DS-1",
        dataset_id="d",
        holder="market",
        grantee="tax",
        purpose="checks",
        fields=["name"],
        approvals=["market"],
        expires_on="2026-04-01",
    )
    dataset = SimpleNamespace(
        department="market", fields=json.dumps(["name", "address"]), approvers=None, required=None
    )
    assert grant_problem(dataset, grant) is None  # by default the holder alone approves
    assert str(grant_problem(None, grant)).startswith("no_dataset:")
    assert str(grant_problem(SimpleNamespace(**{**vars(dataset), "department": "land"}), grant)).startswith(
        "not_holder:"
    )
    wider = grant.model_copy(update={"fields": ["name", "phone"]})
    assert grant_problem(dataset, wider) == "unknown_fields: data set d has no field(s) phone"
    two_of_three = SimpleNamespace(
        **{**vars(dataset), "approvers": json.dumps(["market", "audit", "land"]), "required": 2}
    )
    assert str(grant_problem(two_of_three, grant)).startswith("approval_rule: data set d needs 2 of")
    assert grant_problem(two_of_three, grant.model_copy(update={"approvals": ["land", "market"]})) is None
    assert grant_problem(two_of_three, grant.model_copy(update={"approvals": ["tax", "market"]})) is not None


async def test_the_sharing_commands(sharing: Sharing, tmp_path: Path) -> None:
    """`govchain sharing request|approve|refuse|grants|read` against the running services."""
    from typer.testing import CliRunner

    from govchain.services.cli.sharing import sharing_app  # not the app: its callback re-configures logging

    for name in ("tax", "market", "tax-clerk"):
        sharing.keys[name].save(tmp_path / f"{name}.pem")
    url = sharing.ledger.nats_url

    def cli(*args: str) -> Any:
        return CliRunner().invoke(sharing_app, [*args, "--nats-url", url, "--json"])

    async def run(*args: str) -> Any:
        return await asyncio.to_thread(cli, *args)

    made = await run(
        "request",
        "businesses",
        "--holder",
        "market",
        "--purpose",
        "tax registration checks",
        "-f",
        "name",
        "--days",
        "7",
        "--id",
        "DS-CLI",
        "--key",
        str(tmp_path / "tax.pem"),
        "--department",
        "tax",
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout.splitlines()[-1])["request_id"] == "DS-CLI"
    approved = await run("approve", "DS-CLI", "--key", str(tmp_path / "market.pem"), "--department", "market")
    assert approved.exit_code == 0, approved.output
    assert (await sharing.case("DS-CLI", {"granted", "refused"}))["state"] == "granted"
    await run(
        "request",
        "businesses",
        "--holder",
        "market",
        "--purpose",
        "everything",
        "-f",
        "address",
        "--id",
        "DS-NO",
        "--key",
        str(tmp_path / "tax.pem"),
        "--department",
        "tax",
    )
    refused = await run(
        "refuse", "DS-NO", "--reason", "not needed", "--key", str(tmp_path / "market.pem"), "--department", "market"
    )
    assert refused.exit_code == 0, refused.output
    assert (await sharing.case("DS-NO", {"refused"}))["vars"]["refused_because"] == "declined by market: not needed"

    def last_json(result: Any) -> Any:
        return json.loads([line for line in result.stdout.splitlines() if line.startswith("{")][-1])

    for _ in range(100):
        listed = await run("grants", "--as", str(tmp_path / "tax.pem"), "--principal", "tax")
        if last_json(listed)["grants"]:
            break
        await asyncio.sleep(0.1)
    assert [g["request_id"] for g in last_json(listed)["grants"]] == ["DS-CLI"]
    read = await run("read", "DS-CLI", "--as", str(tmp_path / "tax-clerk.pem"), "--principal", "tax-clerk")
    assert read.exit_code == 0, read.output
    assert [r["name"] for r in last_json(read)["records"]] == ["Harbour Noodle House", "Tea House"]
    beyond = await run(
        "read", "DS-CLI", "-f", "address", "--as", str(tmp_path / "tax-clerk.pem"), "--principal", "tax-clerk"
    )
    assert beyond.exit_code == 2 and last_json(beyond)["code"] == "out_of_scope"
