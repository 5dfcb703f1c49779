"""The browser checks a 国密 (gm) chain's proofs itself: ``static/gm.js`` (SM3, SM2 verification,
pure JavaScript) in Debian's chromium against the standards' vectors and against signatures made
by the project's SM2 (GmSSL) and by the independent pure-Python ``gmssl``; then a whole gm demo
platform whose event pages, document check and witnessed checkpoint the browser verifies end to
end with SM3 and SM2, and where a tampered signature, path or policy fails in the browser."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import escape

from govchain.crypto import CREDENTIAL_SUITE, GM, SUITE_NAMES, sm2
from govchain.datadir import DataDir, credentials_key_name
from govchain.protocol.credentials import verify_proof
from govchain.protocol.keys import SigningKey
from govchain.services.gateway import i18n
from govchain.services.gateway.context import GATEWAY
from govchain.services.gateway.portal import BROWSER_PROFILES, templates
from govchain.transparency.checkpoint import sha256_tree_origin
from govchain.transparency.vkeys import Ed25519Verifier

from ..crypto import oracle
from ..transparency import independent_note, tlog_client
from ._browser import (
    CHROMIUM,
    Requests,
    checked,
    checkpoint_root_replaced,
    flipped,
    new_context,
    tampered_check_data,
    witnessed_path_flipped,
)
from ._signin import sign_in
from .conftest import demo_platform

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
    pytest.mark.skipif(not GM.available, reason="the gm profile needs gmssl-pyx (x86-64 wheels only)"),
]

STATIC = Path(__file__).parents[2] / "services" / "gateway" / "static"
N = sm2.N

# The page side of the unit checks: hex in, verdicts out, gm.js imported as the portal serves it.
VERIFY_ALL = """async (cases) => {
  const gm = await import("/static/gm.js");
  const bytes = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
  return cases.map(([key, signature, message]) => gm.sm2Verify(bytes(key), bytes(signature), bytes(message)));
}"""
HASH_ALL = """async (messages) => {
  const gm = await import("/static/gm.js");
  const bytes = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return messages.map((m) => hex(gm.sm3(bytes(m))));
}"""


# -- gm.js alone, served by a small local server (no platform needed)


def _serve_static() -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/static/gm.js":
                body, kind = (STATIC / "gm.js").read_bytes(), "text/javascript"
            else:
                body, kind = b'<!doctype html><meta charset="utf-8"><title>gm</title>', "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def module_page(browser: Any) -> Iterator[Any]:
    server = _serve_static()
    context = browser.new_context(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    page = context.new_page()
    page.goto("/")
    yield page
    context.close()
    server.shutdown()


def _js_verify(page: Any, cases: list[tuple[bytes, bytes, bytes]]) -> list[bool]:
    return page.evaluate(VERIFY_ALL, [[k.hex(), s.hex(), m.hex()] for k, s, m in cases])  # type: ignore[no-any-return]


def test_sm3_gives_the_standards_digests_and_agrees_with_two_others_at_every_padding_edge(module_page: Any) -> None:
    vectors = oracle.vector("sm3_gbt32905.json")["vectors"]  # GB/T 32905 A.1 "abc", A.2 512 bits
    got = module_page.evaluate(HASH_ALL, [v["message_hex"] for v in vectors])
    assert got == [v["digest"] for v in vectors]
    # Lengths around the 56-byte padding limit and block edges, and several blocks.
    messages = [secrets.token_bytes(n) for n in (0, 1, 31, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 4099)]
    got = module_page.evaluate(HASH_ALL, [m.hex() for m in messages])
    assert got == [sm2.sm3(m).hex() for m in messages] == [oracle.sm3(m).hex() for m in messages]


def test_the_curve_z_and_the_published_signature_of_gbt_32918_5(module_page: Any) -> None:
    example = oracle.vector("sm2_gbt32918_5.json")  # Annex A: on the recommended curve itself
    key = "04" + example["public_key_x"] + example["public_key_y"]
    got = module_page.evaluate(
        """async ([key, message]) => {
          const gm = await import("/static/gm.js");
          const bytes = (hex) => Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));
          const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
          const z = gm.userHash(bytes(key));
          const m = new TextEncoder().encode(message);
          const e = gm.sm3(Uint8Array.from([...z, ...m]));
          const curve = Object.fromEntries(Object.entries(gm.CURVE).map(([k, v]) => [k, v.toString(16)]));
          return { curve, z: hex(z), e: hex(e), id: new TextDecoder().decode(gm.DEFAULT_ID) };
        }""",
        [key, example["message"]],
    )
    assert got["curve"] == {k: v.lstrip("0") for k, v in example["curve"].items()}
    assert (got["z"], got["e"], got["id"]) == (example["z"], example["e"], example["id"])
    signature = bytes.fromhex(example["r"] + example["s"])
    message = example["message"].encode()
    other = bytes.fromhex(key[:-2] + "00")  # not on the curve: refused, not "verified with another key"
    assert _js_verify(module_page, [(bytes.fromhex(key), signature, message)]) == [True]
    assert _js_verify(module_page, [(bytes.fromhex(key), signature, message + b".")]) == [False]
    assert _js_verify(module_page, [(other, signature, message)]) == [False]


def test_signatures_of_the_projects_sm2_and_of_the_oracle_verify_and_all_three_agree_on_each(
    module_page: Any,
) -> None:
    """GmSSL (the chain's signer) and the pure-Python gmssl sign; gm.js, GmSSL and gmssl each judge
    every signature and every altered one alike."""
    cases: list[tuple[bytes, bytes, bytes]] = []
    for size in (0, 1, 32, 300, 2000):
        message = secrets.token_bytes(size)
        private = GM.generate_private_key()
        cases.append((private.public.raw, GM.sign(private, message), message))
        d, public = sm2.generate()
        cases.append((public, oracle.sign(d, public, message), message))
    altered = []
    for key, signature, message in cases:
        flipped = bytearray(signature)
        flipped[secrets.randbelow(64)] ^= 1 << secrets.randbelow(8)
        altered.append((key, bytes(flipped), message))
        altered.append((key, signature, message + b"\x00"))
    found = _js_verify(module_page, cases + altered)
    assert found == [True] * len(cases) + [False] * len(altered)
    for (key, signature, message), verdict in zip(cases + altered, found, strict=True):
        assert GM.verify(GM.public_key_from_bytes(key), message, signature) is verdict
        assert oracle.verify(key, message, signature) is verdict


def _scalar(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _small_point() -> tuple[int, int]:
    """A point of the curve with x below 2^256 − p, so x + p still fits in 32 bytes."""
    for x in range(1, 1000):
        rhs = (x**3 + sm2.A * x + sm2.B) % sm2.P
        y = pow(rhs, (sm2.P + 1) // 4, sm2.P)  # p ≡ 3 (mod 4): a square root, when one exists
        if y * y % sm2.P == rhs:
            return x, y
    raise AssertionError("no small x on the curve")


def test_out_of_range_signatures_and_bad_keys_are_refused_not_thrown(module_page: Any) -> None:
    private = GM.generate_private_key()
    key, message = private.public.raw, b"block hash"
    signature = GM.sign(private, message)
    r, s = signature[:32], signature[32:]
    refused = [
        (key, _scalar(0) + s, message),  # r = 0
        (key, _scalar(N) + s, message),  # r = n
        (key, r + _scalar(0), message),  # s = 0
        (key, r + _scalar(N), message),  # s = n
        (key, b"\xff" * 32 + s, message),  # r = 2^256 - 1
        (key, _scalar(1) + _scalar(N - 1), message),  # r + s = n: t = 0
        (key, signature[:63], message),  # short
        (key, signature + b"\x00", message),  # long
        (key[:-1] + bytes([key[-1] ^ 1]), signature, message),  # off the curve
        (b"\x02" + key[1:33], signature, message),  # compressed: not the chain's encoding
        (b"\x05" + key[1:], signature, message),  # wrong prefix
        (b"\x04" + bytes(64), signature, message),  # (0, 0) is not on the curve
        (b"", signature, message),
    ]
    assert _js_verify(module_page, refused) == [False] * len(refused)
    assert _js_verify(module_page, [(key, signature, message)]) == [True]  # the same inputs, unaltered
    for key_bytes, sig, msg in refused:
        if key_bytes == key:  # the Python suite refuses the same signatures
            assert GM.verify(private.public, msg, sig) is False

    # Coordinates are taken as given, not reduced: x + p names the same residue but is not the
    # point's encoding, so it is no key (GB/T 32918.1 asks 0 <= x, y < p).
    x, y = _small_point()
    points = [bytes([4]) + _scalar(a) + _scalar(y) for a in (x, x + sm2.P)]
    valid = module_page.evaluate(
        """async (keys) => {
          const gm = await import("/static/gm.js");
          const bytes = (hex) => Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));
          return keys.map((k) => gm.publicKeyPoint(bytes(k)) !== null);
        }""",
        [k.hex() for k in points],
    )
    assert valid == [True, False]
    assert GM.public_key_from_bytes(points[0]).raw == points[0]  # Python agrees the first is a key

    thrown = module_page.evaluate(
        """async () => {
          const gm = await import("/static/gm.js");
          try { gm.sm2Verify("04", new Uint8Array(64), new Uint8Array(0)); return null; }
          catch (error) { return error.name; }
        }"""
    )
    assert thrown == "TypeError"  # a string where bytes belong is the caller's bug, said loudly


# -- a gm platform, checked end to end in the browser


@pytest.fixture(scope="module")
def gm_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``govchain demo --crypto gm --keep``: the demo's whole scenario on a gm chain, its two
    witnesses cosigning SM3 checkpoints; stopped with Ctrl-C at the end."""
    data = tmp_path_factory.mktemp("web-gm") / "node"
    with demo_platform(data, {"GOVCHAIN_GATEWAY_RATE_LIMIT": "120/minute"}, "--crypto", "gm") as summary:
        assert summary["ok"] and summary["crypto"] == "gm" and summary["witness_cosignatures"] == 2, summary
        yield summary


@pytest.fixture
def requests() -> Requests:
    return Requests()


@pytest.fixture
def page(browser: Any, gm_platform: dict[str, Any], requests: Requests) -> Iterator[Any]:
    context = new_context(browser, gm_platform["portal_url"], requests=requests)
    yield context.new_page()
    context.close()
    assert not requests.elsewhere(gm_platform["portal_url"]), requests.elsewhere(gm_platform["portal_url"])


def _api(gm_platform: dict[str, Any], path: str) -> dict[str, Any]:
    with httpx.Client(
        base_url=gm_platform["portal_url"], timeout=30, headers={"X-Forwarded-For": "100.66.0.2"}
    ) as client:
        answer = client.get(path)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]


def _event_id(gm_platform: dict[str, Any]) -> str:
    return str(gm_platform["committed_event_ids"][2])


ALL_STEPS = {
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


def test_the_browser_verifies_a_gm_event_end_to_end_with_sm3_and_sm2(
    page: Any, gm_platform: dict[str, Any], requests: Requests
) -> None:
    event_id = _event_id(gm_platform)
    page.goto(f"/events/{event_id}?lang=en")
    state, steps = checked(page, timeout_ms=30_000)
    section = page.locator("#browser-check")
    assert state == "ok", section.inner_text()
    assert steps == ALL_STEPS
    assert section.get_attribute("data-crypto") == "gm" and len(section.get_attribute("data-cosigners").split(",")) == 2
    en = i18n.catalogue("en")
    text = section.inner_text()
    assert en["check.passed"] in text and "SM3" in text and "SM2" in text and "SHA-256" not in text
    assert any(url.endswith("/static/gm.js") for url in requests.urls)  # the page's own SM2/SM3

    # What the browser checked is a gm chain's, not something SHA-256 or Ed25519 would pass.
    genesis = _api(gm_platform, "/api/v1/blocks/0")
    data = genesis["events"][0]["data"]
    assert data["crypto_profile"] == "gm" and len(data["orderer_keys"][0]) == 130
    assert genesis["hash"] == sm2.sm3(_canonical(genesis["header"])).hex()
    assert genesis["hash"] in section.locator(".anchor").inner_text()
    assert genesis["hash"] != hashlib.sha256(_canonical(genesis["header"])).hexdigest()
    proof = _api(gm_platform, f"/api/v1/events/{event_id}")["proof"]
    assert len(proof["head"]["signature"]) == 128 and proof["path"]


def _canonical(value: Any) -> bytes:
    from govchain.protocol.canonical import canonical_bytes

    return canonical_bytes(value)


def test_the_browser_profiles_are_the_chains_profiles(page: Any) -> None:
    """verify.js has a suite for every profile a chain can name, and the portal offers the check
    for exactly those (so the "unavailable" page is left for a profile the script lacks)."""
    page.goto("/")
    checked(page, timeout_ms=30_000)
    profiles = page.evaluate("async () => (await import('/static/verify.js')).PROFILES")
    assert set(profiles) == set(BROWSER_PROFILES) == set(SUITE_NAMES)


def test_a_gm_home_page_checks_the_witnessed_checkpoint(page: Any) -> None:
    page.goto("/")
    state, steps = checked(page, timeout_ms=30_000)
    assert state == "ok", page.locator("#browser-check").inner_text()
    assert steps == {"genesis": "ok", "checkpoint_log": "ok", "policy": "ok", "cosigned": "ok"}
    assert (
        i18n.catalogue("zh-CN")["check.step.checkpoint_log.gm"].split("}")[-1]
        in page.locator("#browser-check").inner_text()
    )


def test_the_document_check_on_a_gm_chain(page: Any, tmp_path: Path) -> None:
    """The file's fingerprint is SHA-256 on every chain (the payload's ``sha256`` field); its
    registration event is then checked with SM3 and SM2."""
    genuine = tmp_path / "licence.txt"
    genuine.write_bytes(b"land-bureau document 3")
    page.goto("/verify?lang=en")
    page.set_input_files("input[type=file]", str(genuine))
    page.click("form button")
    state, steps = checked(page, timeout_ms=30_000)
    assert state == "ok", page.locator("#browser-check").inner_text()
    assert steps["file"] == "ok" and steps["signature"] == "ok" and steps["leaf"] == "ok" and steps["document"] == "ok"


def _head_signature_flipped(data: dict[str, Any]) -> None:
    head = data["proofs"][0]["proof"]["head"]
    head["signature"] = flipped(head["signature"])


def _head_signature_s_zeroed(data: dict[str, Any]) -> None:
    head = data["proofs"][0]["proof"]["head"]
    head["signature"] = head["signature"][:64] + "0" * 64


def _path_flipped(data: dict[str, Any]) -> None:
    path = data["proofs"][0]["proof"]["path"]
    path[0] = flipped(path[0])


def _leaf_hash_as_sha256(data: dict[str, Any]) -> None:
    """The leaf hash a SHA-256 verifier would compute: not the gm chain's."""
    item = data["proofs"][0]
    item["proof"]["leaf_hash"] = hashlib.sha256(b"\x00" + _canonical(item["event"])).hexdigest()


def _policy_signature_flipped(data: dict[str, Any]) -> None:
    event = data["witnessed"]["policy"]["event"]
    event["signature"] = flipped(event["signature"])


@pytest.mark.parametrize(
    ("change", "failed", "passed"),
    [
        (_head_signature_flipped, "signature", ["genesis", "head_hash"]),
        (_head_signature_s_zeroed, "signature", ["genesis", "head_hash"]),
        (_path_flipped, "inclusion", ["signature", "root"]),
        (_leaf_hash_as_sha256, "inclusion", ["signature", "root"]),
        (_policy_signature_flipped, "policy", ["leaf", "checkpoint_log"]),
        (checkpoint_root_replaced, "checkpoint_log", ["leaf"]),
        (witnessed_path_flipped, "witnessed_inclusion", ["checkpoint_log", "policy", "cosigned"]),
    ],
)
def test_a_tampered_gm_proof_fails_in_the_browser(
    page: Any, gm_platform: dict[str, Any], change: Callable[[dict[str, Any]], None], failed: str, passed: list[str]
) -> None:
    event_id = _event_id(gm_platform)
    tampered_check_data(page, f"**/events/{event_id}*", change)
    page.goto(f"/events/{event_id}")
    state, steps = checked(page, timeout_ms=30_000)
    assert state == "fail" and steps[failed] == "fail", page.locator("#browser-check").inner_text()
    assert all(steps[name] == "ok" for name in passed), steps
    assert page.locator("#proof-status.ok").count() == 1  # the server's claim stands apart, unchanged


def _genesis_profile(value: str | None) -> Callable[[dict[str, Any]], None]:
    def change(genesis: dict[str, Any]) -> None:
        data = genesis["events"][0]["data"]
        if value is None:
            del data["crypto_profile"]
        else:
            data["crypto_profile"] = value

    return change


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        (_genesis_profile(None), "genesis_hash"),  # read as intl: SHA-256 misses the pinned SM3 hash
        (_genesis_profile("intl"), "genesis_hash"),
        (_genesis_profile("pq"), "crypto_profile"),  # no suite for it: said, not guessed
        (_genesis_profile("__proto__"), "crypto_profile"),
    ],
)
def test_a_genesis_naming_another_profile_fails(
    page: Any, gm_platform: dict[str, Any], change: Callable[[dict[str, Any]], None], failed: str
) -> None:
    """The profile comes from the genesis the page pins: a server that names another one, to have
    the browser check with weaker or absent algorithms, is caught before any other step."""

    def handle(route: Any) -> None:
        response = route.fetch()
        genesis = response.json()
        change(genesis)
        route.fulfill(response=response, body=json.dumps(genesis))

    page.route("**/genesis/*.json", handle)
    page.goto(f"/events/{_event_id(gm_platform)}")
    state, steps = checked(page, timeout_ms=30_000)
    assert state == "fail" and steps == {failed: "fail"}, page.locator("#browser-check").inner_text()


def test_a_profile_the_script_lacks_is_shown_as_unavailable() -> None:
    """The honest fallback, for a chain whose profile verify.js has no suite for."""
    html = templates.get_template("browser_check.html").render(
        t=i18n.translator("en"), browser_can_check=False, crypto_profile="pq"
    )
    assert 'data-state="unavailable"' in html and 'data-crypto="pq"' in html and "/static/verify.js" not in html
    assert str(escape(i18n.translator("en")("crypto.browser_unavailable", profile="pq"))) in html
    assert "pq" not in BROWSER_PROFILES


# -- the licence credential of a gm chain, checked in the browser

CREDENTIAL_DONE = "#credential-check[data-state=ok], #credential-check[data-state=fail]"


def _licence_credential(client: httpx.Client, gm_platform: dict[str, Any]) -> httpx.Response:
    """The demo citizen's licence credential (APP-0001), asked for as the citizen, signed in with
    the citizen's SM2 key."""
    key = SigningKey.load(DataDir(Path(gm_platform["data_dir"])).key_file("citizen"))
    headers = sign_in(client, gm_platform["citizen_id"], key)
    return client.get("/api/v1/me/licences/APP-0001/credential", headers=headers)


@pytest.fixture(scope="module")
def gm_credential(gm_platform: dict[str, Any]) -> dict[str, Any]:
    """The gateway of a gm chain signs licence credentials with an Ed25519 credentials key
    registered on chain: the demo registered it (as `govchain identity add-credentials-key
    --owner gateway` does), so the route answers at once."""
    with _portal(gm_platform) as client:
        answer = _licence_credential(client, gm_platform)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _portal(gm_platform: dict[str, Any]) -> httpx.Client:
    return httpx.Client(base_url=gm_platform["portal_url"], timeout=60, headers={"X-Forwarded-For": "100.66.0.7"})


def test_without_its_credentials_key_the_gm_gateway_answers_not_ready_naming_the_command(
    gm_platform: dict[str, Any], gm_credential: dict[str, Any]
) -> None:
    """What an operator's own gm gateway answers until the key is registered: 503 naming the
    command (the key file moved aside for one request, as on a fresh deployment)."""
    path = DataDir(Path(gm_platform["data_dir"])).key_file(credentials_key_name(GATEWAY))
    aside = path.with_name(path.name + ".aside")
    path.rename(aside)
    try:
        with _portal(gm_platform) as client:
            before = _licence_credential(client, gm_platform)
    finally:
        aside.rename(path)
    assert before.status_code == 503, before.text
    assert before.json()["error"]["code"] == "not_ready"
    assert "add-credentials-key --owner gateway" in before.json()["error"]["message"]


def test_the_gm_licence_credential_is_ed25519_by_a_credentials_key_the_chain_names(
    gm_platform: dict[str, Any], gm_credential: dict[str, Any]
) -> None:
    key = SigningKey.load(DataDir(Path(gm_platform["data_dir"])).key_file(credentials_key_name(GATEWAY)))
    assert key.suite is CREDENTIAL_SUITE
    assert gm_credential["proof"]["verificationMethod"] == f"did:govchain:gateway#{key.key_id}"
    assert verify_proof(gm_credential, lambda vm: key.public if vm.endswith(key.key_id) else None).valid
    licence, registered = gm_credential["evidence"]
    assert licence["eventType"] == "license.issued" and registered["eventType"] == "key.added"
    event = _api(gm_platform, f"/api/v1/events/gateway/{registered['eventId']}")["event"]
    # the public view hides a key's owner (a citizen's could be one); the browser puts the issuer back
    assert event["data"] == {"owner": {"redacted": True}, "public_key": key.public.hex, "purpose": "credentials"}
    assert event["source"] == "gateway"


def _check_credential(page: Any, credential: dict[str, Any]) -> tuple[str, dict[str, str]]:
    page.goto("/service/verify")
    page.fill("#verify-text", json.dumps(credential))
    page.click("#verify-form button[type=submit]")
    page.wait_for_selector(CREDENTIAL_DONE, timeout=60_000)
    section = page.locator("#credential-check")
    steps = {
        item.get_attribute("data-step"): item.get_attribute("data-state") for item in section.locator(".steps li").all()
    }
    return section.get_attribute("data-state"), steps


def test_the_browser_checks_a_gm_licence_credential(page: Any, gm_credential: dict[str, Any]) -> None:
    state, steps = _check_credential(page, gm_credential)
    assert state == "ok", page.inner_text("#credential-check")
    for step in ("genesis", "issuer_key_on_chain", "vc_signature", "event_signature", "head_hash", "signature"):
        assert steps.get(step) == "ok", steps
    assert all(steps.get(step) == "ok" for step in ("inclusion", "leaf", "claims", "checkpoint_log", "policy")), steps
    assert "issuer_key" not in steps  # the genesis key step is intl's: a gm issuer's key is not in genesis
    page.wait_for_selector("#verify-server[data-state=ok]")


def _subject_changed(credential: dict[str, Any], page: Any) -> dict[str, Any]:
    return {**credential, "credentialSubject": {**credential["credentialSubject"], "licence": "casino"}}


def _key_evidence_dropped(credential: dict[str, Any], page: Any) -> dict[str, Any]:
    return {**credential, "evidence": credential["evidence"][:1]}


def _served_event_signature_flipped(source: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A server that alters the event of ``source`` it serves: its SM2 signature no longer holds."""

    def change(credential: dict[str, Any], page: Any) -> dict[str, Any]:
        def handle(route: Any) -> None:
            response = route.fetch()
            found = response.json()
            found["event"]["signature"] = flipped(found["event"]["signature"])
            route.fulfill(response=response, body=json.dumps(found))

        page.route(f"**/api/v1/events/{source}/*", handle)
        return credential

    return change


@pytest.mark.parametrize(
    ("change", "failed", "passed"),
    [
        (_subject_changed, "vc_signature", ["genesis", "issuer_key_on_chain"]),
        (_key_evidence_dropped, "issuer_key_evidence", ["genesis"]),
        (_served_event_signature_flipped("gateway"), "issuer_key_signature", ["genesis"]),
        (
            _served_event_signature_flipped("contract-engine"),
            "event_signature",
            ["issuer_key_on_chain", "vc_signature"],
        ),
    ],
)
def test_a_tampered_gm_licence_credential_fails_in_the_browser(
    page: Any,
    gm_credential: dict[str, Any],
    change: Callable[[dict[str, Any], Any], dict[str, Any]],
    failed: str,
    passed: list[str],
) -> None:
    state, steps = _check_credential(page, change(gm_credential, page))
    assert state == "fail" and steps.get(failed) == "fail", page.inner_text("#credential-check")
    assert all(steps.get(name) == "ok" for name in passed), steps


def test_the_sha256_tree_is_served_as_a_standard_tlog_any_client_checks(gm_platform: dict[str, Any]) -> None:
    """What a stock C2SP witness or tlog client reads of a gm chain: ``/log/sha256/checkpoint``
    signed by the genesis checkpoint key under ``<origin>/sha256``, and ``/log/sha256/tile/``
    tiles whose RFC 6962 SHA-256 tree (rebuilt by the independent client) has that root, not the
    chain's own SM3 tree of ``/log/``."""
    portal = gm_platform["portal_url"]
    with _portal(gm_platform) as client:
        note = client.get("/log/sha256/checkpoint")
        own = client.get("/log/checkpoint")
    assert note.status_code == own.status_code == 200, note.text
    key = SigningKey.load(DataDir(Path(gm_platform["data_dir"])).key_file("checkpoint"))
    origin = own.content.split(b"\n", 1)[0].decode()
    vkey = Ed25519Verifier(sha256_tree_origin(origin), key.public.raw).vkey
    text = independent_note.verify_log_signature(note.content, vkey)
    sha256_origin, size, root, _ = independent_note.read_checkpoint(text)
    assert sha256_origin == f"{origin}/sha256" and size > 0
    tree = tlog_client.TiledTree(tlog_client.http_fetcher(f"{portal}/log/sha256"), size)
    assert tree.root() == root
    chain_tree = tlog_client.TiledTree(tlog_client.http_fetcher(f"{portal}/log"), size)
    assert chain_tree.fetch("tile/0/000.p/1") != tree.fetch("tile/0/000.p/1")  # SM3 leaves, not SHA-256
