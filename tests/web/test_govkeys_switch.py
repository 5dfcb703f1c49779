"""Several keys on one device (a tablet a family shares, a clerk who is also a citizen), on the
citizen portal's keys page in Debian's chromium, in Chinese, against the running demo platform:
the key in use is shown in its card and every other key kept on the device is listed under it
(name and key id), to be used or deleted. Switching shows the chosen key and lists the previous
one; deleting another key deletes that key alone; a session signed in with one key does not
carry over to another; and no request carries a private key."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govchain.datadir import DataDir
from govchain.protocol.keys import SigningKey
from govchain.services.gateway import i18n

from ._browser import CHROMIUM, PHONE, Requests, new_context, screenshots, uncovered_characters
from .conftest import Platform

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")

ZH = i18n.translator("zh-CN")
MUM, DAD, GUEST = "妈妈的手机", "爸爸的平板", "访客"


class Bodies:
    """Every request's URL and body, to search for private key material."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def find(self, needle: bytes) -> list[str]:
        return [url for url, body in self.sent if needle in body]


@pytest.fixture
def bodies() -> Bodies:
    return Bodies()


@pytest.fixture
def page(browser: Any, platform: Platform, bodies: Bodies) -> Iterator[Any]:
    requests = Requests()
    context = new_context(browser, platform.url, requests=requests)  # zh-CN, as a browser in China asks
    context.on("request", lambda request: bodies.sent.append((request.url, request.post_data_buffer or b"")))
    yield context.new_page()
    context.close()
    assert requests.urls and not requests.elsewhere(platform.url), requests.elsewhere(platform.url)
    assert not bodies.find(b"PRIVATE KEY"), "a PEM left the browser"


def _open_keys(page: Any) -> None:
    page.goto("/service/keys")
    assert page.get_attribute("html", "lang") == "zh-CN"
    page.wait_for_function(
        "(text) => document.getElementById('key-status').textContent !== text", arg=ZH("service.signin.checking")
    )


def _shown(page: Any, label: str) -> None:
    """Wait until the key card shows ``label`` and the page reports success."""
    page.wait_for_function(
        """(label) => document.getElementById('key-label').textContent === label
             && document.getElementById('key-message').dataset.state === 'ok'""",
        arg=label,
    )


def _make(page: Any, label: str) -> dict[str, str]:
    page.fill("#key-name", label)
    page.click("#key-generate button[type=submit]")
    _shown(page, label)
    made = page.evaluate("() => GovKeys.current()")
    assert made["label"] == label
    return made  # type: ignore[no-any-return]


def _import(page: Any, pem: str, label: str) -> dict[str, str]:
    page.fill("#key-name", label)
    page.fill("#key-pem", pem)
    page.click("#key-import button[type=submit]")
    _shown(page, label)
    return page.evaluate("() => GovKeys.current()")  # type: ignore[no-any-return]


def _others(page: Any) -> list[tuple[str, str]]:
    """The "other keys" list as shown: (name, key id) of each item, in order."""
    if page.is_hidden("#key-others"):
        return []
    return [
        (item.locator(".svc-key-label").inner_text(), item.locator(".svc-key-id").inner_text())
        for item in page.locator("#key-others-list > li").all()
    ]


def _item(page: Any, label: str) -> Any:
    return page.locator("#key-others-list > li").filter(has_text=label)


def _use(page: Any, label: str) -> None:
    _item(page, label).get_by_role("button", name=ZH("service.js.key_use"), exact=True).click()
    _shown(page, label)
    assert page.inner_text("#key-message") == ZH("service.js.key_switched", label=label)


def _stored(page: Any) -> list[str]:
    """The key ids IndexedDB holds, as GovKeys.list() reads them."""
    return [k["keyId"] for k in page.evaluate("() => GovKeys.list()")]


def test_two_keys_switch_and_delete_the_other(page: Any) -> None:
    _open_keys(page)
    assert page.is_hidden("#key-others")  # no key at all: nothing listed
    mum = _make(page, MUM)
    assert page.is_hidden("#key-others") and _others(page) == []  # one key: it is in use, no other
    dad = _make(page, DAD)

    # The newest key is in use; the first is listed under it, by name and key id.
    assert page.inner_text("#key-public") == dad["publicKeyHex"]
    assert page.inner_text("#key-id") == dad["keyId"]
    assert page.is_visible("#key-others")
    assert page.inner_text("#key-others-heading") == ZH("service.keys.others_heading")
    assert _others(page) == [(MUM, mum["keyId"])]
    buttons = _item(page, MUM).locator("button")
    assert [b.get_attribute("type") for b in buttons.all()] == ["button", "button"]
    assert buttons.all_inner_texts() == [ZH("service.js.key_use"), ZH("service.js.key_delete")]

    # Use the first: the card shows it, the list now holds the second.
    _use(page, MUM)
    assert page.inner_text("#key-public") == mum["publicKeyHex"]
    assert page.inner_text("#key-id") == mum["keyId"]
    assert page.evaluate("() => GovKeys.current()")["keyId"] == mum["keyId"]
    assert _others(page) == [(DAD, dad["keyId"])]
    assert page.evaluate("() => document.activeElement.id") == "key-current-heading"  # focus not lost

    # Delete, declined: nothing is deleted.
    asked: list[str] = []

    def decline(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", decline)
    _item(page, DAD).get_by_role("button", name=ZH("service.js.key_delete"), exact=True).click()
    assert asked == [ZH("service.js.key_delete_confirm", label=DAD)]
    assert sorted(_stored(page)) == sorted([mum["keyId"], dad["keyId"]])
    assert _others(page) == [(DAD, dad["keyId"])]

    # Delete, confirmed: that key alone is gone from IndexedDB; the key in use is unchanged.
    page.once("dialog", lambda dialog: dialog.accept())
    _item(page, DAD).get_by_role("button", name=ZH("service.js.key_delete"), exact=True).click()
    page.wait_for_selector("#key-others", state="hidden")
    page.wait_for_selector("#key-message[data-state=ok]")
    assert page.inner_text("#key-message") == ZH("service.js.key_deleted", label=DAD)
    assert _stored(page) == [mum["keyId"]]
    assert page.evaluate("() => GovKeys.current()")["keyId"] == mum["keyId"]
    assert page.inner_text("#key-public") == mum["publicKeyHex"] and page.is_visible("#key-card")

    # Still so after a reload (it is IndexedDB's state, not the page's).
    _open_keys(page)
    assert page.inner_text("#key-id") == mum["keyId"] and _others(page) == []


def test_the_list_keeps_creation_order_and_deleting_the_key_in_use_leaves_the_others_to_choose(
    page: Any, shots: Path
) -> None:
    _open_keys(page)
    made = [_make(page, label) for label in (MUM, DAD, GUEST)]
    assert _others(page) == [(MUM, made[0]["keyId"]), (DAD, made[1]["keyId"])]
    _use(page, MUM)
    assert _others(page) == [(DAD, made[1]["keyId"]), (GUEST, made[2]["keyId"])]  # oldest first, not by key id
    assert [k["label"] for k in page.evaluate("() => GovKeys.list()")] == [MUM, DAD, GUEST]

    # The card's own delete removes the key in use; the others stay, and none is chosen for you.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#key-forget")
    page.wait_for_selector("#key-card", state="hidden")
    assert page.inner_text("#key-status") == ZH("service.js.key_none_chosen")
    assert page.evaluate("() => GovKeys.current()") is None
    assert _others(page) == [(DAD, made[1]["keyId"]), (GUEST, made[2]["keyId"])]
    page.goto("/service")  # elsewhere too, the person is told to choose a key, not to make one
    page.wait_for_function(
        "(text) => document.getElementById('signin-status').textContent === text", arg=ZH("service.js.no_key_chosen")
    )
    _open_keys(page)
    _use(page, GUEST)
    assert page.inner_text("#key-public") == made[2]["publicKeyHex"]
    assert _others(page) == [(DAD, made[1]["keyId"])]

    # On a desktop and a phone: every character drawn with a glyph, nothing wider than the phone.
    for path in screenshots(page, "service-keys-several", shots):
        missing, fonts = uncovered_characters(page)
        assert not missing, f"{path.name}: no glyph for {sorted(missing)} in {fonts}"
        if "phone" in path.name:
            assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]


def _sign_in_on_hub(page: Any, principal: str) -> None:
    page.goto("/service")
    page.wait_for_selector("#signin-form:not([hidden])")
    page.fill("#signin-principal", principal)
    page.click("#signin-button")
    page.wait_for_selector("#signin-status[data-state=in]", timeout=15_000)
    assert principal in page.inner_text("#signin-status")


def _hub_status(page: Any) -> str:
    page.goto("/service")
    signed_out = ZH("service.js.signed_out")
    page.wait_for_function(
        "(texts) => texts.includes(document.getElementById('signin-status').textContent) "
        "|| document.getElementById('signin-status').dataset.state === 'in'",
        arg=[signed_out, ZH("service.js.no_key")],
    )
    return page.inner_text("#signin-status")  # type: ignore[no-any-return]


def test_a_session_does_not_carry_over_to_another_key(page: Any, platform: Platform, bodies: Bodies) -> None:
    citizen = platform.summary["citizen_id"]
    key_file = DataDir(platform.data).key_file("citizen")
    seed = SigningKey.load(key_file)._private.private_bytes_raw()
    _open_keys(page)
    mine = _import(page, key_file.read_text(), "市民")
    guest = _make(page, GUEST)
    _use(page, "市民")
    _sign_in_on_hub(page, citizen)
    assert page.evaluate("() => GovKeys.session()")["keyId"] == mine["keyId"]

    # Switching to the guest's key signs the citizen out: no session, no bearer token left.
    _open_keys(page)
    _use(page, GUEST)
    assert page.evaluate("() => GovKeys.session()") is None
    assert page.evaluate("() => GovKeys.authHeaders()") == {}
    assert _hub_status(page) == ZH("service.js.signed_out")

    # Switching back does not bring the old session back: the citizen signs in again.
    _open_keys(page)
    _use(page, "市民")
    assert page.evaluate("() => GovKeys.current()")["keyId"] == mine["keyId"]
    assert _hub_status(page) == ZH("service.js.signed_out")
    _sign_in_on_hub(page, citizen)

    # Making a new key (it becomes the one in use) signs the citizen out too.
    _open_keys(page)
    _make(page, "新密钥")
    assert page.evaluate("() => GovKeys.session()") is None
    assert page.evaluate("() => GovKeys.authHeaders()") == {}
    assert guest["keyId"] in _stored(page)

    for form in (seed.hex(), base64.b64encode(seed).decode(), base64.urlsafe_b64encode(seed).decode()[:40]):
        assert not bodies.find(form.encode()), "a private key left the browser"
