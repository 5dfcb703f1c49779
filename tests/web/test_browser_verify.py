"""The browser checks proofs itself (``static/verify.js``, WebCrypto in Debian's chromium): from
the genesis block the page pins, through the orderer's Ed25519 signature and the RFC 8785 header
hash, along the RFC 9162 path, to the event's own bytes when the page shows them; and it says
so apart from what the server claims. A proof the server tampered with fails in the browser."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from govchain.services.gateway import i18n

from ._browser import (
    CHECK_DATA,
    CHROMIUM,
    Requests,
    checked,
    checkpoint_root_replaced,
    flipped,
    new_context,
    tampered_check_data,
    witnessed_path_flipped,
)
from .conftest import Platform

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture
def requests() -> Requests:
    return Requests()


@pytest.fixture
def page(browser: Any, platform: Platform, requests: Requests) -> Iterator[Any]:
    context = new_context(browser, platform.url, requests=requests)
    yield context.new_page()
    context.close()
    assert not requests.elsewhere(platform.url), requests.elsewhere(platform.url)


def _api(platform: Platform, path: str) -> dict[str, Any]:
    with httpx.Client(base_url=platform.url, timeout=30, headers={"X-Forwarded-For": "100.65.0.2"}) as client:
        answer = client.get(path)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]


def test_the_browser_verifies_a_whole_event_from_the_genesis_it_pins(
    page: Any, platform: Platform, requests: Requests, shots: Path
) -> None:
    event_id = platform.summary["committed_event_ids"][2]
    page.goto(f"/events/{event_id}")
    state, steps = checked(page)
    assert state == "ok", page.locator("#browser-check").inner_text()
    assert steps == {
        "genesis": "ok",
        "head_hash": "ok",
        "signature": "ok",
        "root": "ok",
        "inclusion": "ok",
        "leaf": "ok",
        "checkpoint_log": "ok",
        "policy": "ok",
        "cosigned": "ok",
        "witnessed_inclusion": "ok",
    }
    assert len(page.locator("#browser-check").get_attribute("data-cosigners").split(",")) == 2
    zh = i18n.catalogue("zh-CN")
    section = page.locator("#browser-check").inner_text()
    assert zh["check.passed"] in section
    genesis = _api(platform, "/api/v1/blocks/0")
    assert genesis["hash"] in page.locator("#browser-check .anchor").inner_text()  # the anchor, shown
    assert any(url.endswith(f"/genesis/{genesis['hash']}.json") for url in requests.urls)
    # the server's claim stands apart, under its own heading
    assert zh["event.server_heading"] in page.locator(".claims").inner_text()
    assert page.locator("#proof-status").count() == 1
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(shots / "portal-event.png"))


def test_a_redacted_event_is_checked_from_its_leaf_hash_and_the_page_says_so(page: Any) -> None:
    page.goto("/registry/parcel?id=P-0001")
    page.locator("#history tbody tr a[href^='/events/']").last.click()
    assert page.locator("#redacted").count() == 1  # the public does not see the parties
    state, steps = checked(page)
    assert state == "ok" and steps["inclusion"] == "ok" and steps["leaf_redacted"] == "skip"
    assert "leaf" not in steps and steps["witnessed_inclusion"] == "ok"
    data = json.loads(CHECK_DATA.search(page.content()).group(2))  # type: ignore[union-attr]
    assert "ref" not in data["proofs"][0]  # what found the witnessed proof never reaches the page
    assert set(data["proofs"][0]["witnessed_proof"]) == {"leaf_hash", "leaf_index", "tree_size", "path"}
    assert i18n.catalogue("zh-CN")["check.step.leaf_redacted"] in page.locator("#browser-check").inner_text()


def _tampered(page: Any, route_glob: str, original: str, replacement: str) -> None:
    def handle(route: Any) -> None:
        response = route.fetch()
        body = response.text()
        assert original in body
        route.fulfill(response=response, body=body.replace(original, replacement))

    page.route(route_glob, handle)


def test_a_tampered_signature_or_path_fails_in_the_browser(page: Any, platform: Platform) -> None:
    event_id = platform.summary["committed_event_ids"][2]
    proof = _api(platform, f"/api/v1/events/{event_id}")["proof"]
    signature, first_step = proof["head"]["signature"], proof["path"][0]
    en = i18n.catalogue("en")

    _tampered(page, f"**/events/{event_id}*", signature, flipped(signature))
    page.goto(f"/events/{event_id}?lang=en")
    state, steps = checked(page)
    assert state == "fail" and steps["head_hash"] == "ok" and steps["signature"] == "fail"
    assert "leaf" not in steps and "inclusion" not in steps
    assert "✘" in page.locator("#browser-check .verdict").inner_text()
    assert en["check.failed"].split(":")[0] in page.locator("#browser-check .verdict").inner_text()
    page.unroute(f"**/events/{event_id}*")

    _tampered(page, f"**/events/{event_id}*", f'"{first_step}"', f'"{flipped(first_step)}"')
    page.goto(f"/events/{event_id}")
    state, steps = checked(page)
    assert state == "fail" and steps["signature"] == "ok" and steps["root"] == "ok" and steps["inclusion"] == "fail"
    # what the server claims is not what the browser found: both are on the page
    assert page.locator("#proof-status.ok").count() == 1


def test_a_genesis_other_than_the_pinned_one_fails(page: Any, platform: Platform) -> None:
    genesis = _api(platform, "/api/v1/blocks/0")
    key = genesis["events"][0]["data"]["orderer_keys"][0]
    _tampered(page, "**/genesis/*.json", key, flipped(key))
    page.goto(f"/events/{platform.summary['committed_event_ids'][2]}")
    state, steps = checked(page)
    assert state == "fail" and steps == {"genesis_shape": "fail"}  # its event is not the one its header names


def test_the_document_check_verifies_each_proof_in_the_browser(page: Any, tmp_path: Path) -> None:
    genuine = tmp_path / "licence.txt"
    genuine.write_bytes(b"land-bureau document 3")
    page.goto("/verify?lang=en")
    page.set_input_files("input[type=file]", str(genuine))
    page.click("form button")
    assert page.locator("html").get_attribute("lang") == "en"
    state, steps = checked(page)
    assert state == "ok", page.locator("#browser-check").inner_text()
    # the file hashed here, the registration event fetched and hashed here, naming that hash:
    assert steps["file"] == "ok" and steps["inclusion"] == "ok" and steps["leaf"] == "ok" and steps["document"] == "ok"
    assert hashlib.sha256(genuine.read_bytes()).hexdigest()[:16] in page.locator("#browser-check").inner_text()
    assert i18n.catalogue("en")["check.passed"] in page.locator("#browser-check").inner_text()


def test_a_document_registration_that_names_another_file_fails(page: Any, tmp_path: Path) -> None:
    genuine = tmp_path / "licence.txt"
    genuine.write_bytes(b"land-bureau document 3")
    digest = hashlib.sha256(genuine.read_bytes()).hexdigest()
    _tampered(page, "**/api/v1/events/**", digest, "0" * 64)  # the server's copy of the event lies
    page.goto("/verify")
    page.set_input_files("input[type=file]", str(genuine))
    page.click("form button")
    state, steps = checked(page)
    assert state == "fail" and steps["file"] == "ok" and steps["leaf"] == "fail"


def test_the_home_page_checks_the_witnessed_checkpoint_in_the_browser(page: Any, platform: Platform) -> None:
    page.goto("/")
    state, steps = checked(page)
    assert state == "ok", page.locator("#browser-check").inner_text()
    assert steps == {"genesis": "ok", "checkpoint_log": "ok", "policy": "ok", "cosigned": "ok"}
    cosigners = page.locator("#browser-check").get_attribute("data-cosigners").split(",")
    assert len(cosigners) == 2 and all(name in page.locator("#witnessed").inner_text() for name in cosigners)


def _without_last_cosignature(data: dict[str, Any]) -> None:
    note = data["witnessed"]["note"]
    data["witnessed"]["note"] = note[: note.rstrip("\n").rfind("\n") + 1]


def _policy_quorum_lowered(data: dict[str, Any]) -> None:
    data["witnessed"]["policy"]["event"]["data"]["quorum"] = 1


@pytest.mark.parametrize(
    ("change", "failed", "passed"),
    [
        (_without_last_cosignature, "quorum", ["checkpoint_log", "policy"]),
        (_policy_quorum_lowered, "policy", ["checkpoint_log"]),
        (checkpoint_root_replaced, "checkpoint_log", ["leaf"]),
        (witnessed_path_flipped, "witnessed_inclusion", ["checkpoint_log", "policy", "cosigned"]),
    ],
)
def test_a_checkpoint_the_witnesses_did_not_cosign_fails_in_the_browser(
    page: Any, platform: Platform, change: Callable[[dict[str, Any]], None], failed: str, passed: list[str]
) -> None:
    """One operator's key alone cannot pass off a history: dropping a witness, lowering the
    quorum in the root's policy, another root under the log's name, or a path to another root."""
    event_id = platform.summary["committed_event_ids"][2]
    tampered_check_data(page, f"**/events/{event_id}*", change)
    page.goto(f"/events/{event_id}")
    state, steps = checked(page)
    assert state == "fail" and steps[failed] == "fail", page.locator("#browser-check").inner_text()
    assert all(steps[name] == "ok" for name in passed), steps


def test_the_explorer_screenshot_in_chinese(page: Any, shots: Path) -> None:
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.screenshot(path=str(shots / "portal.png"))


def test_the_page_data_cannot_close_its_script_element() -> None:
    from govchain.services.gateway.portal import script_json

    text = str(script_json({"x": "</script><script>alert(1)</script>&"}))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"x": "</script><script>alert(1)</script>&"}
