"""The portal in a real browser: Debian's chromium driven by Playwright, end to end."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Platform

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def page(platform: Platform) -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        # These walks read the English pages (the portal is zh-CN first: test_portal_i18n.py).
        context = browser.new_context(viewport={"width": 1200, "height": 900}, base_url=platform.url, locale="en-US")
        yield context.new_page()
        browser.close()


def test_from_the_latest_blocks_to_an_event_with_its_proof_checked(page: object, platform: Platform) -> None:
    page.goto("/")
    rows = page.locator("#blocks tbody tr")
    assert rows.count() == min(15, platform.summary["blocks"])
    page.locator("#blocks tbody tr").nth(3).locator("a").click()
    assert page.locator("h1").inner_text().startswith("Block #")
    assert page.locator("#header").inner_text().count("Block hash") == 1
    page.locator("#events tbody tr a").first.click()
    assert page.locator("h1").inner_text().startswith("Event")
    assert "verified the inclusion proof" in page.locator("#proof-status").inner_text()
    assert '"signature"' in page.locator("#envelope").inner_text()


def test_search_jumps_to_a_block_an_event_or_the_registry(page: object, platform: Platform) -> None:
    page.goto("/")
    page.fill("input[name=q]", "2")
    page.click("form.search button")
    assert page.locator("h1").inner_text() == "Block #2"
    event_id = platform.summary["committed_event_ids"][0]
    page.goto("/")
    page.fill("input[name=q]", event_id)
    page.click("form.search button")
    assert event_id in page.locator("h1").inner_text()


def test_registry_search_and_land_history(page: object) -> None:
    page.goto("/registry")
    page.fill("input[name=q]", "noodle")
    page.locator("form.search button").first.click()
    assert "Harbour Noodle House" in page.locator("#businesses").inner_text()
    assert "Land and Resources Bureau" in page.locator("#departments").inner_text()
    page.fill("input[name=id]", "P-0001")
    page.locator("form.search button").nth(1).click()
    assert page.locator("#history tbody tr").count() == 2
    assert "532.50 m²" in page.locator("#parcel").inner_text()


def test_verifying_a_document_by_upload(page: object, tmp_path: Path) -> None:
    genuine = tmp_path / "licence.txt"
    genuine.write_bytes(b"land-bureau document 3")
    page.goto("/verify")
    page.set_input_files("input[type=file]", str(genuine))
    with page.expect_navigation():  # the verdict is a new page: read it once it has loaded
        page.click("form button")
    verdict = page.locator("#verdict").inner_text()
    assert "Registered by land-bureau" in verdict and "inclusion proof verified" in verdict
    assert page.locator("#browser-check[data-state=ok]").wait_for(timeout=15_000) is None
    forged = tmp_path / "forged.txt"
    forged.write_bytes(b"land-bureau document 3, amended")
    page.set_input_files("input[type=file]", str(forged))
    with page.expect_navigation():
        page.click("form button")
    assert "No department registered" in page.locator("#verdict").inner_text()


def test_an_unknown_page_is_a_readable_error(page: object) -> None:
    response = page.goto("/blocks/999999")
    assert response.status == 404
    assert "no block at height 999999" in page.locator("#error").inner_text()


def test_screenshot_of_a_verified_event(page: object, platform: Platform, tmp_path: Path) -> None:
    image_module = pytest.importorskip("PIL.Image")
    page.goto(f"/events/{platform.summary['committed_event_ids'][2]}")
    shot = page.screenshot(full_page=False)
    image = image_module.open(io.BytesIO(shot)).convert("RGB")
    assert image.size == (1200, 900)
    colours = image.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50, "the page rendered blank"
    brand_red, proof_green = (0xB3, 0x26, 0x1E), (0x1E, 0x7B, 0x34)
    present = {colour for _, colour in colours}
    assert brand_red in present and proof_green in present  # the header bar and the verified-proof banner
    (tmp_path / "event.png").write_bytes(shot)


def test_the_efficiency_page_shows_the_analytics_charts(page: object) -> None:
    page.goto("/analytics")
    images = page.locator(".charts img")
    assert images.count() == 4
    for index in range(4):
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        assert page.evaluate("(img) => img.complete && img.naturalWidth", image.element_handle()) >= 600
