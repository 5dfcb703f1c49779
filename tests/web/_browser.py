"""What the portal's browser tests share: Debian's chromium under Playwright, one client address
per browser context (the trusted proxy header, so each suite has its own rate-limit budget), a
record of every request a page makes, and the check that no text renders as tofu."""

from __future__ import annotations

import base64
import io
import itertools
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
_addresses = (f"100.64.{a}.{b}" for a, b in itertools.product(range(256), range(1, 255)))  # nobody else's


@dataclass
class Requests:
    """Every URL the browser asked for, in order (``page.on("request")``)."""

    urls: list[str] = field(default_factory=list)

    def elsewhere(self, base_url: str) -> list[str]:
        """The requests that left for anything but the gateway (data: and blob: URLs stay home)."""
        home = urlsplit(base_url).netloc
        return [u for u in self.urls if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != home]


def new_context(
    browser: Any,
    base_url: str,
    *,
    locale: str = "zh-CN",
    viewport: dict[str, int] | None = None,
    requests: Requests | None = None,
) -> Any:
    context = browser.new_context(
        viewport=viewport or DESKTOP,
        base_url=base_url,
        locale=locale,
        extra_http_headers={"X-Forwarded-For": next(_addresses)},
    )
    if requests is not None:
        context.on("request", lambda request: requests.urls.append(request.url))
    return context


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


# -- tofu: text drawn as the missing-glyph box


@cache
def _font_files() -> dict[str, list[Path]]:
    """Font family (every name fontconfig knows it by) → its files."""
    listed = subprocess.run(["fc-list", "-f", "%{file}\t%{family}\n"], capture_output=True, text=True, check=True)
    found: dict[str, list[Path]] = {}
    for line in listed.stdout.splitlines():
        file, _, families = line.partition("\t")
        for family in families.split(","):
            found.setdefault(family.strip(), []).append(Path(file))
    return found


@cache
def _cmap(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTCollection, TTFont

    fonts = TTCollection(str(path)).fonts if path.suffix.lower() in (".ttc", ".otc") else [TTFont(str(path))]
    return frozenset(code for font in fonts for code in font.getBestCmap() or {})


def used_fonts(page: Any) -> set[str]:
    """The platform fonts Chromium actually drew the page's text with (DevTools
    ``CSS.getPlatformFontsForNode``, for every element with text of its own)."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        nodes = cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": "body *"})["nodeIds"]
        families: set[str] = set()
        for node in nodes:
            for font in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]:
                if font["glyphCount"] > 0:
                    families.add(font["familyName"])
        return families
    finally:
        cdp.detach()


def uncovered_characters(page: Any) -> tuple[set[str], set[str]]:
    """The characters of the page's rendered text that no font Chromium drew it with has a glyph
    for (each such character is on screen as tofu), and those fonts."""
    families = used_fonts(page)
    covered: set[int] = set()
    for family in families:
        for path in _font_files().get(family, []):
            covered |= _cmap(path)
    text = page.evaluate("() => document.body.innerText + document.title")
    return {c for c in text if not c.isspace() and ord(c) not in covered}, families


def looks_like_tofu(page: Any, selector: str) -> bool:
    """Whether ``selector``'s text renders like boxes: its screenshot is compared with the same
    element showing as many unassigned code points (U+0378, which no font has a glyph for, so it
    is drawn as the missing-glyph box) as it has characters. Real glyphs look different."""
    from PIL import Image, ImageChops

    element = page.locator(selector).first
    real = Image.open(io.BytesIO(element.screenshot())).convert("L")
    original = element.evaluate("""(el) => { const text = el.innerHTML;
        el.textContent = Array.from(el.innerText).map(c => c.trim() ? "\\u0378" : c).join(""); return text; }""")
    try:
        boxes = Image.open(io.BytesIO(element.screenshot())).convert("L")
    finally:
        element.evaluate("(el, html) => { el.innerHTML = html; }", original)
    if boxes.getextrema()[0] > 128:
        raise AssertionError("unassigned code points drew nothing: this browser shows no missing-glyph box")
    if boxes.size != real.size:
        boxes = boxes.resize(real.size)
    difference = ImageChops.difference(real, boxes)
    changed = difference.point(lambda value: 255 if value > 48 else 0).histogram()[255]
    return changed < 0.02 * real.size[0] * real.size[1]


def screenshots(page: Any, name: str, folder: Path) -> Iterator[Path]:
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        path = folder / f"{name}-{label}.png"
        page.screenshot(path=str(path))
        yield path


# -- the browser's own check (static/verify.js): its verdict, and what a lying server could send

CHECK_DONE = "#browser-check[data-state=ok], #browser-check[data-state=fail]"
CHECK_DATA = re.compile(r'(<script type="application/json" id="check-data">)(.*?)(</script>)', re.S)
"""The data a page embeds for verify.js (group 2: its JSON)."""


def checked(page: Any, timeout_ms: int = 15_000) -> tuple[str, dict[str, str]]:
    """The browser's verdict, and each step's state by step name."""
    page.wait_for_selector(CHECK_DONE, timeout=timeout_ms)
    section = page.locator("#browser-check")
    steps = {
        item.get_attribute("data-step"): item.get_attribute("data-state") for item in section.locator(".steps li").all()
    }
    return section.get_attribute("data-state"), steps


def tampered_check_data(page: Any, route_glob: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Serve pages whose embedded check data ``change`` altered: what a lying server could send."""
    from govchain.services.gateway.portal import script_json

    def handle(route: Any) -> None:
        response = route.fetch()
        body = response.text()
        found = CHECK_DATA.search(body)
        assert found is not None
        data = json.loads(found.group(2))
        change(data)
        route.fulfill(response=response, body=body[: found.start(2)] + str(script_json(data)) + body[found.end(2) :])

    page.route(route_glob, handle)


def flipped(hex_text: str) -> str:
    """``hex_text`` with its first digit changed."""
    return ("0" if hex_text[0] != "0" else "1") + hex_text[1:]


def checkpoint_root_replaced(data: dict[str, Any]) -> None:
    """The orderer's note for another history: the root line changed (its signatures now lie)."""
    text, _, signatures = data["witnessed"]["note"].partition("\n\n")
    origin, size = text.split("\n")[:2]
    forged = base64.b64encode(bytes(32)).decode()
    data["witnessed"]["note"] = f"{origin}\n{size}\n{forged}\n\n{signatures}"


def witnessed_path_flipped(data: dict[str, Any]) -> None:
    """The event's inclusion proof at the witnessed checkpoint's size, one hash altered."""
    path = data["proofs"][0]["witnessed_proof"]["path"]
    path[0] = flipped(path[0])
