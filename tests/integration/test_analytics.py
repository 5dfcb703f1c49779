"""Analytics end to end on real NATS: the ledger, the contract engine and the analytics service
deciding and measuring licence applications and land transfers, a ledger refusal, the chart
API, and the `govchain report` command."""

from __future__ import annotations

import asyncio
import base64
import json
import statistics
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from govchain.bus import subjects
from govchain.bus.blocks import follow_blocks
from govchain.client import LedgerQueryError
from govchain.config import Settings
from govchain.protocol.block import Block
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.services.analytics.charts import CHARTS
from govchain.services.analytics.metrics import DEFAULT_TARGETS
from govchain.services.analytics.service import run_analytics
from govchain.services.cli.report import report
from govchain.services.contract import BUILTIN_CONTRACTS
from govchain.services.contract.service import run_contract_engine

from .conftest import Ledger

OWNER, BUYER = "c-" + "0a" * 16, "c-" + "0b" * 16
DOCS = ["1" * 64, "2" * 64]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Scenario:
    """Departments, citizens, a business, parcels and the shipped contracts on a running ledger."""

    def __init__(self, ledger: Ledger, analytics: Service) -> None:
        self.ledger = ledger
        self.analytics = analytics
        self.keys: dict[str, SigningKey] = {"root": ledger.root}

    async def commit(self, signer: str, type: str, data: dict[str, Any]) -> dict[str, Any]:
        receipt = await self.ledger.submit(make_event(self.keys[signer], source=signer, type=type, data=data))
        assert receipt["status"] == "committed", receipt
        return receipt

    async def populate(self) -> None:
        for dept in ("market", "land", "tax", "housing"):
            self.keys[dept] = await self.ledger.register_department(dept)
        for citizen in (OWNER, BUYER):
            self.keys[citizen] = SigningKey.generate()
            await self.commit(
                "market", "citizen.enrolled", {"citizen_id": citizen, "public_key": self.keys[citizen].public.hex}
            )
        await self.commit(
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
                "market", "document.registered", {"document_id": f"doc-{n}", "sha256": digest, "title": f"Document {n}"}
            )
        for parcel in ("P-1", "P-2"):
            await self.commit(
                "land",
                "land.parcel_registered",
                {
                    "parcel_id": parcel,
                    "location": f"Lot {parcel}",
                    "area_m2": "100",
                    "land_use": "residential",
                    "owner": OWNER,
                },
            )
        for name in ("business-license", "land-transfer"):
            definition = json.loads(BUILTIN_CONTRACTS[name].read_text())
            await self.commit("root", "contract.deployed", {"definition": definition})

    async def apply(self, application_id: str, documents: list[str]) -> None:
        await self.commit(
            OWNER,
            "license.applied",
            {
                "application_id": application_id,
                "applicant": OWNER,
                "business_id": "B-1",
                "kind": "food service",
                "documents": documents,
            },
        )

    async def request_transfer(self, request_id: str, parcel_id: str, approvers: list[str], required: int) -> None:
        await self.commit(
            "land",
            "land.transfer_requested",
            {
                "request_id": request_id,
                "parcel_id": parcel_id,
                "from_owner": OWNER,
                "to_owner": BUYER,
                "consideration": "900000.00",
                "approvers": approvers,
                "required": required,
            },
        )


class Service:
    """One service task beside the ledger, which a test may stop and start again."""

    def __init__(self, run: Any, settings: Settings, nats_url: str) -> None:
        self.run, self.settings, self.nats_url = run, settings, nats_url
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.stop, ready = asyncio.Event(), asyncio.Event()
        self.task = asyncio.create_task(self.run(self.settings, self.nats_url, self.stop, ready))
        await asyncio.wait_for(ready.wait(), 20)

    async def shutdown(self) -> None:
        self.stop.set()
        if self.task is not None:
            task, self.task = self.task, None
            await asyncio.wait_for(task, 20)  # a service that failed fails the test here


@pytest.fixture
async def scenario(ledger: Ledger, db_url: str) -> AsyncIterator[Scenario]:
    """The contract engine (its own SQLite store, as on one machine) and the analytics service on
    ``db_url`` running beside the ledger."""
    settings = ledger.settings
    contract = Service(run_contract_engine, settings.model_copy(update={"contract_tick_s": 0.3}), ledger.nats_url)
    analytics = Service(run_analytics, settings.model_copy(update={"database_url": db_url}), ledger.nats_url)
    handle = Scenario(ledger, analytics)
    try:
        await contract.start()
        await analytics.start()
        yield handle
    finally:
        await analytics.shutdown()
        await contract.shutdown()


async def summary(ledger: Ledger, min_height: int | None = None) -> dict[str, Any]:
    return await ledger.client.request(subjects.ANALYTICS_SUMMARY, {"min_height": min_height})


async def settled(ledger: Ledger, decided: dict[str, int]) -> dict[str, Any]:
    """The summary once the contract engine's decisions have reached the chain and the projection."""
    for _ in range(300):
        found = await summary(ledger)
        if {s["service_type"]: s["decided"] for s in found["service_types"]} == decided:
            return await summary(ledger, await ledger.client.head_height())
        await asyncio.sleep(0.1)
    raise AssertionError(f"decisions never reached analytics: {found['service_types']}")


async def block_times(ledger: Ledger, to_height: int) -> tuple[dict[tuple[str, str], datetime], list[Block]]:
    """(event type, case key) → the time of the block that carries it, read from the chain itself."""
    times: dict[tuple[str, str], datetime] = {}
    blocks = [Block.from_bytes(raw) async for _, raw in follow_blocks(ledger.nc.jetstream(), 0, to_height=to_height)]
    for block in blocks:
        for event in block.events:
            key = event["data"].get("application_id") or event["data"].get("request_id")
            if key:
                times.setdefault((event["type"], key), datetime.fromisoformat(block.header.time))
    return times, blocks


async def test_the_summary_measures_cases_refusals_and_throughput_from_the_chain(
    scenario: Scenario, ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await scenario.populate()
    await scenario.apply("A-1", DOCS)  # issued
    await scenario.apply("A-2", [DOCS[0], "9" * 64])  # rejected: a document is not registered
    await scenario.request_transfer("R-1", "P-1", ["land", "tax", "housing"], 2)
    await scenario.commit("tax", "land.transfer_approved", {"request_id": "R-1"})
    await scenario.commit("housing", "land.transfer_approved", {"request_id": "R-1"})  # 2 of 3: transferred
    await scenario.request_transfer("R-2", "P-2", ["tax"], 1)  # left waiting: open
    good = make_event(
        scenario.keys["market"],
        source="market",
        type="document.registered",
        data={"document_id": "doc-x", "sha256": "3" * 64, "title": "Tampered"},
    )
    forged = good.model_copy(update={"data": {**good.data, "title": "Altered"}})
    refused = await ledger.submit(forged)
    assert (refused["status"], refused["reason"]) == ("rejected", "bad_signature")

    found = await settled(ledger, {"business-license": 2, "land-transfer": 1})

    licence, land = found["service_types"]
    assert (licence["service_type"], licence["count"], licence["decided"], licence["open"]) == (
        "business-license",
        2,
        2,
        0,
    )
    assert licence["outcomes"] == {"approved": 1, "rejected": 1, "expired": 0}
    assert (land["service_type"], land["count"], land["decided"], land["open"]) == ("land-transfer", 2, 1, 1)
    assert land["outcomes"] == {"approved": 1, "rejected": 0, "expired": 0}
    assert [(d["service_type"], d["department"], d["count"]) for d in found["departments"]] == [
        ("business-license", "market", 2),
        ("land-transfer", "land", 2),
    ]
    assert [(r["service_type"], r["outcome"], r["reason"], r["count"]) for r in found["rejections"]] == [
        ("business-license", "rejected", "documents_registered", 1)
    ]
    assert (licence["sla_breaches"], land["sla_breaches"]) == (0, 0)
    refusals = found["refusals"]
    assert (refusals["total"], refusals["by_reason"], refusals["by_department"]) == (
        1,
        {"bad_signature": 1},
        {"market": 1},
    )

    # Processing times are block-time differences, recomputed here from the blocks themselves.
    times, blocks = await block_times(ledger, found["as_of_height"])
    took = {
        "A-1": times[("license.issued", "A-1")] - times[("license.applied", "A-1")],
        "A-2": times[("license.application_rejected", "A-2")] - times[("license.applied", "A-2")],
        "R-1": times[("land.transferred", "R-1")] - times[("land.transfer_requested", "R-1")],
    }
    seconds = {case: delta.total_seconds() for case, delta in took.items()}
    assert all(s >= 0 for s in seconds.values()), seconds
    assert licence["median_s"] == pytest.approx(statistics.median([seconds["A-1"], seconds["A-2"]]))
    assert licence["mean_s"] == pytest.approx(statistics.mean([seconds["A-1"], seconds["A-2"]]))
    fast, slow = sorted([seconds["A-1"], seconds["A-2"]])
    assert licence["p90_s"] == pytest.approx(fast + 0.9 * (slow - fast))
    assert land["median_s"] == pytest.approx(seconds["R-1"])
    baseline = DEFAULT_TARGETS["business-license"].baseline_median_s
    assert baseline is not None
    comparison = found["comparison"][0]
    assert comparison["measured_median_s"] == licence["median_s"]
    assert comparison["improvement_pct"] == pytest.approx(100 * (baseline - licence["median_s"]) / baseline)

    head = blocks[-1].header
    assert (found["as_of_height"], datetime.fromisoformat(found["as_of_time"])) == (
        head.height,
        datetime.fromisoformat(head.time),
    )
    throughput = found["throughput"]
    assert throughput["total_events"] == head.log_size == sum(len(b.events) for b in blocks)
    assert sum(throughput["by_source"].values()) == head.log_size
    assert sum(h["events"] for h in throughput["hourly"]) == head.log_size

    # The portal's charts: the same summary, drawn as PNGs.
    for name in CHARTS:
        chart = await ledger.client.request(subjects.ANALYTICS_CHART, {"name": name})
        assert chart["media_type"] == "image/png"
        assert base64.b64decode(chart["png_base64"]).startswith(PNG_MAGIC), name
    with pytest.raises(LedgerQueryError) as unknown:
        await ledger.client.request(subjects.ANALYTICS_CHART, {"name": "pie"})
    assert unknown.value.code == "unknown_chart"

    # `govchain report`: tables on stdout, the four charts in --out.
    out = tmp_path / "report"
    capsys.readouterr()
    await asyncio.to_thread(report, None, ledger.nats_url, out, False)
    text = capsys.readouterr().out
    assert "Business licence" in text and "documents_registered" in text and "bad_signature" in text
    assert f"Charts written to {out}" in text.replace("\n", "")
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.png" for name in CHARTS)
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in out.iterdir())

    await asyncio.to_thread(report, None, ledger.nats_url, tmp_path / "again", True)
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]  # beside log lines
    as_json = json.loads(line)
    assert as_json["charts"] == {name: str(tmp_path / "again" / f"{name}.png") for name in CHARTS}
    assert as_json["service_types"] == found["service_types"] and as_json["refusals"] == found["refusals"]

    # A restart resumes from the stored block height and REJECTED sequence: nothing counted twice.
    await scenario.analytics.shutdown()
    await scenario.analytics.start()
    again = await summary(ledger, await ledger.client.head_height())
    assert (again["service_types"], again["departments"], again["refusals"]) == (
        found["service_types"],
        found["departments"],
        found["refusals"],
    )
    ((_, raw),) = [
        b async for b in follow_blocks(ledger.nc.jetstream(), again["as_of_height"], to_height=again["as_of_height"])
    ]
    assert again["throughput"]["total_events"] == Block.from_bytes(raw).header.log_size
