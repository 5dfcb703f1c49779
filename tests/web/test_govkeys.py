"""``static/govkeys.js`` in Debian's chromium agrees with the Python kernel byte for byte: its
RFC 8785 form equals the ``rfc8785`` package's on tricky values, the envelope it signs is one
Python's ``parse_event`` accepts and whose signature verifies, a key imported from the CLI's
PEM signs exactly as Python does (Ed25519 is deterministic), the private key cannot be
exported, and no request it makes carries private key material.

The page is served by a small local server that also plays the gateway's sign-in and submit
endpoints, checking what arrives with the kernel's own code: no platform is needed here (the
portal's journey against a live platform is in ``test_service_citizen.py``)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from govchain.protocol.envelope import make_event, parse_event
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.protocol.multikey import public_key_multibase

from ._browser import CHROMIUM

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")

GOVKEYS = Path(__file__).parents[2] / "services" / "gateway" / "static" / "govkeys.js"
PAGE = b'<!doctype html><meta charset="utf-8"><title>govkeys</title><script src="/static/govkeys.js"></script>'


class FakeGateway:
    """What the browser sent (path, body), and the key the sign-in challenge must be signed with."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, bytes]] = []
        self.public_key: PublicKey | None = None
        self.challenge = "challenge-" + "ab" * 16


def _serve(fake: FakeGateway) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/static/govkeys.js":
                self._send(200, GOVKEYS.read_bytes(), "text/javascript")
            else:
                self._send(200, PAGE, "text/html; charset=utf-8")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            fake.bodies.append((self.path, body))
            if self.path == "/api/v1/auth/challenge":
                self._send(200, json.dumps({"challenge": fake.challenge}).encode(), "application/json")
            elif self.path == "/api/v1/auth/session":
                asked = json.loads(body)
                ok = (
                    fake.public_key is not None
                    and asked["key_id"] == fake.public_key.key_id
                    and asked["challenge"] == fake.challenge
                    and fake.public_key.verify(bytes.fromhex(asked["signature"]), fake.challenge.encode())
                )
                status, answer = (
                    (200, {"token": "tok-" + asked["principal"], "principal": asked["principal"], "expires": 4e9})
                    if ok
                    else (401, {"error": {"code": "unauthenticated", "message": "the signature does not verify"}})
                )
                self._send(status, json.dumps(answer).encode(), "application/json")
            elif self.path == "/api/v1/me/principal":
                asked = json.loads(body)
                ok = fake.public_key is not None and fake.public_key.verify(
                    bytes.fromhex(asked["signature"]), asked["challenge"].encode()
                )
                status, answer = (200, {"principal": "c-found", "kind": "citizen"}) if ok else (404, {})
                self._send(status, json.dumps(answer).encode(), "application/json")
            elif self.path.startswith("/api/v1/events"):
                try:
                    envelope, _ = parse_event(body)
                except Exception as exc:
                    answer = {"error": {"code": "malformed_envelope", "message": str(exc)[:200]}}
                    self._send(400, json.dumps(answer).encode(), "application/json")
                    return
                receipt = {"status": "committed", "event_id": envelope.id, "source": envelope.source, "height": 7}
                self._send(201, json.dumps(receipt).encode(), "application/json")
            else:
                self._send(404, b"{}", "application/json")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def fake() -> FakeGateway:
    return FakeGateway()


@pytest.fixture(scope="module")
def base_url(fake: FakeGateway) -> Iterator[str]:
    server = _serve(fake)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    page.goto("/")
    page.wait_for_function("() => window.GovKeys !== undefined")
    yield page
    context.close()


TRICKY: list[Any] = [
    # keys sorted by UTF-16 code units: U+1F600 (D83D DE00) before U+E000 and U+FB33, unlike code points
    {"\ue000": 1, "\U0001f600": 2, "\ufb33": 3, "a": 4, "A": 5, "": 6, "\u00e9": 7, "\u20ac": 8, "10": 9, "9": 10},
    {"numbers": [0, -0.0, 1.0, -1, 1e21, 1e-7, 0.000001, 333333333.33333329, 4.5, 2e-3, 1e30, 5e-324]},
    {"limits": [9007199254740991, -9007199254740991, 1.7976931348623157e308, 0.1, 123456789012.5]},
    {"escapes": '\u0000\u0001\u001f "\\/\b\f\n\r\t\u007f\u0080\u2028\u2029 中文 \U0001f600'},
    {"nested": [[], {}, [{"b": None, "a": [True, False]}], "x"], "z": {"y": {"x": {"w": []}}}},
    "just a string",
    [1, "2", None],
    {"申请": "营业执照", "business_id": "B-0001", "documents": ["ab" * 32]},
]


@pytest.mark.parametrize("value", TRICKY, ids=range(len(TRICKY)))
def test_canonical_equals_python_rfc8785(page: Any, value: Any) -> None:
    assert page.evaluate("(v) => GovKeys.canonical(v)", value) == rfc8785.dumps(value).decode("utf-8")


def test_canonical_refuses_what_has_no_rfc8785_form(page: Any) -> None:
    refused = page.evaluate(
        """() => [NaN, Infinity, 2 ** 53, -(2 ** 53), 1e20, "\\ud800", {k: "x\\udc00"}, () => 1].map((v) => {
             try { GovKeys.canonical(v); return null; } catch (e) { return e.code; } })"""
    )
    assert refused == ["canonical"] * 8
    for value in (float("nan"), 2**53):
        with pytest.raises(rfc8785.CanonicalizationError):
            rfc8785.dumps(value)
    # 1e20 has an RFC 8785 form, "100000000000000000000", but that text reads back as an integer
    # beyond 2^53, which the kernel's canonical form refuses: the browser refuses it at once.
    with pytest.raises(rfc8785.CanonicalizationError):
        rfc8785.dumps(json.loads(rfc8785.dumps(1e20)))


def test_a_browser_key_signs_an_envelope_python_accepts(page: Any) -> None:
    key = page.evaluate("() => GovKeys.generate('phone')")
    assert key["keyId"] == PublicKey.from_hex(key["publicKeyHex"]).key_id
    assert key["publicKeyMultibase"] == public_key_multibase(PublicKey.from_hex(key["publicKeyHex"]))
    data = {"application_id": "APP-7", "applicant": "c-0123", "kind": "餐饮 food", "documents": ["ab" * 32], "n": 1.5}
    for subject in (None, "B-0001"):
        signed = page.evaluate(
            "(a) => GovKeys.signEvent({source: 'c-0123', type: 'license.applied', data: a.data, subject: a.subject})",
            {"data": data, "subject": subject},
        )
        envelope, forms = parse_event(json.dumps(signed, ensure_ascii=False).encode())
        assert envelope.has_valid_signature(PublicKey.from_hex(key["publicKeyHex"]))
        assert envelope.signer == key["keyId"] and envelope.data == data and envelope.subject == subject
        assert ("subject" in signed) is (subject is not None)
        assert forms.signed == rfc8785.dumps(signed)  # the very bytes a block stores
        tampered = {**signed, "data": {**data, "kind": "other"}}
        assert not parse_event(json.dumps(tampered).encode())[0].has_valid_signature(
            PublicKey.from_hex(key["publicKeyHex"])
        )


def test_an_imported_cli_pem_signs_exactly_as_python_does(page: Any) -> None:
    key = SigningKey.generate()
    kept = page.evaluate("(pem) => GovKeys.importPem(pem, 'from the CLI')", key.to_pem().decode())
    assert kept["keyId"] == key.key_id and kept["publicKeyHex"] == key.public.hex
    assert kept["publicKeyMultibase"] == public_key_multibase(key.public)
    assert page.evaluate("() => GovKeys.current()")["keyId"] == key.key_id
    fields = {"event_id": "e-1", "time": "2026-12-05T06:00:00.123000Z"}
    signed = page.evaluate(
        """() => GovKeys.signEvent({source: 'c-9', type: 'case.rated', id: 'e-1',
             time: '2026-12-05T06:00:00.123000Z', data: {service_type: 'business-license', case_id: 'A', score: 5}})"""
    )
    python = make_event(
        key,
        source="c-9",
        type="case.rated",
        data={"service_type": "business-license", "case_id": "A", "score": 5},
        **fields,
    )
    assert signed == python.to_dict()  # Ed25519 is deterministic: the same bytes, the same signature


def test_a_pem_that_is_not_an_ed25519_key_is_refused(page: Any) -> None:
    codes = page.evaluate(
        """async () => { const out = [];
             for (const pem of ["", "hello", "-----BEGIN PRIVATE KEY-----\\n!!!\\n-----END PRIVATE KEY-----",
                                "-----BEGIN PRIVATE KEY-----\\nMC4CAQAwBQYDK2VwBCIEIA==\\n-----END PRIVATE KEY-----"]) {
               try { await GovKeys.importPem(pem, "x"); out.push(null); } catch (e) { out.push(e.code); } }
             return out; }"""
    )
    assert codes == ["bad_pem"] * 4


def test_the_private_key_stays_non_extractable_in_indexeddb(page: Any) -> None:
    page.evaluate("() => GovKeys.generate('a')")
    stored = page.evaluate(
        """() => new Promise((resolve, reject) => {
             const open = indexedDB.open("govchain-keys");
             open.onsuccess = () => {
               const get = open.result.transaction("keys").objectStore("keys").getAll();
               get.onsuccess = async () => {
                 const out = [];
                 for (const r of get.result) {
                   let exported = "refused";
                   try { await crypto.subtle.exportKey("pkcs8", r.privateKey); exported = "exported"; }
                   catch { /* a non-extractable key */ }
                   out.push({type: r.privateKey.type, extractable: r.privateKey.extractable, exported});
                 }
                 resolve(out);
               };
             };
             open.onerror = reject;
           })"""
    )
    assert stored and all(s == {"type": "private", "extractable": False, "exported": "refused"} for s in stored)
    shown = page.evaluate("() => GovKeys.current()")
    assert set(shown) == {"keyId", "publicKeyHex", "publicKeyMultibase", "label", "created"}


def test_forget_and_use(page: Any) -> None:
    first = page.evaluate("() => GovKeys.generate('one')")
    second = page.evaluate("() => GovKeys.generate('two')")
    assert page.evaluate("() => GovKeys.current()")["keyId"] == second["keyId"]
    assert page.evaluate("(id) => GovKeys.use(id)", first["keyId"])["keyId"] == first["keyId"]
    page.evaluate("() => GovKeys.forget()")
    assert page.evaluate("() => GovKeys.current()") is None
    assert first["keyId"] not in {k["keyId"] for k in page.evaluate("() => GovKeys.list()")}
    code = page.evaluate("() => GovKeys.signEvent({source: 'x', type: 'a.b', data: {}}).catch((e) => e.code)")
    assert code == "no_key"


def test_sign_in_and_submit_send_no_private_key(page: Any, fake: FakeGateway) -> None:
    key = SigningKey.generate()
    fake.public_key = key.public
    fake.bodies.clear()
    page.evaluate("(pem) => GovKeys.importPem(pem, 'counter')", key.to_pem().decode())
    assert page.evaluate("() => GovKeys.authHeaders()") == {}
    held = page.evaluate("() => GovKeys.signIn('c-0123')")
    assert held["token"] == "tok-c-0123" and held["keyId"] == key.key_id
    assert page.evaluate("() => GovKeys.authHeaders()") == {"Authorization": "Bearer tok-c-0123"}
    receipt = page.evaluate(
        """async () => GovKeys.submit(await GovKeys.signEvent({source: 'c-0123', type: 'license.applied',
             data: {application_id: 'A-1', applicant: 'c-0123', business_id: 'B-1', kind: 'k', documents: []}}))"""
    )
    assert receipt["status"] == "committed" and receipt["httpStatus"] == 201
    refused = page.evaluate(
        """async () => { const e = await GovKeys.signEvent({source: 'c-0123', type: 'a.b', data: {}});
             e.signature = 'zz'; return GovKeys.submit(e).then(() => null, (err) => [err.code, err.status]); }"""
    )
    assert refused == ["malformed_envelope", 400]
    assert [path for path, _ in fake.bodies][:3] == ["/api/v1/auth/challenge", "/api/v1/auth/session", "/api/v1/events"]
    seed = key._private.private_bytes_raw()  # the secret: in no form may it have left the browser
    forms = {seed.hex(), base64.b64encode(seed).decode(), base64.urlsafe_b64encode(seed).decode().rstrip("=")}
    pem_body = "".join(key.to_pem().decode().splitlines()[1:-1])
    for _, body in fake.bodies:
        text = body.decode("utf-8", "replace")
        assert not any(secret in text for secret in (*forms, pem_body, pem_body[:40])), text
    page.evaluate("() => GovKeys.forget()")
    assert page.evaluate("() => GovKeys.authHeaders()") == {}


def test_sign_in_without_a_principal_asks_whose_key_it_is(page: Any, fake: FakeGateway) -> None:
    key = SigningKey.generate()
    fake.public_key = key.public
    fake.bodies.clear()
    page.evaluate("(pem) => GovKeys.importPem(pem, 'counter')", key.to_pem().decode())
    assert page.evaluate("() => GovKeys.whoAmI()") == {"principal": "c-found", "kind": "citizen"}
    assert page.evaluate("() => GovKeys.signIn()")["principal"] == "c-found"
    asked = [json.loads(body) for path, body in fake.bodies if path == "/api/v1/me/principal"]
    assert len(asked) == 2 and all(a["key_id"] == key.key_id for a in asked)
    session = [json.loads(body) for path, body in fake.bodies if path == "/api/v1/auth/session"]
    assert session[0]["principal"] == "c-found" and session[0]["key_id"] == key.key_id


def test_list_is_oldest_first_and_forgetting_another_key_keeps_the_one_in_use(page: Any) -> None:
    labels = [f"k{i}" for i in range(6)]  # by key id (a hash), six keys fall in creation order 1 time in 720
    made = page.evaluate(
        "async (labels) => { const out = []; for (const l of labels) out.push(await GovKeys.generate(l)); return out; }",
        labels,
    )
    assert [k["label"] for k in page.evaluate("() => GovKeys.list()")] == labels
    page.evaluate("(id) => GovKeys.forget(id)", made[2]["keyId"])
    assert page.evaluate("() => GovKeys.current()")["keyId"] == made[-1]["keyId"]  # the pointer did not move
    assert [k["keyId"] for k in page.evaluate("() => GovKeys.list()")] == [
        k["keyId"] for i, k in enumerate(made) if i != 2
    ]
    page.evaluate("(id) => GovKeys.use(id)", made[0]["keyId"])
    page.evaluate("(id) => GovKeys.forget(id)", made[-1]["keyId"])
    assert page.evaluate("() => GovKeys.current()")["keyId"] == made[0]["keyId"]
    code = page.evaluate("(id) => GovKeys.use(id).then(() => null, (e) => e.code)", made[2]["keyId"])
    assert code == "no_key" and page.evaluate("() => GovKeys.current()")["keyId"] == made[0]["keyId"]


def test_a_key_imported_again_keeps_its_place_in_the_list(page: Any) -> None:
    key = SigningKey.generate()
    first = page.evaluate("(pem) => GovKeys.importPem(pem, 'counter')", key.to_pem().decode())
    page.evaluate("() => GovKeys.generate('later')")
    again = page.evaluate("(pem) => GovKeys.importPem(pem, '')", key.to_pem().decode())
    assert again["created"] == first["created"] and again["label"] == "counter"  # an empty label keeps the old
    assert [k["label"] for k in page.evaluate("() => GovKeys.list()")] == ["counter", "later"]
    assert page.evaluate("() => GovKeys.current()")["keyId"] == key.key_id


def test_a_session_is_its_keys_alone(page: Any, fake: FakeGateway) -> None:
    key = SigningKey.generate()
    fake.public_key = key.public
    page.evaluate("(pem) => GovKeys.importPem(pem, 'mine')", key.to_pem().decode())
    other = page.evaluate("() => GovKeys.generate('other')")
    page.evaluate("(id) => GovKeys.use(id)", key.key_id)
    page.evaluate("() => GovKeys.signIn('c-0123')")
    page.evaluate("(id) => GovKeys.use(id)", key.key_id)  # the key already in use: still signed in
    page.evaluate("(id) => GovKeys.forget(id)", other["keyId"])  # another key deleted: still signed in
    assert page.evaluate("() => GovKeys.session()")["keyId"] == key.key_id
    third = page.evaluate("() => GovKeys.generate('third')")  # a new key in use: signed out
    assert page.evaluate("() => GovKeys.session()") is None and page.evaluate("() => GovKeys.authHeaders()") == {}
    page.evaluate("(id) => GovKeys.use(id)", key.key_id)
    page.evaluate("() => GovKeys.signIn('c-0123')")
    page.evaluate("(id) => GovKeys.use(id)", third["keyId"])  # switched to another key: signed out
    assert page.evaluate("() => GovKeys.session()") is None and page.evaluate("() => GovKeys.authHeaders()") == {}
    page.evaluate("(id) => GovKeys.use(id)", key.key_id)  # and switching back does not bring it back
    assert page.evaluate("() => GovKeys.session()") is None


def test_forget_unless_in_use_keeps_the_key_in_use(page: Any) -> None:
    """The keys page deletes another key with {unlessInUse: true}: if another tab has made it
    the key in use meanwhile, it is kept (one transaction checks and deletes)."""
    first = page.evaluate("() => GovKeys.generate('first')")
    second = page.evaluate("() => GovKeys.generate('second')")  # in use
    kept = page.evaluate("(id) => GovKeys.forget(id, {unlessInUse: true})", second["keyId"])
    assert kept is False and page.evaluate("() => GovKeys.current()")["keyId"] == second["keyId"]
    assert len(page.evaluate("() => GovKeys.list()")) == 2
    assert page.evaluate("(id) => GovKeys.forget(id, {unlessInUse: true})", first["keyId"]) is True
    assert [k["keyId"] for k in page.evaluate("() => GovKeys.list()")] == [second["keyId"]]


def test_a_key_switch_in_one_tab_signs_the_other_tabs_out(page: Any, fake: FakeGateway) -> None:
    """Sessions live per tab, the key in use is the device's: a tab left signed in with a key
    another tab switched away from must not go on sending its token."""
    key = SigningKey.generate()
    fake.public_key = key.public
    page.evaluate("(pem) => GovKeys.importPem(pem, 'mine')", key.to_pem().decode())
    page.evaluate("() => GovKeys.signIn('c-0123')")
    assert page.evaluate("() => GovKeys.session()")["keyId"] == key.key_id
    other_tab = page.context.new_page()
    other_tab.goto("/")
    other_tab.wait_for_function("() => window.GovKeys !== undefined")
    other_tab.evaluate("() => GovKeys.generate('a guest')")  # now the key in use, in the other tab
    page.wait_for_function("() => GovKeys.session() === null")
    assert page.evaluate("() => GovKeys.authHeaders()") == {}

    # A tab that missed the news (asleep, or opened before): checkSession() drops it on load.
    page.evaluate("(id) => GovKeys.use(id)", key.key_id)
    page.evaluate("() => GovKeys.signIn('c-0123')")
    other_tab.close()
    page.evaluate(
        """async (id) => {  // the key in use changed behind this tab's back, with no message
             const open = indexedDB.open("govchain-keys");
             await new Promise((done) => { open.onsuccess = done; });
             const t = open.result.transaction(["meta"], "readwrite");
             t.objectStore("meta").put(id, "current");
             await new Promise((done) => { t.oncomplete = done; });
             open.result.close();
           }""",
        page.evaluate("() => GovKeys.list()")[-1]["keyId"],
    )
    assert page.evaluate("() => GovKeys.session()") is not None  # still held until checked
    assert page.evaluate("() => GovKeys.checkSession()") is None
    assert page.evaluate("() => GovKeys.authHeaders()") == {}
