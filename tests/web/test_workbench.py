"""The officials' workbench in a real browser (Debian's chromium under Playwright), end to end:
an official imports their department key from its PEM file, signs in, works the queue in
Chinese, approves a land transfer the contract then records, refuses a data-sharing request
with a reason, and enrols a citizen at the counter. Every decision is signed in the page; no
request leaves for another host and no request body holds the private key."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from govchain.protocol.keys import SigningKey
from govchain.protocol.multikey import public_key_multibase
from govchain.pseudonym import pseudonym
from govchain.services.cli.demo import DEMO_BUYER_NATIONAL_ID

from ._browser import CHROMIUM, PHONE, Requests, looks_like_tofu, new_context, uncovered_characters
from ._workbench import LAND, MARKET, Chain, headers
from .conftest import Platform

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
OFFICER = "wb-ui-officer"
TIMEOUT_MS = 30_000


@dataclass
class Officer:
    pem: Path
    key: SigningKey
    token: str

    def secrets(self) -> list[str]:
        """Every form the private key could travel in: the PEM's body, the raw seed as hex,
        base64 and base64url (a JWK's ``d``)."""
        seed = serialization.load_pem_private_key(self.pem.read_bytes(), password=None).private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        body = "".join(self.pem.read_text().strip().splitlines()[1:-1])
        return [
            body,
            body[8:40],
            seed.hex(),
            base64.b64encode(seed).decode().rstrip("="),
            base64.urlsafe_b64encode(seed).decode().rstrip("="),
            "PRIVATE KEY",
        ]


@dataclass
class Traffic(Requests):
    """Every request the browser made, with its body."""

    bodies: list[str] = field(default_factory=list)

    def watch(self, context: Any) -> None:
        def seen(request: Any) -> None:
            self.urls.append(request.url)
            try:
                self.bodies.append(request.post_data or "")
            except Exception:  # a body that is not text (an upload) is kept as bytes
                self.bodies.append(str(request.post_data_buffer or b""))

        context.on("request", seen)


@pytest.fixture(scope="module")
def chain(platform: Platform) -> Iterator[Chain]:
    with httpx.Client(base_url=platform.url, timeout=60) as http:
        yield Chain(platform, http)


@pytest.fixture(scope="module")
def officer(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Officer:
    pem = tmp_path_factory.mktemp("officer") / f"{OFFICER}.pem"
    key = chain.register_official(OFFICER, ["approver", "enrollment", "data-steward"], pem)
    return Officer(pem, key, chain.sign_in(key, OFFICER))


def signed_in(browser: Any, platform: Platform, officer: Officer, locale: str, traffic: Traffic) -> Any:
    """A fresh browser (its own IndexedDB) where the official imports their PEM and signs in,
    by keyboard: the form is filled and submitted with Enter."""
    context = new_context(browser, platform.url, locale=locale)
    traffic.watch(context)
    page = context.new_page()
    page.goto("/workbench")
    page.wait_for_selector("#workbench[data-ready=true]", timeout=TIMEOUT_MS)
    page.set_input_files("#wb-pem", str(officer.pem))
    page.focus("#wb-principal")
    page.keyboard.type(OFFICER)
    page.keyboard.press("Enter")
    page.wait_for_selector("#wb-status[data-state=in]", timeout=TIMEOUT_MS)
    return page


def check_rendering(page: Any, name: str, folder: Path) -> None:
    """No tofu at desktop and phone width, no sideways scrolling on the phone; screenshots kept."""
    for label, size in (("desktop", {"width": 1280, "height": 800}), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
        missing, fonts = uncovered_characters(page)
        assert not missing, f"{name} at {label}: no glyph for {sorted(missing)} in {fonts}"
        assert not looks_like_tofu(page, "h1"), f"{name} at {label}: the heading renders as boxes"
        if size == PHONE:
            assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], name


def every_control_is_labelled(page: Any) -> None:
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('#workbench input, #workbench textarea, #workbench button')]
             .filter((el) => !el.hidden && el.type !== 'hidden')
             .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                             && !(el.textContent || '').trim())
             .map((el) => el.outerHTML.slice(0, 80))"""
    )
    assert not unnamed, unnamed


def test_an_official_approves_a_land_transfer_in_chinese_and_the_contract_records_it(
    browser: Any, platform: Platform, chain: Chain, officer: Officer, shots: Path
) -> None:
    request = chain.land_request("WB-UI-L1", "P-WB-UI-1")
    chain.publish(chain.key(MARKET), MARKET, "land.transfer_approved", {"request_id": "WB-UI-L1"})
    chain.waiting(officer.token, "WB-UI-L1", present=True)

    traffic = Traffic()
    page = signed_in(browser, platform, officer, "zh-CN", traffic)
    status = page.locator("#wb-status").inner_text()
    assert "已登录" in status and OFFICER in status and LAND in status and "approver" in status
    every_control_is_labelled(page)
    check_rendering(page, "workbench-signin", shots)

    page.locator("#wb-go-queue").focus()  # by keyboard; the key and the session carry over
    page.keyboard.press("Enter")
    case = page.locator("article[data-case-key='WB-UI-L1']")
    case.wait_for(timeout=TIMEOUT_MS)
    assert page.locator("h1").inner_text() == "本部门待办"
    evidence = case.inner_text()
    assert "土地转让申请 WB-UI-L1" in evidence and "Lot P-WB-UI-1, Riverside District" in evidence
    assert request["from_owner"] in evidence and request["to_owner"] in evidence and "960000.00" in evidence
    assert MARKET in evidence and "2 个" in evidence  # approved so far by the regulator; 2 of 2 needed
    assert "转让方仍是地块的登记所有人" in evidence and "截止时间" in evidence
    assert case.locator("a").first.get_attribute("href") == f"/events/{LAND}/{request['receipt']['event_id']}"
    assert case.locator("textarea").count() == 1  # a named department may decline it (land-transfer v3), saying why
    every_control_is_labelled(page)
    check_rendering(page, "workbench-queue", shots)
    page.set_viewport_size({"width": 1280, "height": 800})

    approve = case.locator("button.wb-approve")
    approve.focus()
    page.keyboard.press("Enter")  # keyboard: the decision is one key away
    decided = page.locator("#wb-decided li[data-case-key='WB-UI-L1']")
    decided.wait_for(timeout=TIMEOUT_MS)
    assert "已上链" in decided.inner_text(), decided.inner_text()
    page.wait_for_function("() => !document.querySelector(\"article[data-case-key='WB-UI-L1']\")", timeout=TIMEOUT_MS)

    recorded = chain.settled("land-transfer", "WB-UI-L1", officer.token, {"recorded", "refused", "expired"})
    assert recorded["state"] == "recorded" and recorded["vars"]["approvals"] == [MARKET, LAND]
    buyer = pseudonym(DEMO_BUYER_NATIONAL_ID, chain.data.pseudonym_key(), suite=chain.data.crypto_suite())
    assert _parcel_owner(chain, "P-WB-UI-1", officer.token, buyer) == buyer  # the transfer is on the register
    approval = next(b for b in traffic.bodies if '"land.transfer_approved"' in b)
    assert f'"source":"{LAND}"' in approval and f'"signer":"{officer.key.key_id}"' in approval

    assert traffic.urls and not traffic.elsewhere(platform.url), traffic.elsewhere(platform.url)
    for secret in officer.secrets():
        assert not any(secret in body for body in traffic.bodies), "a request body holds the private key"
    page.context.close()


def test_a_data_sharing_request_is_refused_with_a_reason(
    browser: Any, platform: Platform, chain: Chain, officer: Officer, shots: Path
) -> None:
    chain.sharing_request("WB-UI-S1", "wb-ui-parcels")
    chain.waiting(officer.token, "WB-UI-S1", present=True)
    traffic = Traffic()
    page = signed_in(browser, platform, officer, "en-US", traffic)
    assert "Signed in" in page.locator("#wb-status").inner_text()
    page.goto("/workbench/queue")
    case = page.locator("article[data-case-key='WB-UI-S1']")
    case.wait_for(timeout=TIMEOUT_MS)
    evidence = case.inner_text()
    assert "Data-sharing request WB-UI-S1" in evidence and "Parcels wb-ui-parcels" in evidence
    assert "check a licence applicant's premises" in evidence and MARKET in evidence
    check_rendering(page, "workbench-queue-en", shots)
    page.set_viewport_size({"width": 1280, "height": 800})

    case.locator("button.wb-refuse").click()  # no reason yet: refused by the page, nothing signed
    assert "reason" in page.locator("#wb-message").inner_text()
    assert not any('"dataset.access_declined"' in body for body in traffic.bodies)
    case.get_by_label("Reason for refusing").fill("The purpose is outside the data set's legal basis")
    case.locator("button.wb-refuse").click()
    page.locator("#wb-decided li[data-case-key='WB-UI-S1']").wait_for(timeout=TIMEOUT_MS)

    refused = chain.settled("data-sharing", "WB-UI-S1", officer.token, {"refused", "granted", "expired"})
    assert refused["state"] == "refused"
    assert refused["vars"]["refused_because"] == (
        f"declined by {LAND}: The purpose is outside the data set's legal basis"
    )
    assert not traffic.elsewhere(platform.url)
    for secret in officer.secrets():
        assert not any(secret in body for body in traffic.bodies)
    page.context.close()


def test_a_citizen_is_enrolled_at_the_counter(
    browser: Any, platform: Platform, chain: Chain, officer: Officer, shots: Path
) -> None:
    national_id = "45010219870706431X"
    citizen = SigningKey.generate()  # the citizen's own device made it; the counter sees the public key
    traffic = Traffic()
    page = signed_in(browser, platform, officer, "zh-CN", traffic)
    page.goto("/workbench/enrol")
    page.wait_for_selector("#workbench[data-ready=true]", timeout=TIMEOUT_MS)
    assert page.locator("h1").inner_text() == "为市民办理登记"
    every_control_is_labelled(page)
    page.get_by_label("身份证号").fill(national_id)
    page.get_by_label("市民公钥").fill(public_key_multibase(citizen.public))
    page.locator("#wb-check").click()
    assert citizen.key_id in page.locator("#wb-key-check").inner_text()  # compared with the citizen's screen
    check_rendering(page, "workbench-enrol", shots)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.locator("#wb-enrol-button").click()
    page.wait_for_selector("#wb-result[data-citizen]", timeout=TIMEOUT_MS)

    citizen_id = pseudonym(national_id, chain.data.pseudonym_key(), suite=chain.data.crypto_suite())
    assert page.locator("#wb-result").get_attribute("data-citizen") == citizen_id
    assert page.locator("#wb-national-id").input_value() == ""  # not kept on the page
    token = chain.sign_in(citizen, citizen_id)  # the citizen's key is now theirs on chain
    assert chain.http.get("/api/v1/me", headers=headers(token)).json()["didDocumentMetadata"]["kind"] == "citizen"

    enrolment = next(b for b in traffic.bodies if '"citizen.enrolled"' in b)
    assert citizen_id in enrolment and citizen.public.hex in enrolment and national_id not in enrolment
    assert sum(national_id in body for body in traffic.bodies) == 1  # once, to the pseudonym endpoint alone
    assert not traffic.elsewhere(platform.url)
    for secret in officer.secrets():
        assert not any(secret in body for body in traffic.bodies)

    # The same citizen again: the counter says so before signing anything.
    page.get_by_label("身份证号").fill(national_id)
    page.get_by_label("市民公钥").fill(SigningKey.generate().public.hex)
    page.get_by_label("市民公钥").press("Enter")  # by keyboard: Enter in the form submits it
    page.wait_for_function("() => document.getElementById('wb-message').dataset.state === 'bad'", timeout=TIMEOUT_MS)
    assert "已登记" in page.locator("#wb-message").inner_text()
    assert sum('"citizen.enrolled"' in body for body in traffic.bodies) == 1
    page.context.close()


def _parcel_owner(chain: Chain, parcel_id: str, token: str, expected: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        answer = chain.http.get(f"/api/v1/registry/parcels/{parcel_id}", headers=headers(token)).json()
        owner = str(answer["record"].get("owner"))
        if owner == expected or time.monotonic() > deadline:
            return owner
        time.sleep(0.2)


def test_the_workbench_is_keyboard_navigable(browser: Any, platform: Platform) -> None:
    """From the top of the page, Tab alone reaches the menu, the workbench's tabs and every
    control of the sign-in form, in reading order, each with a visible focus ring."""
    context = new_context(browser, platform.url, locale="zh-CN")
    page = context.new_page()
    page.goto("/workbench")
    page.wait_for_selector("#workbench[data-ready=true]", timeout=TIMEOUT_MS)
    reached: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                "() => { const el = document.activeElement; return el.id || el.getAttribute('href') || el.tagName; }"
            )
        )
    order = ["/workbench", "/workbench/queue", "/workbench/enrol", "wb-pem", "wb-principal", "wb-signin-button"]
    positions = [reached.index(name) for name in order]  # ValueError: a control Tab never reaches
    assert positions == sorted(positions), reached
    page.focus("#wb-principal")
    ring = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert ring != "none"
    context.close()
