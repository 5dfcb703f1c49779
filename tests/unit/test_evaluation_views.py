"""The portal's evaluation and sharing views, without a platform: figures formatted from a summary,
grant states by chain time, who sees a request's details, and charts cached per language."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from govchain.services.analytics.metrics import AnalyticsConfig, CaseRow, MetricsInput, summarize
from govchain.services.analytics.satisfaction import RatingRow
from govchain.services.gateway import i18n
from govchain.services.gateway.evaluation import COST_FIELDS, ChartCache, directory_names, evaluation_view
from govchain.services.gateway.sharing_pages import catalog_entry, grant_state, may_see_request
from govchain.services.registry.access import Viewer

T0 = datetime(2026, 3, 30, 9, tzinfo=UTC)


def test_the_view_formats_the_summarys_figures_once() -> None:
    cases = [
        CaseRow("business-license", "A-1", "market", T0, T0 + timedelta(hours=2), "approved"),
        CaseRow("business-license", "A-2", "market", T0, T0 + timedelta(days=3), "rejected", "documents"),  # April
        CaseRow("business-license", "A-3", "market", T0),  # open: neither rated nor costed
        CaseRow("land-transfer", "R-1", None, T0, T0 + timedelta(days=1), "approved"),
    ]
    ratings = [
        RatingRow("e1", "business-license", "A-1", "market", 5, T0 + timedelta(hours=3), has_comment=True),
        RatingRow("e2", "business-license", "A-2", "market", 2, T0 + timedelta(days=4)),
        RatingRow("e3", "business-license", "A-9", None, 1, T0 + timedelta(days=4), void_reason="unknown_case: A-9"),
    ]
    summary = summarize(MetricsInput(9, T0 + timedelta(days=5), cases, ratings=ratings), AnalyticsConfig())
    view = evaluation_view(
        summary,
        lambda name, english: english.upper(),
        directory_names([{"department_id": "market", "name": "Market Bureau"}], "(unknown)"),
    )
    licence = view["satisfaction"]["by_service_type"][0]
    assert (licence["service"], licence["ratings"], licence["decided"]) == ("BUSINESS LICENCE", 2, 2)
    assert (licence["mean_score"], licence["response_rate"], licence["distribution"]) == (
        "3.50",
        "100.0%",
        [0, 1, 0, 0, 1],
    )
    land = view["satisfaction"]["by_service_type"][1]
    assert (land["mean_score"], land["response_rate"]) == ("—", "0.0%")
    assert [(r["department_id"], r["department"]) for r in view["satisfaction"]["by_department"]] == [
        ("market", "Market Bureau"),
        ("", "(unknown)"),
    ]
    assert view["satisfaction"]["void_by_reason"] == [("unknown_case", 1)]
    assert [(p["day"], p["mean_score"]) for p in view["satisfaction"]["trend"]] == [
        ("2026-03-30", "5.00"),
        ("2026-04-03", "2.00"),
    ]
    costs = view["costs"]
    assert [(r["period"], r["cases"], r["saving"]) for r in costs["by_period"]] == [
        ("2026-03", 1, "392.00"),  # 440 − 48 by default
        ("2026-04", 1, "392.00"),
        ("2026-03", 1, "978.00"),
    ]
    assert costs["total"] == {"cases": 3, "cost_before": "2,020.00", "cost_after": "258.00", "saving": "1,762.00"}
    assert [row["field"] for row in costs["assumptions"]] == list(COST_FIELDS)
    hourly = next(row for row in costs["assumptions"] if row["field"] == "staff_hourly_cost")
    assert hourly["values"] == ["120", "150"] and "CNY" in hourly["description"]


@pytest.mark.parametrize(
    ("grant", "today", "state"),
    [
        ({"status": "granted", "expires_on": "2026-04-30"}, "2026-04-30", "granted"),  # its last day
        ({"status": "granted", "expires_on": "2026-04-30"}, "2026-05-01", "expired"),
        ({"status": "void", "expires_on": "2026-04-30"}, "2026-04-01", "void"),
    ],
)
def test_a_grant_expires_by_chain_time(grant: dict[str, str], today: str, state: str) -> None:
    assert grant_state(grant, today) == state


def test_a_requests_details_are_for_the_departments_it_names_and_auditors() -> None:
    case = {"holder": "market", "grantee": "land", "approvers": ["market", "audit"]}
    assert may_see_request(Viewer("land-clerk", "official", "land"), case)
    assert may_see_request(Viewer("audit", "department", "audit"), case)  # an approver
    assert may_see_request(Viewer("court-1", "official", "court", auditor=True), case)
    assert not may_see_request(Viewer("tax", "department", "tax"), case)
    assert not may_see_request(Viewer("c-01", "citizen", None), case)
    assert not may_see_request(Viewer(), case)


def test_a_catalog_entrys_rule_is_a_list() -> None:
    assert catalog_entry({"approvers": '["market", "audit"]', "required": 2})["approvers"] == ["market", "audit"]
    assert catalog_entry({"approvers": None, "required": None}) == {"approvers": [], "required": 1}
    assert catalog_entry({"approvers": "not json"})["approvers"] == []


def test_charts_are_cached_per_language_and_block() -> None:
    drawn: list[tuple[str, str, int]] = []

    async def scenario() -> list[bytes]:
        cache = ChartCache(ttl_s=60, entries=2)

        def draw(key: tuple[str, str, int]):  # type: ignore[no-untyped-def]
            async def run() -> bytes:
                drawn.append(key)
                return f"{key}".encode()

            return run

        keys = [("costs", "zh-CN", 5), ("costs", "en", 5), ("costs", "zh-CN", 5), ("costs", "zh-CN", 6)]
        return [await cache.get(key, draw(key)) for key in keys]

    found = asyncio.run(scenario())
    assert drawn == [("costs", "zh-CN", 5), ("costs", "en", 5), ("costs", "zh-CN", 6)]
    assert found[0] == found[2] != found[1]  # never the other language's chart


SHARING_TEMPLATES = sorted((Path(i18n.__file__).parents[1] / "templates" / "sharing").glob("*.html"))


@pytest.mark.parametrize("template", SHARING_TEMPLATES, ids=lambda p: p.name)
def test_the_sharing_templates_name_only_catalogued_messages_and_hold_no_prose(template: Path) -> None:
    """As test_portal_i18n checks the top-level templates (its glob does not reach this folder)."""
    zh, en = i18n.catalogue("zh-CN"), i18n.catalogue("en")
    text = template.read_text(encoding="utf-8")
    for key, joined in re.findall(r"""\bth?\(\s*["']([a-z_.0-9-]+)["']\s*(~?)""", text):
        if joined:
            assert any(k.startswith(key) for k in zh), f"{template.name}: {key}…"
        else:
            assert key in zh and key in en, f"{template.name}: {key}"
    for prefix in re.findall(r"""["']((?:sharing|evaluation)\.[a-z_.]+\.)["']\s*~""", text):
        assert any(k.startswith(prefix) for k in zh), f"{template.name}: {prefix}…"
    bare = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", " ", text, flags=re.S)
    bare = re.sub(r"<[^>]*>", " ", bare, flags=re.S)
    assert not set(re.findall(r"[A-Za-z\u4e00-\u9fff]{2,}", bare)), template.name
