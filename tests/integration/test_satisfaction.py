"""Satisfaction and cost savings end to end: citizens rate decided cases (signed, once, only their
own), refused ratings are listed with their reasons, and `govchain report` shows both sections."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from govchain.bus import subjects
from govchain.protocol.envelope import make_event
from govchain.services.analytics.service import run_analytics
from govchain.services.cli.report import report
from govchain.services.contract.service import run_contract_engine
from govchain.services.registry.service import run_registry

from .conftest import Ledger
from .test_analytics import BUYER, DOCS, OWNER, Scenario, Service, settled, summary


@pytest.fixture
async def scenario(ledger: Ledger, db_url: str) -> AsyncIterator[Scenario]:
    settings = ledger.settings
    contract = Service(run_contract_engine, settings.model_copy(update={"contract_tick_s": 0.3}), ledger.nats_url)
    analytics = Service(run_analytics, settings.model_copy(update={"database_url": db_url}), ledger.nats_url)
    registry = Service(run_registry, settings, ledger.nats_url)  # seals the comments
    handle = Scenario(ledger, analytics)
    try:
        for service in (contract, analytics, registry):
            await service.start()
        yield handle
    finally:
        for service in (registry, analytics, contract):
            await service.shutdown()


async def test_ratings_count_only_from_the_applicant_once_after_the_decision(
    scenario: Scenario, ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await scenario.populate()
    await scenario.apply("A-1", DOCS)  # issued
    await scenario.apply("A-2", [DOCS[0], "9" * 64])  # rejected
    await scenario.request_transfer("R-1", "P-1", ["tax"], 1)  # never approved: stays open
    await settled(ledger, {"business-license": 2, "land-transfer": 0})

    async def rate(rater: str, service_type: str, case_id: str, score: int, **extra: Any) -> dict[str, Any]:
        return await scenario.commit(
            rater, "case.rated", {"service_type": service_type, "case_id": case_id, "score": score, **extra}
        )

    sealed = await ledger.client.query(
        subjects.REGISTRY_SEAL,
        {
            "subject": OWNER,
            "record": "case.rated/business-license/A-1",
            "fields": {"comment": "快速，清楚 — fast and clear"},
        },
        as_principal=(scenario.keys[OWNER], OWNER),
    )
    await rate(OWNER, "land-transfer", "R-1", 5)  # not decided yet
    await rate(BUYER, "business-license", "A-1", 1)  # not the applicant
    await rate(OWNER, "business-license", "A-1", 4, comment=sealed["sealed"]["comment"])  # counts
    await rate(OWNER, "business-license", "A-1", 5)  # a second rating
    await rate(OWNER, "business-license", "A-2", 2)  # counts (rejected is decided)
    last = await rate(OWNER, "business-license", "A-404", 3)  # no such case
    by_department = await ledger.submit(
        make_event(
            scenario.keys["market"],
            source="market",
            type="case.rated",
            data={"service_type": "business-license", "case_id": "A-1", "score": 5},
        )
    )
    assert (by_department["status"], by_department["reason"]) == ("rejected", "unauthorized")  # citizens only

    found = await summary(ledger, last["height"])
    s = found["satisfaction"]
    licence, land = s["by_service_type"]
    assert (licence["ratings"], licence["decided"], licence["response_rate"], licence["mean_score"]) == (
        2,
        2,
        1.0,
        3.0,
    )  # (4 + 2) / 2
    assert licence["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0} and licence["comments"] == 1
    assert (land["ratings"], land["decided"], land["response_rate"]) == (0, 0, None)
    assert [(d["service_type"], d["department"], d["ratings"], d["mean_score"]) for d in s["by_department"]] == [
        ("business-license", "market", 2, 3.0)
    ]  # groups with decided cases or ratings
    assert s["void_by_reason"] == {"already_rated": 1, "not_applicant": 1, "not_decided": 1, "unknown_case": 1}
    assert [v["case_id"] for v in s["void"]] == ["R-1", "A-1", "A-1", "A-404"]
    assert sum(p["ratings"] for p in s["trend"]) == 2

    # Cost savings: the default model on the two decided licence cases, by hand (see test_costs).
    costs = found["costs"]
    assert (costs["total_cases"], costs["total_before"], costs["total_after"], costs["total_saving"]) == (
        2,
        880,
        96,
        784,
    )
    assert [(r["service_type"], r["department"], r["cases"], r["saving"]) for r in costs["by_department"]] == [
        ("business-license", "market", 2, 784)
    ]

    capsys.readouterr()
    await asyncio.to_thread(report, None, ledger.nats_url, tmp_path / "report", False)
    text = capsys.readouterr().out
    for expected in (
        "Public satisfaction",
        "not_applicant",
        "already_rated",
        "not_decided",
        "unknown_case",
        "Cost savings",
        "Assumptions of the cost model",
        "staff_hourly_cost",
        "784.00",
    ):
        assert expected in text, expected
    charts = {p.name for p in (tmp_path / "report").iterdir()}
    assert {"satisfaction.png", "satisfaction_trend.png", "costs.png"} <= charts
    await asyncio.to_thread(report, None, ledger.nats_url, tmp_path / "again", True)
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.startswith("{")]  # beside any service log lines
    as_json = json.loads(line)
    assert as_json["satisfaction"]["by_service_type"][0]["ratings"] == 2
    assert as_json["costs"]["total_saving"] == 784

    # A restart rebuilds nothing twice.
    await scenario.analytics.shutdown()
    await scenario.analytics.start()
    again = await summary(ledger, await ledger.client.head_height())
    assert again["satisfaction"] == found["satisfaction"] and again["costs"] == found["costs"]
