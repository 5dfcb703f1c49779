"""The citizen's one-stop service (一网通办) in Debian's chromium, against the running demo
platform: a key made in the browser is enrolled at the counter (the official's side is played
here with the department's key), the citizen signs in, applies for a business licence with a
document hashed in the browser, follows the case until the contract issues the licence,
downloads it as a verifiable credential and as a QR code, and verifies it in the browser; a
licence refused shows its failed condition in plain words; "my services" lists cases,
credentials and who read the data, and erasure is signed by the citizen.

Throughout: the gateway never receives a private key or a document (every request body is
recorded and searched), no request leaves for another host, and the pages render without tofu
at desktop and phone width. Hostile input on the new routes answers below 500."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from govchain.crypto import INTL
from govchain.datadir import DataDir
from govchain.protocol.credentials import verify_proof
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.protocol.multikey import public_key_from_multibase
from govchain.pseudonym import pseudonym
from govchain.services.gateway import i18n, service_desk

from ._browser import CHROMIUM, PHONE, Requests, new_context, screenshots, uncovered_characters
from .conftest import Platform
from .test_gateway_hostile import AUTHORIZATIONS, HOSTILE_BODIES, PATH_VALUES, QUERY_VALUES, Prober

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")

MARKET = "market-regulator"
DONE = "#credential-check[data-state=ok], #credential-check[data-state=fail]"
_counter_addresses = (f"100.66.{a}.{b}" for a, b in itertools.product(range(256), range(1, 255)))


@dataclass
class Recorded:
    """Every request the browser made, with its body."""

    requests: Requests = field(default_factory=Requests)
    bodies: list[tuple[str, bytes]] = field(default_factory=list)

    def find(self, needle: bytes) -> list[str]:
        return [url for url, body in self.bodies if needle in body]


class Counter:
    """A department's counter, played with the demo's department key: what the official's
    workbench does for a citizen (enrol them, register their business and documents)."""

    def __init__(self, platform: Platform) -> None:
        self.data = DataDir(platform.data)
        self.key = SigningKey.load(self.data.key_file(MARKET))
        self.url = platform.url

    def publish(self, type_: str, data: dict[str, Any]) -> dict[str, Any]:
        event = make_event(self.key, source=MARKET, type=type_, data=data)
        with httpx.Client(base_url=self.url, timeout=60, headers={"X-Forwarded-For": next(_counter_addresses)}) as c:
            answer = c.post("/api/v1/events", content=event.to_bytes(), headers={"Content-Type": "application/json"})
        assert answer.status_code == 201, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def enrol(self, public_key_hex: str) -> str:
        citizen = pseudonym(
            f"11010119900307{secrets.randbelow(10**4):04d}", self.data.pseudonym_key(), suite=self.data.crypto_suite()
        )
        self.publish("citizen.enrolled", {"citizen_id": citizen, "public_key": public_key_hex})
        return citizen

    def business(self, owner: str) -> str:
        business_id = f"B-{secrets.token_hex(3).upper()}"
        self.publish(
            "business.registered",
            {
                "business_id": business_id,
                "name": "海港面馆",
                "registration_no": f"91310000MA{secrets.token_hex(4).upper()}",
                "address": "海港路 12 号",
                "activity": "餐饮",
                "owner": owner,
            },
        )
        return business_id

    def document(self, content: bytes) -> str:
        digest = hashlib.sha256(content).hexdigest()
        self.publish(
            "document.registered",
            {"document_id": f"T-{secrets.token_hex(3)}", "sha256": digest, "title": "完税证明"},
        )
        return digest


@pytest.fixture(scope="module")
def counter(platform: Platform) -> Counter:
    return Counter(platform)


@pytest.fixture
def recorded() -> Recorded:
    return Recorded()


def _context(browser: Any, platform: Platform, recorded: Recorded, **kwargs: Any) -> Any:
    context = new_context(browser, platform.url, requests=recorded.requests, **kwargs)
    context.on("request", lambda request: recorded.bodies.append((request.url, request.post_data_buffer or b"")))
    return context


@pytest.fixture
def page(browser: Any, platform: Platform, recorded: Recorded) -> Iterator[Any]:
    context = _context(browser, platform, recorded)
    yield context.new_page()
    context.close()
    assert not recorded.requests.elsewhere(platform.url), recorded.requests.elsewhere(platform.url)


def _no_tofu(page: Any, shots: Path, name: str) -> None:
    """At desktop and phone width: every character has a glyph, and nothing is wider than the phone."""
    for path in screenshots(page, name, shots):
        missing, fonts = uncovered_characters(page)
        assert not missing, f"{path.name}: no glyph for {sorted(missing)} in {fonts}"
        if "phone" in path.name:
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{name} is {width}px wide at phone width"
    page.set_viewport_size({"width": 1280, "height": 800})


def _sign_in(page: Any, principal: str, *, typed: bool = True) -> None:
    """Sign in on the page's panel; ``typed`` False leaves the id empty (the key finds its owner)."""
    page.fill("#signin-principal", principal if typed else "")
    page.click("#signin-button")
    page.wait_for_selector("#signin-status[data-state=in]", timeout=15_000)
    assert principal in page.inner_text("#signin-status")


def _make_key(page: Any) -> dict[str, str]:
    page.goto("/service/keys")
    page.wait_for_selector("#key-status:not(:empty)")
    page.fill("#key-name", "我的手机")
    page.click("#key-generate button[type=submit]")
    page.wait_for_selector("#key-message[data-state=ok]")
    page.wait_for_function("() => document.getElementById('key-qr').naturalWidth > 0")
    shown = {
        "public": page.inner_text("#key-public"),
        "id": page.inner_text("#key-id"),
        "multibase": page.inner_text("#key-multibase"),
    }
    assert PublicKey.from_hex(shown["public"]).key_id == shown["id"]
    assert public_key_from_multibase(shown["multibase"]).hex == shown["public"]
    return shown


def _steps(page: Any, selector: str) -> dict[str, str]:
    return {
        item.get_attribute("data-step"): item.get_attribute("data-state")
        for item in page.locator(f"{selector} .steps li").all()
    }


def test_a_citizen_applies_follows_downloads_and_verifies_a_licence(
    page: Any, platform: Platform, counter: Counter, recorded: Recorded, tmp_path: Path, shots: Path
) -> None:
    # 1. The key is made on this device; the counter enrols its public key.
    key = _make_key(page)
    _no_tofu(page, shots, "service-keys")
    citizen = counter.enrol(key["public"])
    business = counter.business(citizen)
    document = tmp_path / "完税证明.txt"
    document.write_bytes(f"完税证明 {secrets.token_hex(16)}: 海港面馆 2025 年度无欠税。".encode())
    digest = counter.document(document.read_bytes())

    # 2. Sign in and apply: the business is offered, the document is hashed here.
    page.goto("/service/apply")
    _sign_in(page, citizen)
    page.wait_for_selector(f"#apply-business option[value='{business}']", state="attached")
    page.select_option("#apply-business", business)
    page.set_input_files("#apply-documents", str(document))
    page.wait_for_selector(f"#apply-hashes li[data-sha256='{digest}']")
    application = page.input_value("#apply-id")
    _no_tofu(page, shots, "service-apply")
    page.click("#apply-submit")

    # 3. The case page follows the case until the contract issues the licence.
    page.wait_for_url(f"**/service/cases/business-license/{application}", timeout=30_000)
    page.wait_for_selector("#case[data-state=issued]", timeout=30_000)
    assert page.is_visible("#case-issued")
    assert "已发证" in page.inner_text("#case-state")
    assert "合约审查" in page.inner_text("#case-history")
    _no_tofu(page, shots, "service-case")

    # 4. The licence as a W3C verifiable credential (JSON) and as a QR code.
    with page.expect_download() as download:
        page.click("#case-download")
    saved = tmp_path / "licence.json"
    download.value.save_as(saved)
    credential = json.loads(saved.read_text())
    assert credential["type"] == ["VerifiableCredential", "BusinessLicenseCredential"]
    assert credential["credentialSubject"]["id"] == f"did:govchain:{citizen}"
    assert credential["credentialSubject"]["businessId"] == business
    assert credential["credentialSubject"]["licenseNumber"] == f"L-{application}"
    gateway_key = SigningKey.load(DataDir(platform.data).key_file("gateway")).public
    assert verify_proof(credential, lambda vm: gateway_key if vm.endswith(gateway_key.key_id) else None).valid
    page.click("#case-qr-button")
    page.wait_for_function("() => document.getElementById('case-qr').naturalWidth > 100")
    with page.expect_download() as qr_download:
        page.click("#case-qr-figure a.svc-qr-download")
    qr_svg = qr_download.value.path().read_bytes()
    assert qr_svg == service_desk.qr_svg(service_desk.credential_text(credential))  # the QR holds the credential

    # 5. The credential checked in this browser, from the file (read here, not uploaded).
    page.goto("/service/verify")
    page.set_input_files("#verify-file", str(saved))
    page.wait_for_selector(DONE, timeout=20_000)
    assert page.get_attribute("#credential-check", "data-state") == "ok", page.inner_text("#credential-check")
    steps = _steps(page, "#credential-check")
    for step in ("genesis", "issuer_key", "vc_signature", "event_signature", "head_hash", "signature", "inclusion"):
        assert steps.get(step) == "ok", steps
    assert steps.get("leaf") == "ok" and steps.get("claims") == "ok", steps
    # the witnessed checkpoint, checked in the browser too; the licence may be newer than it
    assert all(steps.get(step) == "ok" for step in ("checkpoint_log", "policy", "cosigned")), steps
    assert steps.get("witnessed_inclusion") == "ok" or steps.get("not_witnessed_yet") == "skip", steps
    page.wait_for_selector("#verify-server[data-state=ok]")
    page.wait_for_selector("#verify-register[data-state=ok]")
    assert f"L-{application}" in page.inner_text("#verify-claims")
    _no_tofu(page, shots, "service-verify")

    # 6. A changed credential fails in the browser, naming the broken signature.
    tampered = {**credential, "credentialSubject": {**credential["credentialSubject"], "licence": "casino"}}
    page.fill("#verify-text", json.dumps(tampered))
    page.click("#verify-form button[type=submit]")
    page.wait_for_selector("#credential-check[data-state=fail]", timeout=20_000)
    assert _steps(page, "#credential-check").get("vc_signature") == "fail"
    page.wait_for_selector("#verify-server[data-state=bad]")

    # 7. What left the browser: the document's hash, never the document; no private key.
    assert not recorded.find(document.read_bytes()) and not recorded.find(document.read_bytes()[:24])
    applied = [json.loads(body) for url, body in recorded.bodies if url.endswith("/api/v1/events")]
    assert [event["data"]["documents"] for event in applied] == [[digest]]
    assert applied[0]["source"] == citizen and applied[0]["signer"] == key["id"]
    for _, body in recorded.bodies:
        text = body.decode("utf-8", "replace")
        assert "PRIVATE KEY" not in text and '"d":' not in text and "pkcs8" not in text.lower()


def test_a_refused_application_names_its_failed_condition(
    page: Any, platform: Platform, counter: Counter, tmp_path: Path
) -> None:
    key = _make_key(page)
    citizen = counter.enrol(key["public"])
    business = counter.business(citizen)
    unregistered = tmp_path / "scan.pdf"
    unregistered.write_bytes(b"%PDF not registered by anyone " + secrets.token_bytes(8))
    page.goto("/service/apply?lang=en")
    page.fill("#signin-principal", "c-somebody-else")  # not whose key this is: refused, and said so
    page.click("#signin-button")
    page.wait_for_selector("#signin-message[data-state=bad]")
    assert "unauthenticated" in page.inner_text("#signin-message")
    _sign_in(page, citizen, typed=False)
    page.wait_for_selector(f"#apply-business option[value='{business}']", state="attached")
    page.select_option("#apply-business", business)
    page.set_input_files("#apply-documents", str(unregistered))
    page.wait_for_selector("#apply-hashes li[data-sha256]")
    page.click("#apply-submit")
    page.wait_for_selector("#case[data-state=rejected]", timeout=30_000)
    assert "every supporting document must be registered" in page.inner_text("#case-reason")
    assert page.is_hidden("#case-issued")
    application = page.url.rsplit("/", 1)[1]
    # No credential for a refused licence, and none for anyone but the applicant.
    status = page.evaluate(
        """async (id) => (await fetch(`/api/v1/me/licences/${id}/credential`, {headers: GovKeys.authHeaders()})).status""",
        application,
    )
    assert status == 409
    with httpx.Client(base_url=platform.url, timeout=30, headers={"X-Forwarded-For": "100.67.0.3"}) as client:
        assert client.get(f"/api/v1/me/licences/{application}/credential").status_code == 401


def test_my_services_lists_cases_credentials_and_reads_and_erases_on_request(
    browser: Any, platform: Platform, counter: Counter, recorded: Recorded, shots: Path
) -> None:
    # The demo's citizen imports the key the CLI wrote (PKCS#8 PEM) into the browser.
    pem = DataDir(platform.data).key_file("citizen").read_text()
    seed = SigningKey.load(DataDir(platform.data).key_file("citizen"))._private.private_bytes_raw()
    context = _context(browser, platform, recorded, viewport=PHONE)
    page = context.new_page()
    try:
        page.goto("/service/keys")
        page.wait_for_selector("#key-status:not(:empty)")
        page.fill("#key-pem", pem)
        page.click("#key-import button[type=submit]")
        page.wait_for_selector("#key-message[data-state=ok]")
        assert page.input_value("#key-pem") == ""
        page.goto("/service/mine")
        _sign_in(page, platform.summary["citizen_id"])
        page.wait_for_selector("#mine-cases:not([hidden]) tbody tr")
        cases = page.inner_text("#mine-cases")
        assert "APP-0001" in cases and "REQ-0001" in cases and "已发证" in cases
        page.wait_for_selector("#mine-credentials li")
        assert "L-APP-0001" in page.inner_text("#mine-credentials")
        page.wait_for_selector("#mine-log:not([hidden]) tbody tr")
        assert page.locator("#mine-log tbody tr").count() >= platform.summary["access_log_entries"] >= 1
        _no_tofu(page, shots, "service-mine")

        # A fresh citizen erases their data: the request is theirs, signed here.
        page.evaluate("() => GovKeys.forget()")
        fresh = SigningKey.generate()
        page.goto("/service/keys")
        page.fill("#key-pem", fresh.to_pem().decode())
        page.click("#key-import button[type=submit]")
        page.wait_for_selector("#key-message[data-state=ok]")
        citizen = counter.enrol(fresh.public.hex)
        page.goto("/service/mine")
        _sign_in(page, citizen)
        page.wait_for_selector("#erase-fields:not([disabled])")
        assert page.inner_text("#mine-cases-empty") == i18n.translator("zh-CN")("service.js.cases_none")
        page.click("#erase-submit")  # not confirmed yet: the browser's own check holds the form back
        assert page.evaluate("() => document.getElementById('erase-confirm').validity.valueMissing")
        assert not [u for u, _ in recorded.bodies if u.endswith("/api/v1/events")]
        page.check("#erase-confirm")
        page.click("#erase-submit")
        page.wait_for_selector("#erase-message[data-state=ok]", timeout=30_000)
        erased = [json.loads(b) for u, b in recorded.bodies if u.endswith("/api/v1/events")]
        assert [(e["type"], e["source"], e["data"]["subject"]) for e in erased] == [
            ("personal_data.erased", citizen, citizen)
        ]
    finally:
        context.close()
    assert not recorded.requests.elsewhere(platform.url)
    secrets_of = [seed, fresh._private.private_bytes_raw()]
    for secret in secrets_of:
        for form in (secret.hex(), base64.b64encode(secret).decode(), base64.urlsafe_b64encode(secret).decode()[:40]):
            assert not recorded.find(form.encode()), "a private key left the browser"
    assert not recorded.find(b"PRIVATE KEY")


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_every_service_page_speaks_the_language_and_has_labelled_controls(
    page: Any, language: str, shots: Path
) -> None:
    for path in ("/service", "/service/keys", "/service/apply", "/service/mine", "/service/verify"):
        page.goto(f"{path}?lang={language}")
        page.wait_for_load_state("networkidle")
        assert page.get_attribute("html", "lang") == language
        text = page.inner_text("body")
        assert "service." not in text, f"{path}: an untranslated message key"
        if page.locator("#signin").count():  # no key on this device: nothing to sign out of, no form to send
            no_key = i18n.translator(language)("service.js.no_key")
            page.wait_for_function(
                "(text) => document.getElementById('signin-status').textContent === text", arg=no_key
            )
            assert page.is_hidden("#signout-button") and page.is_hidden("#signin-form")
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                 .filter((el) => !el.labels?.length && !el.getAttribute('aria-label')).map((el) => el.id)"""
        )
        assert not unlabelled, f"{path}: controls without a label: {unlabelled}"
        _no_tofu(page, shots, f"service{path.replace('/', '-')}-{language}")
    page.goto("/service?lang=" + language)
    page.keyboard.press("Tab")  # the skip link first, then the header's links: keyboard reachable
    focused = [page.evaluate("() => document.activeElement.getAttribute('href')")]
    for _ in range(24):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("() => document.activeElement.getAttribute('href')"))
    assert "/service/keys" in focused and "/service/apply" in focused


# -- the two queries this issue adds, asked over NATS as any service would


def test_a_persons_businesses_and_cases_are_theirs_alone(platform: Platform) -> None:
    import asyncio

    import nats

    from govchain.bus import subjects
    from govchain.client import GovChainClient, LedgerQueryError
    from govchain.services.cli.demo import DEMO_BUYER_NATIONAL_ID

    citizen = platform.summary["citizen_id"]
    key = SigningKey.load(DataDir(platform.data).key_file("citizen"))
    buyer = SigningKey.load(DataDir(platform.data).key_file("buyer"))
    buyer_id = pseudonym(DEMO_BUYER_NATIONAL_ID, DataDir(platform.data).pseudonym_key(), suite=INTL)

    async def ask() -> None:
        nc = await nats.connect(platform.nats_url)
        try:
            client = GovChainClient(nc)
            mine = await client.query(subjects.REGISTRY_BUSINESSES_OF, {"owner": citizen}, as_principal=(key, citizen))
            assert [r["business_id"] for r in mine["records"]] == ["B-0001"] and mine["visibility"] == "citizen"
            for who in (None, (buyer, buyer_id)):  # the public, another citizen
                with pytest.raises(LedgerQueryError) as refused:
                    await client.query(subjects.REGISTRY_BUSINESSES_OF, {"owner": citizen}, as_principal=who)
                assert refused.value.code == "forbidden"
            cases = (await client.query(subjects.CONTRACT_CASES_OF, {"principal": citizen}))["cases"]
            assert {(c["contract_id"], c["case_key"]) for c in cases} >= {
                ("business-license", "APP-0001"),  # by the application the citizen signed
                ("land-transfer", "REQ-0001"),  # by the case's variables (the new owner)
            }
            assert all(c["state"] for c in cases)
            # A prefix of the pseudonym matches nothing: parties are compared exactly.
            assert (await client.query(subjects.CONTRACT_CASES_OF, {"principal": citizen[:-4]}))["cases"] == []
        finally:
            await nc.close()

    failed: list[BaseException] = []  # in a thread of its own: Playwright's loop may hold this one

    def run() -> None:
        try:
            asyncio.run(ask())
        except BaseException as exc:
            failed.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(120)
    if failed:
        raise failed[0]


def test_whose_key_is_told_to_its_holder_only(platform: Platform) -> None:
    key = SigningKey.load(DataDir(platform.data).key_file("citizen"))
    with httpx.Client(base_url=platform.url, timeout=30, headers={"X-Forwarded-For": "100.67.1.9"}) as client:

        def signed(by: SigningKey, key_id: str | None = None) -> dict[str, str]:
            challenge = client.post("/api/v1/auth/challenge").json()["challenge"]
            return {
                "key_id": key_id or by.key_id,
                "challenge": challenge,
                "signature": by.sign(challenge.encode()).hex(),
            }

        body = signed(key)
        answer = client.post("/api/v1/me/principal", json=body)
        assert answer.status_code == 200 and answer.json() == {
            "principal": platform.summary["citizen_id"],
            "kind": "citizen",
        }
        assert client.post("/api/v1/me/principal", json=body).status_code == 409  # a challenge is spent once
        forged = signed(SigningKey.generate(), key.key_id)  # someone else signs for this key
        assert client.post("/api/v1/me/principal", json=forged).json()["error"]["code"] == "unauthenticated"
        stranger = signed(SigningKey.generate())
        assert client.post("/api/v1/me/principal", json=stranger).json()["error"]["code"] == "unknown_key"


# -- the catalogues, without a browser

GATEWAY = Path(service_desk.__file__).parent


def test_every_message_the_service_pages_and_script_name_is_in_both_catalogues() -> None:
    zh, en = i18n.catalogue("zh-CN"), i18n.catalogue("en")
    own = {k for k in zh if k.startswith("service.")}
    assert own and own == {k for k in en if k.startswith("service.")}
    for template in (GATEWAY / "templates" / "service").glob("*.html"):
        text = template.read_text(encoding="utf-8")
        for key, joined in re.findall(r"""\bth?\(\s*["']([a-z_.0-9-]+)["']\s*(~?)""", text):
            assert any(k.startswith(key) for k in zh) if joined else key in zh, f"{template.name}: {key}"
        bare = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", " ", text, flags=re.S)
        bare = re.sub(r"<script.*?</script>|<[^>]*>", " ", bare, flags=re.S)
        assert not re.findall(r"[A-Za-z\u4e00-\u9fff]{2,}", bare), f"{template.name} has text of its own"
    script = (GATEWAY / "static" / "service.js").read_text(encoding="utf-8")
    named = set(re.findall(r'"((?:service|check)\.[a-z_.]+[a-z_])"', script))
    named |= {f"service.check.why.{k}" for k in re.findall(r'new Problem\("([a-z_]+)"', script)}
    named |= {f"service.check.why.{k}" for k in re.findall(r'fetchJson\([^,]+, "([a-z_]+)"\)', script)}
    named |= {  # a step of verify.js's own (genesis, the witnessed checkpoint) takes its message from there
        f"service.check.step.{k}" for k in re.findall(r'step\("([a-z_]+)"', script) if f"check.step.{k}" not in zh
    }
    assert "service.check.why.vc_signature" in named and "service.js.erased" in named
    assert named <= set(zh) and named <= set(en), sorted(named - set(zh))
    assert not re.search(r"[\u4e00-\u9fff]", script)  # no message of its own, in either language


# -- hostile input on the new routes


ROUTES = sorted((method, route.path) for route in service_desk.router.routes for method in route.methods)  # type: ignore[attr-defined]


def test_the_new_routes_answer_hostile_input_below_500(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url, timeout=30) as client:
        prober = Prober(client)
        for method, path in ROUTES:
            for value in PATH_VALUES if "{" in path else [""]:
                url = (
                    path.replace("{contract_id}", value).replace("{case_key}", value).replace("{application_id}", value)
                )
                for query in (
                    {},
                    {"text": QUERY_VALUES[2]},
                    {"text": "数据"},
                    {"text": "\x00"},
                    {"text": "x" * 10_000},
                ):
                    for authorization in AUTHORIZATIONS[:4]:
                        headers = {} if authorization is None else {"Authorization": authorization}
                        prober.send(f"path {value[:20]!r}", method, url, params=query, headers=headers)
            for name, body in HOSTILE_BODIES.items():
                url = path.replace("{contract_id}", "x").replace("{case_key}", "x").replace("{application_id}", "x")
                for verb in ("POST", method):  # a POST must refuse every one of these; a GET ignores them
                    prober.send(
                        name,
                        verb,
                        url,
                        content=body,
                        headers={"Content-Type": "application/json"},
                        must_refuse=verb == "POST",
                    )
        assert prober.sent > 100 * len(ROUTES) // 2
        assert not prober.failures, "\n".join(prober.failures)
