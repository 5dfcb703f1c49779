"""The portal speaks Chinese first and English on request, from one catalogue per language, and
draws every character it shows with a real glyph, on a desktop and on a phone, without loading
anything from another host."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import httpx
import pytest

from govchain.services.gateway import i18n

from ._browser import CHROMIUM, PHONE, Requests, looks_like_tofu, new_context, uncovered_characters
from .conftest import Platform

GATEWAY = Path(i18n.__file__).parents[1]
TEMPLATES = GATEWAY / "templates"
PAGES = ("/", "/blocks/2", "/registry?q=noodle", "/registry/parcel?id=P-0001", "/verify", "/analytics")
HEADINGS = {  # the h1 of each page, as the catalogues have it
    "/": "index.heading",
    "/blocks/2": "block.title",
    "/registry?q=noodle": "registry.heading",
    "/registry/parcel?id=P-0001": "parcel.heading",
    "/verify": "documents.heading",
    "/analytics": "analytics.heading",
}
PARAMS = {"block.title": {"height": 2}, "parcel.heading": {"id": "P-0001"}}


def _heading(language: str, path: str) -> str:
    return i18n.translator(language)(HEADINGS[path], **PARAMS.get(HEADINGS[path], {}))


# -- the catalogues, without a browser


def test_both_catalogues_hold_the_same_messages_with_the_same_placeholders() -> None:
    zh, en = i18n.catalogue("zh-CN"), i18n.catalogue("en")
    assert set(zh) == set(en)
    fields = string.Formatter()
    for key in zh:
        assert {f for _, f, _, _ in fields.parse(zh[key]) if f} == {f for _, f, _, _ in fields.parse(en[key]) if f}, key
        chinese = re.search(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]", zh[key])
        assert chinese or zh[key] == en[key], f"{key} is not in Chinese"


def test_every_message_a_template_names_is_in_the_catalogues_and_templates_hold_no_prose() -> None:
    messages = i18n.catalogue("zh-CN")
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        for key, joined in re.findall(r"""\bth?\(\s*["']([a-z_.0-9-]+)["']\s*(~?)""", text):
            if joined:  # a key made in the template ("chart." ~ name): some message has that prefix
                assert any(k.startswith(key) for k in messages), f"{template.name}: {key}…"
            else:
                assert key in messages, f"{template.name}: {key}"
        # What is left once tags, template code and attribute values are gone is not prose:
        # symbols, numbers and a few proper names only (GovChain, SHA-256, RFC).
        bare = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", " ", text, flags=re.S)
        bare = re.sub(r"<script.*?</script>|<[^>]*>", " ", bare, flags=re.S)
        words = set(re.findall(r"[A-Za-z\u4e00-\u9fff]{2,}", bare)) - {"GovChain"}
        assert not words, f"{template.name} has text of its own: {sorted(words)}"


def test_the_browser_script_takes_its_messages_from_the_catalogue() -> None:
    script = (GATEWAY / "static" / "verify.js").read_text(encoding="utf-8")
    keys = set(re.findall(r'"(check\.[a-z_.]+)"', script))
    keys |= {f"check.step.{k}" for k in re.findall(r'(?:report|say)\("([a-z_]+)"', script)}
    keys |= {f"check.why.{k}" for k in re.findall(r'new CheckError\("([a-z_]+)"', script)}
    keys |= {f"check.step.{k}" for k in ("leaf_redacted", "leaf_absent", "genesis")}
    keys |= {f"check.why.{k}" for k in re.findall(r'fetchJson\([^,]+, "([a-z_]+)"\)', script)}
    assert {"check.why.genesis_fetch", "check.why.event_fetch"} <= keys
    assert keys <= set(i18n.script_messages("en")) and keys <= set(i18n.script_messages("zh-CN")), keys - set(
        i18n.script_messages("en")
    )
    assert not re.search(r"[\u4e00-\u9fff]", script)  # no message of its own, in either language


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "zh-CN"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR, fr", "zh-CN"),
        ("en;q=0.5, zh-CN", "zh-CN"),
        ("de, en-GB;q=0.7", "en"),
        ("zh-TW", "zh-CN"),
        ("en;q=0", "zh-CN"),
    ],
)
def test_accept_language(header: str | None, language: str) -> None:
    assert (i18n.from_accept_language(header) or i18n.DEFAULT) == language


def test_language_by_query_cookie_and_header(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url, timeout=30, headers={"X-Forwarded-For": "100.65.0.1"}) as client:
        page = client.get("/verify")
        assert '<html lang="zh-CN">' in page.text and page.headers["content-language"] == "zh-CN"
        assert "Accept-Language" in page.headers["vary"]
        assert '<html lang="en">' in client.get("/verify", headers={"Accept-Language": "en-US,en;q=0.9"}).text
        switched = client.get("/verify", params={"lang": "en"})
        assert '<html lang="en">' in switched.text and switched.cookies["lang"] == "en"
        assert '<html lang="en">' in client.get("/registry").text  # the cookie keeps it
        assert '<html lang="zh-CN">' in client.get("/registry", params={"lang": "zh-CN"}).text
        assert '<html lang="zh-CN">' in client.get("/registry", headers={"Accept-Language": "en"}).text  # cookie first
        missing = client.get("/blocks/999999", headers={"Accept": "text/html"})
        assert missing.status_code == 404 and i18n.catalogue("zh-CN")["error.status.404"] in missing.text


# -- in the browser


playwright_api = pytest.importorskip("playwright.sync_api")
browser_only = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@browser_only
def test_every_page_is_chinese_by_default_and_english_by_the_switch(browser: Any, platform: Platform) -> None:
    requests = Requests()
    context = new_context(browser, platform.url, locale="zh-CN", requests=requests)
    page = context.new_page()
    for path in PAGES:
        page.goto(path)
        assert page.locator("html").get_attribute("lang") == "zh-CN", path
        assert page.locator("h1").inner_text() == _heading("zh-CN", path), path
    page.goto("/")
    page.locator("#lang-switch a[data-lang=en]").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == _heading("en", "/")
    for path in PAGES:  # the choice is kept (cookie) from page to page
        page.goto(path)
        assert page.locator("html").get_attribute("lang") == "en", path
        assert page.locator("h1").inner_text() == _heading("en", path), path
    page.locator("#lang-switch a[data-lang=zh-CN]").click()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == _heading("zh-CN", PAGES[-1])
    context.close()

    english = new_context(browser, platform.url, locale="en-US", requests=requests)  # Accept-Language: en-US
    page = english.new_page()
    page.goto("/registry")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == i18n.catalogue("en")["registry.heading"]
    english.close()
    assert requests.urls and not requests.elsewhere(platform.url)


@browser_only
@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_no_tofu_and_no_other_host_on_a_desktop_and_a_phone(
    browser: Any,
    platform: Platform,
    language: str,
    tmp_path: Path,
) -> None:
    """Tofu, two ways. Glyph coverage: DevTools names the fonts Chromium drew each element's
    text with (``CSS.getPlatformFontsForNode``), and every character of the page's rendered
    text must be in the character map of one of those fonts (read with fontTools); a character
    none has is drawn as the missing-glyph box. Pixels: the screenshot of the Chinese heading
    must differ from a render of as many unassigned code points, which is all boxes."""
    requests = Requests()
    context = new_context(browser, platform.url, locale=language, requests=requests)
    page = context.new_page()
    event_id = platform.summary["committed_event_ids"][2]
    for path in ("/", f"/events/{event_id}", "/registry?q=noodle"):
        for size in ({"width": 1280, "height": 800}, PHONE):
            page.set_viewport_size(size)
            page.goto(path)
            page.wait_for_function(
                "() => !document.getElementById('browser-check') || "
                "['ok', 'fail'].includes(document.getElementById('browser-check').dataset.state)"
            )
            page.screenshot(path=str(tmp_path / f"{len(requests.urls)}.png"))
            missing, fonts = uncovered_characters(page)
            assert not missing, f"{path} at {size}: no glyph for {sorted(missing)} in {fonts}"
            assert not looks_like_tofu(page, "h1"), f"{path} at {size}: the heading renders as boxes"
            assert not looks_like_tofu(page, "nav"), f"{path} at {size}: the menu renders as boxes"
            if size == PHONE:  # nothing wider than the phone: no sideways scrolling
                assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], path
    context.close()
    assert requests.urls and not requests.elsewhere(platform.url), requests.elsewhere(platform.url)


@browser_only
def test_the_tofu_check_sees_tofu(browser: Any, platform: Platform) -> None:
    """The check itself: text in a code point no font has is caught both ways."""
    context = new_context(browser, platform.url)
    page = context.new_page()
    page.goto("/")
    page.evaluate("() => { document.querySelector('h1').textContent = '\\u0378\\u0379\\u0380\\u0381'; }")
    assert looks_like_tofu(page, "h1")
    missing, _ = uncovered_characters(page)
    assert "\u0378" in missing
    context.close()
