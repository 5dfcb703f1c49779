"""The portal's evaluation and data-sharing pages on a real platform: the figures they show
against hand-computed expectations, charts in the page's language, and who sees which grants.

A demo platform of its own (the shared one stays as other tests expect it), with a cost model
changed by configuration, to which this module adds a second licence case, ratings, a public
data set and a pending data-sharing request over the HTTP API. Expectations, by hand:

- business licence: ratings 5 (the demo's, with a sealed comment) and 4 (APP-0002): 2 counted
  ratings of 2 decided cases, mean 4.50, response 100.0 %; one void (the buyer's, not_applicant)
  and one for APP-0404 (unknown_case);
- land transfer: the seller's (the buyer of the demo's parcel) 2: 1 of 1, mean 2.00;
- cost model: business licence with ``staff_hourly_cost`` 90 and ``platform_cost_per_case`` 5
  (configured; the rest default): a step costs 20/60 × 90 = 30 CNY; by hand 6 × 30 + 15 + 25 +
  2 × 80 = 380, on the platform 1 × 30 + 5 = 35, saving 345; land transfer by default 1,140 /
  162 / 978. Decided: 2 licences (760 / 70 / 690) and 1 transfer: 3 cases, 1,900 / 232 / 1,668.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from govchain.datadir import DataDir
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.pseudonym import pseudonym
from govchain.services.analytics import fonts
from govchain.services.cli.demo import DEMO_BUYER_NATIONAL_ID, DEMO_NATIONAL_ID
from govchain.services.gateway import evaluation, i18n, sharing_pages

from ._browser import CHROMIUM, DESKTOP, PHONE, Requests, looks_like_tofu, new_context, uncovered_characters
from ._signin import sign_in
from .conftest import Platform, demo_platform

PNG = b"\x89PNG\r\n\x1a\n"
MARKET, LAND = "market-regulator", "land-bureau"
EVALUATION_CHARTS = evaluation.SATISFACTION_CHARTS + evaluation.COST_CHARTS
COSTS = {"costs": {"business-license": {"staff_hourly_cost": 90, "platform_cost_per_case": 5}}}


# -- a platform of this module's own, with ratings, cases and shared data added


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """``govchain demo --keep`` with the cost model above, stopped with Ctrl-C at the end."""
    folder = tmp_path_factory.mktemp("evaluation")
    config = folder / "analytics.json"
    config.write_text(json.dumps(COSTS))
    settings = {
        "GOVCHAIN_GATEWAY_RATE_LIMIT": "600/minute",
        "GOVCHAIN_GATEWAY_SUBMIT_RATE_LIMIT": "600/minute",
        "GOVCHAIN_GATEWAY_PRIVATE_RATE_LIMIT": "600/minute",
        "GOVCHAIN_ANALYTICS_CONFIG": str(config),
    }
    data = folder / "node"
    with demo_platform(data, settings) as summary:
        assert summary["ok"], summary
        handle = Platform(data, summary["portal_url"], summary["nats_url"], summary)
        _add_evaluation_data(handle)
        yield handle


def _client(platform: Platform, address: str = "100.70.0.1", **headers: str) -> httpx.Client:
    return httpx.Client(base_url=platform.url, timeout=60, headers={"X-Forwarded-For": address, **headers})


def _publish(api: httpx.Client, key: SigningKey, source: str, type: str, data: dict[str, Any]) -> dict[str, Any]:
    answer = api.post("/api/v1/events", json=make_event(key, source=source, type=type, data=data).to_dict())
    assert answer.status_code == 201 and answer.json()["status"] == "committed", answer.text
    return dict(answer.json())


def _wait_for(what: str, check: Any, timeout_s: float = 60) -> Any:
    """Poll ``check`` until it returns something truthy (the services follow the chain a moment later)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout_s} s")
        time.sleep(0.2)


def _add_evaluation_data(platform: Platform) -> None:
    data = DataDir(platform.data)
    citizen, buyer = (
        pseudonym(n, data.pseudonym_key(), suite=data.crypto_suite())
        for n in (DEMO_NATIONAL_ID, DEMO_BUYER_NATIONAL_ID)
    )
    citizen_key, buyer_key = SigningKey.load(data.key_file("citizen")), SigningKey.load(data.key_file("buyer"))
    documents = [hashlib.sha256(f"{MARKET} document {n}".encode()).hexdigest() for n in (0, 1)]
    with _client(platform, "100.70.0.2") as api:
        _publish(
            api,
            citizen_key,
            citizen,
            "license.applied",
            {
                "application_id": "APP-0002",
                "applicant": citizen,
                "business_id": "B-0001",
                "kind": "food service",
                "documents": documents,
            },
        )
        as_citizen = sign_in(api, citizen, citizen_key)

        def issued() -> dict[str, Any] | None:
            case = api.get("/api/v1/applications/business-license/APP-0002", headers=as_citizen).json()
            return case if case.get("state") == "issued" else None

        case = _wait_for("licence APP-0002 issued", issued)
        for result in case["results"]:  # the case moves before the licence it emits is on chain
            _wait_for(
                f"{result['type']} on chain",
                lambda r=result: api.get(f"/api/v1/events/contract-engine/{r['event_id']}").status_code == 200,
            )
        rate = {"service_type": "business-license", "case_id": "APP-0002", "score": 4}
        _publish(api, citizen_key, citizen, "case.rated", rate)
        _publish(api, citizen_key, citizen, "case.rated", {**rate, "case_id": "APP-0404", "score": 3})
        _publish(
            api, buyer_key, buyer, "case.rated", {"service_type": "land-transfer", "case_id": "REQ-0001", "score": 2}
        )
        land = data.signing_key(LAND)
        _publish(
            api,
            land,
            LAND,
            "dataset.published",
            {
                "dataset_id": "land-use-stats",
                "title": "Land use statistics",
                "description": "Parcels by land use, for everyone",
                "fields": ["parcel_id", "land_use"],
                "access": "public",
            },
        )
        _publish(
            api,
            land,
            LAND,
            "dataset.access_requested",
            {
                "request_id": "DS-0002",
                "dataset_id": "registered-businesses",
                "holder": MARKET,
                "purpose": "check the owners of parcels near the harbour",
                "fields": ["name"],
                "duration_days": 10,
                "approvers": [MARKET],
                "required": 1,
            },
        )
        _wait_for(
            "request DS-0002 pending",
            lambda: api.get("/api/v1/applications/data-sharing/DS-0002").json().get("state") == "pending",
        )
        seen: list[dict[str, int]] = []
        expected = {"business-license": 2, "land-transfer": 1}
        try:
            _wait_for("the ratings on the analytics page", lambda: seen.append(_rated(api)) or seen[-1] == expected)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the page showed {seen[-1:]}") from None


def _rated(api: httpx.Client) -> dict[str, int]:
    rows = tables(api.get("/analytics", params={"lang": "en"}).text).get("satisfaction-services", [])
    return {row["@service"]: int(row["ratings"]) for row in rows}


# -- reading the pages' tables


class _Tables(HTMLParser):
    """Every ``<table id=…>``: its rows as ``{data-field: text}``, with ``@attr`` for the row's
    ``data-*`` attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[dict[str, str]]] = {}
        self._table: str | None = None
        self._row: dict[str, str] | None = None
        self._field: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and found.get("id"):
            self._table = found["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = {f"@{k[5:]}": v or "" for k, v in found.items() if k.startswith("data-")}
        elif tag == "td" and self._row is not None and found.get("data-field"):
            self._field, self._text = found["data-field"], []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._field is not None and self._row is not None:
            text = re.sub(r"\s+", " ", "".join(self._text)).strip()
            key = self._field
            if key in self._row:  # repeated fields (one per column): value, value#2, …
                key = f"{key}#{sum(k.split('#')[0] == key for k in self._row) + 1}"
            self._row[key] = text
            self._field = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            if any(not k.startswith("@") for k in self._row):
                self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._field is not None:
            self._text.append(data)


def tables(html: str) -> dict[str, list[dict[str, str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def _by(rows: list[dict[str, str]], *keys: str) -> dict[tuple[str, ...], dict[str, str]]:
    return {tuple(row[f"@{k}"] for k in keys): row for row in rows}


def _head_time(api: httpx.Client) -> str:
    return str(api.get("/api/v1/chain/head").json()["header"]["time"])


# -- the figures


@pytest.fixture(scope="module")
def analytics_en(platform: Platform) -> dict[str, list[dict[str, str]]]:
    with _client(platform, "100.70.0.3") as api:
        page = api.get("/analytics", params={"lang": "en"})
        assert page.status_code == 200 and '<html lang="en">' in page.text
        return tables(page.text)


def test_satisfaction_per_service_and_department(analytics_en: dict[str, list[dict[str, str]]]) -> None:
    services = _by(analytics_en["satisfaction-services"], "service")
    licence, land = services[("business-license",)], services[("land-transfer",)]
    assert (licence["service"], licence["ratings"], licence["decided"]) == ("Business licence", "2", "2")
    assert (licence["response_rate"], licence["mean_score"], licence["comments"]) == ("100.0%", "4.50", "1")
    assert [licence[f"score_{n}"] for n in range(1, 6)] == ["0", "0", "0", "1", "1"]
    assert (land["ratings"], land["decided"], land["response_rate"], land["mean_score"]) == ("1", "1", "100.0%", "2.00")
    assert [land[f"score_{n}"] for n in range(1, 6)] == ["0", "1", "0", "0", "0"]

    departments = _by(analytics_en["satisfaction-departments"], "service", "department")
    assert set(departments) == {("business-license", MARKET), ("land-transfer", LAND)}
    by_market = departments[("business-license", MARKET)]
    assert (by_market["department"], by_market["ratings"], by_market["mean_score"]) == (
        "Market Regulation Bureau",  # the directory's name, not the id
        "2",
        "4.50",
    )
    assert departments[("land-transfer", LAND)]["mean_score"] == "2.00"

    void = {row["@reason"]: row["count"] for row in analytics_en["satisfaction-void"]}
    assert void == {"not_applicant": "1", "unknown_case": "1"}


def test_satisfaction_trend_over_block_time(platform: Platform, analytics_en: dict[str, list[dict[str, str]]]) -> None:
    trend = analytics_en["satisfaction-trend"]
    with _client(platform, "100.70.0.4") as api:
        today = _head_time(api)[:10]
    assert {row["@day"] for row in trend} <= {today, _previous_day(today)}  # rated minutes ago, by block time
    for service, ratings, mean in (("business-license", 2, 4.5), ("land-transfer", 1, 2.0)):
        rows = [row for row in trend if row["@service"] == service]
        assert sum(int(r["ratings"]) for r in rows) == ratings
        weighted = sum(int(r["ratings"]) * float(r["mean_score"]) for r in rows) / ratings
        assert weighted == pytest.approx(mean, abs=0.01)


def _previous_day(day: str) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def test_costs_per_case_period_and_department_follow_the_configured_model(
    platform: Platform, analytics_en: dict[str, list[dict[str, str]]]
) -> None:
    per_case = _by(analytics_en["costs-per-case"], "service")
    assert [per_case[("business-license",)][k] for k in ("cost_before", "cost_after", "saving")] == [
        "380.00",
        "35.00",
        "345.00",
    ]
    assert [per_case[("land-transfer",)][k] for k in ("cost_before", "cost_after", "saving")] == [
        "1,140.00",
        "162.00",
        "978.00",
    ]
    departments = _by(analytics_en["costs-departments"], "service", "department")
    assert [departments[("business-license", MARKET)][k] for k in ("cases", "cost_before", "cost_after", "saving")] == [
        "2",
        "760.00",
        "70.00",
        "690.00",
    ]
    assert departments[("land-transfer", LAND)]["saving"] == "978.00"
    with _client(platform, "100.70.0.5") as api:
        month = _head_time(api)[:7]
        page = api.get("/analytics", params={"lang": "en"}).text
    periods = analytics_en["costs-periods"]
    assert {row["@period"] for row in periods} <= {month, _previous_month(month)}
    assert sum(int(row["cases"]) for row in periods) == 3
    total = re.search(r'<p id="costs-total" data-cases="(\d+)" data-saving="([\d,.]+)">([^<]*)</p>', page)
    assert total is not None and total.group(1, 2) == ("3", "1,668.00")
    assert "1,900.00" in total.group(3) and "232.00" in total.group(3)


def _previous_month(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year - (number == 1)}-{12 if number == 1 else number - 1:02d}"


def test_the_cost_models_assumptions_are_printed_as_the_analytics_service_applies_them(
    analytics_en: dict[str, list[dict[str, str]]],
) -> None:
    rows = {row["@assumption"]: (row["value"], row["value#2"]) for row in analytics_en["costs-assumptions"]}
    assert list(rows) == list(evaluation.COST_FIELDS)  # every field of the model, in its order
    assert rows["staff_hourly_cost"] == ("90", "150")  # configured for licences; the default for land
    assert rows["platform_cost_per_case"] == ("5", "12")
    assert rows["manual_steps_before"] == ("6", "10") and rows["visits_avoided"] == ("2", "3")


def test_the_chinese_page_shows_the_same_figures_in_chinese(platform: Platform) -> None:
    with _client(platform, "100.70.0.6") as api:
        page = api.get("/analytics", params={"lang": "zh-CN"})
    assert '<html lang="zh-CN">' in page.text
    zh = i18n.catalogue("zh-CN")
    for key in ("evaluation.satisfaction.heading", "evaluation.costs.heading", "evaluation.costs.assumptions"):
        assert zh[key] in page.text
    found = tables(page.text)
    services = _by(found["satisfaction-services"], "service")
    assert services[("business-license",)]["service"] == "营业执照"
    assert services[("business-license",)]["mean_score"] == "4.50"
    assert _by(found["costs-per-case"], "service")[("business-license",)]["saving"] == "345.00"
    assert '/charts/costs.png?lang=zh-CN"' in page.text and "/charts/costs.png?lang=en" not in page.text


def test_charts_are_drawn_in_the_language_the_url_names(platform: Platform) -> None:
    with _client(platform, "100.70.0.7") as api:
        for name in EVALUATION_CHARTS:
            drawn = {}
            for language in ("zh-CN", "en"):
                answer = api.get(f"/charts/{name}.png", params={"lang": language})
                assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
                assert answer.headers["content-language"] == language and "vary" not in answer.headers
                assert answer.content[:8] == PNG and len(answer.content) > 5_000
                drawn[language] = answer.content
            if fonts.cjk_family() is not None:  # without a CJK font both are drawn in English
                assert drawn["zh-CN"] != drawn["en"], name
            again = api.get(f"/charts/{name}.png", params={"lang": "en"}).content
            assert again == drawn["en"]  # the same block, the same language: the same chart
        # Without ?lang the asker's language, and the answer says it varies by it.
        asked = api.get("/charts/costs.png", headers={"Accept-Language": "en"})
        assert asked.headers["content-language"] == "en" and "Accept-Language" in asked.headers["vary"]
        assert api.get("/charts/nothing.png").status_code == 404


# -- data sharing


def test_the_catalog_shows_each_viewer_what_the_registry_allows(platform: Platform) -> None:
    data = DataDir(platform.data)
    with _client(platform, "100.70.0.8") as api:
        public = api.get("/sharing", params={"lang": "en"})
        assert public.status_code == 200
        assert [row["@dataset"] for row in tables(public.text)["catalog"]] == ["land-use-stats"]
        assert 'id="sign-in-note"' in public.text
        registrar = sign_in(api, "land-registrar", SigningKey.load(data.key_file("land-registrar")))
        inside = api.get("/sharing", params={"lang": "en"}, headers=registrar)
        rows = _by(tables(inside.text)["catalog"], "dataset")
        assert set(rows) == {("land-use-stats",), ("registered-businesses",)}
        shared = rows[("registered-businesses",)]
        assert shared["holder"] == MARKET and shared["fields"] == "business_id, name, address, owner_details"
        assert shared["access"] == f"named departments: {LAND}" and shared["rule"] == "the holding department"
        assert shared["register"] == "the business register"
        assert 'id="sign-in-note"' not in inside.text


def test_grants_with_expiry_status_and_reads_to_the_parties_only(platform: Platform) -> None:
    data = DataDir(platform.data)
    with _client(platform, "100.70.0.9") as api:
        public = api.get("/sharing/grants", params={"lang": "en"})
        assert public.status_code == 200 and 'data-reason="unauthenticated"' in public.text
        assert "grants" not in tables(public.text)
        citizen = pseudonym(DEMO_NATIONAL_ID, data.pseudonym_key(), suite=data.crypto_suite())
        as_citizen = sign_in(api, citizen, SigningKey.load(data.key_file("citizen")))
        refused = api.get("/sharing/grants", params={"lang": "en"}, headers=as_citizen)
        assert refused.status_code == 200 and 'data-reason="forbidden"' in refused.text

        registrar = sign_in(api, "land-registrar", SigningKey.load(data.key_file("land-registrar")))
        page = api.get("/sharing/grants", params={"lang": "en"}, headers=registrar)
        found = tables(page.text)
        (grant,) = found["grants"]  # DS-0002 is still a request, not a grant
        today = re.search(r'id="chain-day" data-day="([\d-]+)"', page.text)
        assert today is not None
        from datetime import date, timedelta

        granted_on = date.fromisoformat(grant["expires_on"]) - timedelta(days=30)  # asked for 30 days
        assert granted_on in (date.fromisoformat(today.group(1)), date.fromisoformat(today.group(1)) - timedelta(1))
        assert (grant["@request"], grant["@state"], grant["status"]) == ("DS-0001", "granted", "granted")
        assert (grant["holder"], grant["grantee"], grant["approvals"]) == (MARKET, LAND, MARKET)
        assert grant["fields"] == "name, owner_details" and grant["reads"] == "1"
        (read,) = found["reads"]
        assert (read["@request"], read["reader"], read["fields"]) == (
            "DS-0001",
            f"land-registrar ({LAND})",
            grant["fields"],
        )
        assert int(read["records"]) >= 1

        holder = sign_in(api, MARKET, data.signing_key(MARKET))  # the holding department sees it too
        assert [g["@request"] for g in tables(api.get("/sharing/grants", headers=holder).text)["grants"]] == ["DS-0001"]


def test_a_requests_state_is_public_its_details_are_the_parties(platform: Platform) -> None:
    data = DataDir(platform.data)
    with _client(platform, "100.70.0.10") as api:
        public = api.get("/sharing/requests/DS-0002", params={"lang": "en"})
        assert public.status_code == 200
        shown = {k: v for row in tables(public.text)["request"] for k, v in row.items()}
        assert set(shown) == {"state", "entered_at"} and shown["state"] == "awaiting approval"
        assert 'id="details-hidden"' in public.text and "harbour" not in public.text
        registrar = sign_in(api, "land-registrar", SigningKey.load(data.key_file("land-registrar")))
        inside = api.get("/sharing/requests/DS-0002", params={"lang": "en"}, headers=registrar)
        details = {k: v for row in tables(inside.text)["request"] for k, v in row.items()}
        assert details["purpose"] == "check the owners of parcels near the harbour"
        assert (details["holder"], details["grantee"], details["duration"]) == (MARKET, LAND, "10 days")
        assert details["rule"] == f"1 of {MARKET}" and details["approvals"] == ""
        granted = api.get("/sharing/requests/DS-0001", params={"lang": "en"}, headers=registrar)
        assert "dataset.access_granted" in granted.text
        lookup = api.get("/sharing/request", params={"id": "DS-0002"}, follow_redirects=False)
        assert lookup.status_code == 303 and lookup.headers["location"] == "/sharing/requests/DS-0002"
        assert api.get("/sharing/requests/DS-9999").status_code == 404


def test_hostile_input_on_the_new_routes_is_refused_below_500(platform: Platform) -> None:
    values = ["bad%20id!", "x" * 300, "%00", "%FF%FE", "..%2F..%2Fetc", "%F0%9F%98%80", "a%0D%0Ab", "-1"]
    queries = ["%", "\x00", "x" * 10_000, "数据", "", "[]", "\r\n", "fr", "zh-TW"]
    auths = [None, "Bearer x.y", "Basic abc", "Bearer " + "a" * 5000, "Bearer"]
    n = 0
    with httpx.Client(base_url=platform.url, timeout=60) as api:
        for route in sharing_pages.router.routes:
            path: str = route.path  # type: ignore[attr-defined]
            for value in values:
                for query in queries[:3]:
                    n += 1
                    url = path.replace("{request_id}", value)
                    answer = api.get(
                        url,
                        params={"id": query, "lang": query},
                        headers={"X-Forwarded-For": f"10.9.{n // 250}.{n % 250}"},
                    )
                    assert answer.status_code < 500, (url, query, answer.status_code, answer.text[:200])
            for auth in auths:
                n += 1
                headers = {"X-Forwarded-For": f"10.9.{n // 250}.{n % 250}", **({"Authorization": auth} if auth else {})}
                answer = api.get(path.replace("{request_id}", "DS-0001"), params={"id": "DS-0001"}, headers=headers)
                assert answer.status_code < 500, (path, auth[:20] if auth else None, answer.status_code)
        for query in queries:
            n += 1
            answer = api.get(
                "/charts/costs.png", params={"lang": query}, headers={"X-Forwarded-For": f"10.9.{n // 250}.{n % 250}"}
            )
            assert answer.status_code < 500 and (answer.status_code != 200 or answer.content[:8] == PNG)


# -- in a real browser


playwright_api = pytest.importorskip("playwright.sync_api")
browser_only = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


def _charts_of(page: Any, folder: dict[str, bytes]) -> None:
    """Every chart PNG the page loads, by URL."""

    def keep(response: Any) -> None:
        if "/charts/" in response.url and response.status == 200:
            folder[response.url] = response.body()

    page.on("response", keep)


def _assert_no_tofu(page: Any, where: str) -> None:
    """Every character on screen has a glyph in the font drawing it, the heading, menu and a
    table header do not render as boxes, and nothing is wider than the screen."""
    missing, families = uncovered_characters(page)
    assert not missing, f"{where}: drawn as boxes: {sorted(missing)} (fonts used: {sorted(families)})"
    for selector in ("h1", "nav", "main table th"):
        if page.locator(selector).count():
            assert not looks_like_tofu(page, selector), f"{where}: {selector} renders as boxes"
    width = page.viewport_size["width"]
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width, f"{where}: wider than the screen"


@browser_only
def test_the_analytics_page_in_both_languages_with_its_charts(browser: Any, platform: Platform, tmp_path: Path) -> None:
    pil = pytest.importorskip("PIL.Image")
    loaded: dict[str, dict[str, bytes]] = {}
    for language, locale in (("zh-CN", "zh-CN"), ("en", "en-US")):
        requests = Requests()
        context = new_context(browser, platform.url, locale=locale, requests=requests)
        page = context.new_page()
        charts: dict[str, bytes] = {}
        _charts_of(page, charts)
        page.goto("/analytics")
        assert page.locator("html").get_attribute("lang") == language
        assert page.locator("h2").first.inner_text() == i18n.catalogue(language)["evaluation.satisfaction.heading"]
        images = page.locator(".charts-evaluation img")
        assert images.count() == len(EVALUATION_CHARTS)
        for index in range(images.count()):
            image = images.nth(index)
            image.scroll_into_view_if_needed()
            page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
            assert page.evaluate("(img) => img.naturalWidth", image.element_handle()) == 800
            assert f"lang={language}" in (image.get_attribute("src") or "")
        page.wait_for_load_state("networkidle")
        loaded[language] = {re.sub(r"^.*/charts/([a-z_]+)\.png.*$", r"\1", u): b for u, b in charts.items()}
        assert set(EVALUATION_CHARTS) <= set(loaded[language])
        for name in EVALUATION_CHARTS:
            png = loaded[language][name]
            assert png[:8] == PNG and len(png) > 5_000
            assert pil.open(io.BytesIO(png)).size[0] == 800
        assert requests.urls and not requests.elsewhere(platform.url), requests.elsewhere(platform.url)
        page.locator("#satisfaction").scroll_into_view_if_needed()
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            _assert_no_tofu(page, f"/analytics {language} {label}")
            shot = page.screenshot(full_page=True)
            (tmp_path / f"analytics-{language}-{label}.png").write_bytes(shot)
            colours = pil.open(io.BytesIO(shot)).convert("RGB").getcolors(maxcolors=1 << 20) or []
            assert len(colours) > 50, "the page rendered blank"
        context.close()
    if fonts.cjk_family() is not None:
        for name in EVALUATION_CHARTS:
            assert loaded["zh-CN"][name] != loaded["en"][name], f"{name} is the same in both languages"


@browser_only
def test_the_sharing_pages_in_a_browser(browser: Any, platform: Platform) -> None:
    data = DataDir(platform.data)
    with _client(platform, "100.70.0.11") as api:
        registrar = sign_in(api, "land-registrar", SigningKey.load(data.key_file("land-registrar")))
    for language, locale in (("zh-CN", "zh-CN"), ("en", "en-US")):
        requests = Requests()
        context = new_context(browser, platform.url, locale=locale, requests=requests)
        page = context.new_page()
        page.goto("/")
        page.locator('nav a[href="/sharing"]').click()
        page.wait_for_url("**/sharing")
        assert page.locator("h1").inner_text() == i18n.catalogue(language)["sharing.heading"]
        assert page.locator("#catalog tbody tr").count() == 1  # the public data set alone
        page.locator(".sharing-tabs a[href='/sharing/grants']").click()
        page.wait_for_url("**/sharing/grants")
        assert page.locator("#grants-refused").count() == 1
        page.fill("input[name=id]", "DS-0002")
        page.locator("form.search button").click()
        page.wait_for_url("**/sharing/requests/DS-0002")
        state = page.locator("#request [data-field=state]").inner_text()
        assert state == i18n.catalogue(language)["sharing.state.pending"]
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            _assert_no_tofu(page, f"request {language} {label}")
        context.set_extra_http_headers({"X-Forwarded-For": "100.70.1.1", **registrar})
        page.goto("/sharing/grants")
        assert page.locator("#grants tbody tr").count() == 1 and page.locator("#reads tbody tr").count() == 1
        assert page.locator("#grants [data-state=granted]").count() >= 1
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            _assert_no_tofu(page, f"/sharing/grants {language} {label}")
        page.goto("/sharing")
        assert page.locator("#catalog tbody tr").count() == 2
        assert not requests.elsewhere(platform.url), requests.elsewhere(platform.url)
        context.close()
