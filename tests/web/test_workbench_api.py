"""The officials' workbench over HTTP (issue 13): who may use it, the department's queue with
its evidence, decisions taken off the queue by the chain, the pseudonym at the counter, its
catalogue and templates, and hostile input on every workbench route."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from govchain.bus.subjects import DEFAULT
from govchain.config import Settings
from govchain.crypto import INTL
from govchain.datadir import DataDir
from govchain.protocol.keys import SigningKey
from govchain.pseudonym import pseudonym
from govchain.services.cli.demo import DEMO_NATIONAL_ID
from govchain.services.gateway import i18n, workbench
from govchain.services.gateway.errors import install_error_handlers
from govchain.services.gateway.limits import limiter

from ._workbench import LAND, MARKET, Chain, headers
from .conftest import Platform
from .test_gateway_hostile import AUTHORIZATIONS, HOSTILE_BODIES, PATH_VALUES, QUERY_NAMES, QUERY_VALUES, Prober

TEMPLATES = Path(workbench.__file__).with_name("templates") / "workbench"


@pytest.fixture(scope="module")
def chain(platform: Platform) -> Iterator[Chain]:
    with httpx.Client(base_url=platform.url, timeout=60) as http:
        yield Chain(platform, http)


@dataclass(frozen=True)
class Officer:
    name: str
    key: SigningKey
    token: str


@pytest.fixture(scope="module")
def officer(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Officer:
    """An approver, enrolment and data-steward officer of the land bureau, signed in."""
    pem = tmp_path_factory.mktemp("officer") / "wb-api-officer.pem"
    key = chain.register_official("wb-api-officer", ["approver", "enrollment", "data-steward"], pem)
    return Officer("wb-api-officer", key, chain.sign_in(key, "wb-api-officer"))


def test_the_workbench_is_for_officials_only(chain: Chain) -> None:
    for path in ("/api/v1/workbench/me", "/api/v1/workbench/queue"):
        answer = chain.http.get(path, headers=headers())
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthenticated", answer.text
    citizen = chain.sign_in(chain.key("citizen"), chain.platform.summary["citizen_id"])
    answer = chain.http.get("/api/v1/workbench/queue", headers=headers(citizen))
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "not_an_official", answer.text
    forged = chain.http.get("/api/v1/workbench/me", headers=headers("x.y"))
    assert forged.status_code == 401


def test_me_names_the_department_and_what_the_official_may_do(chain: Chain, officer: Officer) -> None:
    name, token = officer.name, officer.token
    me = chain.http.get("/api/v1/workbench/me", headers=headers(token)).json()
    assert me["principal"] == name and me["department"] == LAND and me["kind"] == "official"
    assert me["roles"] == ["approver", "data-steward", "enrollment"] and me["may_enrol"] is True
    department = chain.sign_in(chain.key(MARKET), MARKET)
    me = chain.http.get("/api/v1/workbench/me", headers=headers(department)).json()
    assert me["department"] == MARKET and me["kind"] == "department" and me["may_enrol"] is True


def test_a_land_transfer_waits_with_its_evidence_until_the_department_approves(chain: Chain, officer: Officer) -> None:
    name, token = officer.name, officer.token
    request = chain.land_request("WB-API-L1", "P-WB-API-1")
    market = chain.sign_in(chain.key(MARKET), MARKET)
    assert any(c["case_key"] == "WB-API-L1" for c in chain.waiting(market, "WB-API-L1", present=True)["cases"])
    chain.publish(chain.key(MARKET), MARKET, "land.transfer_approved", {"request_id": "WB-API-L1"})
    assert not any(c["case_key"] == "WB-API-L1" for c in chain.waiting(market, "WB-API-L1", present=False)["cases"])

    queue = chain.waiting(token, "WB-API-L1", present=True)
    assert queue["department"] == LAND and queue["official"]["principal"] == name
    (case,) = [c for c in queue["cases"] if c["case_key"] == "WB-API-L1"]
    assert case["contract_id"] == "land-transfer" and case["state"] == "pending"
    assert case["approvers"] == [LAND, MARKET] and case["approvals"] == [MARKET] and case["required"] == 2
    assert case["fields"]["from_owner"] == request["from_owner"] and case["fields"]["to_owner"] == request["to_owner"]
    assert case["fields"]["consideration"] == "960000.00"
    entered = datetime.fromisoformat(case["entered_at"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(case["deadline"].replace("Z", "+00:00")) - entered == timedelta(days=7)
    assert case["request"] == {
        "source": LAND,
        "event_id": request["receipt"]["event_id"],
        "href": f"/events/{LAND}/{request['receipt']['event_id']}",
    }
    assert case["parcel"]["location"] == "Lot P-WB-API-1, Riverside District" and case["seller_owns_parcel"] is True
    assert "owner_details" not in case["parcel"]  # no personal field without a stated purpose
    assert case["decision"] == {"approve": "land.transfer_approved", "refuse": "land.transfer_declined"}

    # The official approves for the department (signed by their own key, source: the department).
    chain.publish(officer.key, LAND, "land.transfer_approved", {"request_id": "WB-API-L1"})
    assert chain.settled("land-transfer", "WB-API-L1", token, {"recorded"})["state"] == "recorded"
    assert not any(c["case_key"] == "WB-API-L1" for c in chain.waiting(token, "WB-API-L1", present=False)["cases"])


def test_a_land_transfer_is_declined_with_a_reason_and_leaves_the_queue(chain: Chain, officer: Officer) -> None:
    token = officer.token
    chain.land_request("WB-API-L2", "P-WB-API-2")
    (case,) = [c for c in chain.waiting(token, "WB-API-L2", present=True)["cases"] if c["case_key"] == "WB-API-L2"]
    assert case["decision"]["refuse"] == "land.transfer_declined"
    chain.publish(officer.key, LAND, "land.transfer_declined", {"request_id": "WB-API-L2", "reason": "测绘资料已过期"})
    settled = chain.settled("land-transfer", "WB-API-L2", token, {"refused"})
    assert settled["vars"]["refused_because"] == f"declined by {LAND}: 测绘资料已过期"
    assert not any(c["case_key"] == "WB-API-L2" for c in chain.waiting(token, "WB-API-L2", present=False)["cases"])


def test_a_data_sharing_request_is_declined_with_a_reason(chain: Chain, officer: Officer) -> None:
    token = officer.token
    chain.sharing_request("WB-API-S1", "wb-api-parcels")
    queue = chain.waiting(token, "WB-API-S1", present=True)
    (case,) = [c for c in queue["cases"] if c["case_key"] == "WB-API-S1"]
    assert case["contract_id"] == "data-sharing" and case["fields"]["grantee"] == MARKET
    assert case["dataset"]["title"] == "Parcels wb-api-parcels" and case["approvals"] == []
    assert case["decision"] == {"approve": "dataset.access_approved", "refuse": "dataset.access_declined"}
    chain.publish(officer.key, LAND, "dataset.access_declined", {"request_id": "WB-API-S1", "reason": "没有法定依据"})
    settled = chain.settled("data-sharing", "WB-API-S1", token, {"refused"})
    assert settled["state"] == "refused" and "没有法定依据" in settled["vars"]["refused_because"]
    assert not any(c["case_key"] == "WB-API-S1" for c in chain.waiting(token, "WB-API-S1", present=False)["cases"])


def test_the_counter_gets_the_pseudonym_never_the_key(chain: Chain, officer: Officer) -> None:
    token = officer.token
    url = "/api/v1/workbench/pseudonym"
    answer = chain.http.post(url, json={"national_id": DEMO_NATIONAL_ID}, headers=headers(token))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "citizen_id": pseudonym(DEMO_NATIONAL_ID, chain.data.pseudonym_key(), suite=chain.data.crypto_suite()),
        "enrolled": True,
    }
    spaced = chain.http.post(url, json={"national_id": "1101 0119 9003 0745 12"}, headers=headers(token)).json()
    assert spaced["citizen_id"] == answer.json()["citizen_id"]  # normalised as `govchain identity` does
    fresh = chain.http.post(url, json={"national_id": "44030119950101123x"}, headers=headers(token)).json()
    assert fresh["enrolled"] is False and fresh["citizen_id"] == pseudonym(
        "44030119950101123X", chain.data.pseudonym_key(), suite=chain.data.crypto_suite()
    )
    assert DEMO_NATIONAL_ID not in answer.text

    for body in ({"national_id": "12"}, {"national_id": "1101<script>"}, {}, {"national_id": 110101}):
        refused = chain.http.post(url, json=body, headers=headers(token))
        assert refused.status_code == 400, (body, refused.text)
    assert chain.http.post(url, json={"national_id": DEMO_NATIONAL_ID}, headers=headers()).status_code == 401
    registrar = chain.sign_in(chain.key("land-registrar"), "land-registrar")  # a registrar may not enrol
    refused = chain.http.post(url, json={"national_id": DEMO_NATIONAL_ID}, headers=headers(registrar))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"


def test_an_enrolment_signed_by_an_officer_is_on_chain(chain: Chain, officer: Officer) -> None:
    """What the counter page signs, signed here in Python: the chain accepts it from an
    enrolment officer (source: their department) and the citizen's DID resolves."""
    key = SigningKey.generate()
    citizen_id = pseudonym("510104198001010011", chain.data.pseudonym_key(), suite=chain.data.crypto_suite())
    chain.publish(officer.key, LAND, "citizen.enrolled", {"citizen_id": citizen_id, "public_key": key.public.hex})
    token = chain.sign_in(key, citizen_id)
    assert chain.http.get("/api/v1/me", headers=headers(token)).json()["didDocumentMetadata"]["kind"] == "citizen"


# -- the catalogue and the templates


def test_every_workbench_message_is_in_both_languages_and_the_templates_hold_no_prose() -> None:
    zh, en = i18n.catalogue("zh-CN"), i18n.catalogue("en")
    ours = {k for k in zh if k.startswith("workbench.")}
    assert ours and ours == {k for k in en if k.startswith("workbench.")}
    for template in [*TEMPLATES.glob("*.html"), TEMPLATES.parent / "base.html"]:
        text = template.read_text(encoding="utf-8")
        for key, joined in re.findall(r"""\bth?\(\s*["']([a-z_.0-9-]+)["']\s*(~?)""", text):
            assert any(k.startswith(key) for k in zh) if joined else key in zh, f"{template.name}: {key}"
        bare = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", " ", text, flags=re.S)
        bare = re.sub(r"<script.*?</script>|<[^>]*>", " ", bare, flags=re.S)
        assert not set(re.findall(r"[A-Za-z\u4e00-\u9fff]{2,}", bare)) - {"GovChain"}, template.name
    script = (TEMPLATES.parent.parent / "static" / "workbench.js").read_text(encoding="utf-8")
    for key in set(re.findall(r"""\bt\(\s*["']([a-z_]+)["']""", script)):
        assert f"workbench.js.{key}" in zh, key
    assert "innerHTML" not in script  # chain data is set as text, never as markup


def test_the_pages_speak_chinese_first_and_english_on_request(chain: Chain) -> None:
    for path, zh_heading, en_heading in (
        ("/workbench", "工作人员登录", "Sign in as an official"),
        ("/workbench/queue", "本部门待办", "My department's queue"),
        ("/workbench/enrol", "为市民办理登记", "Enrol a citizen at the counter"),
    ):
        chain.http.cookies.clear()  # no language chosen yet: zh-CN
        page = chain.http.get(path, headers=headers())
        assert page.status_code == 200 and f"<h1>{zh_heading}</h1>" in page.text
        assert '"workbench.js.approve":"批准并签名"' in page.text
        english = chain.http.get(path, params={"lang": "en"}, headers=headers())
        assert f"<h1>{en_heading}</h1>".replace("'", "&#39;") in english.text
        assert "/static/govkeys.js" in page.text and "/static/workbench.js" in page.text


# -- hostile input


def test_every_workbench_route_answers_hostile_input_below_500(platform: Platform) -> None:
    rng = random.Random(13)
    routes = sorted((m, r.path) for r in workbench.router.routes for m in r.methods)  # type: ignore[attr-defined]
    assert {path for _, path in routes} >= {"/workbench", "/api/v1/workbench/queue", "/api/v1/workbench/pseudonym"}
    with httpx.Client(base_url=platform.url, timeout=60) as client:
        prober = Prober(client)
        for method, path in routes:
            for value in PATH_VALUES[:4]:
                params = {name: rng.choice(QUERY_VALUES) for name in rng.sample(QUERY_NAMES, 3)}
                authorization = rng.choice(AUTHORIZATIONS)
                extra = {} if authorization is None else {"Authorization": authorization}
                prober.send(
                    f"path {value!r}", method, f"{path}/{value}" if value else path, params=params, headers=extra
                )
                prober.send("query", method, path, params=params, headers=extra)
        for name, body in HOSTILE_BODIES.items():
            prober.send(
                name,
                "POST",
                "/api/v1/workbench/pseudonym",
                content=body,
                must_refuse=True,
                headers={"Content-Type": "application/json"},
            )
        assert prober.sent > 40
        assert not prober.failures, "\n".join(prober.failures)


# -- the pseudonym key: read when first asked for; without it the counter is told to use the CLI


class _StubGateway:
    """Answers the one question the pseudonym route asks the services: is this DID on chain;
    an intl chain's suite (the CLI's default, which the test compares with)."""

    suite = INTL
    names = DEFAULT

    async def read(self, subject: str, params: dict[str, Any], session: Any = None) -> dict[str, Any]:
        return {"didDocument": None, "didDocumentMetadata": {}}


def _counter_app(tmp_path: Path, *, with_key: bool, may_enrol: bool = True) -> TestClient:
    data = DataDir(tmp_path / "node")
    data.init("counter-chain")
    if not with_key:
        data.pseudonym_key_file.unlink()
    app = FastAPI()
    app.state.chain_id = "counter-chain"
    app.state.limiter = limiter
    workbench.install(app, Settings(data_dir=data.root))
    install_error_handlers(app)
    official = workbench.Official("counter-1", "official", "Counter", LAND, ["enrollment"], "0" * 64, may_enrol)
    app.dependency_overrides[workbench._official] = lambda: official
    app.dependency_overrides[workbench._gateway] = _StubGateway
    return TestClient(app)


def test_a_gateway_without_the_pseudonym_key_sends_the_counter_to_the_cli(tmp_path: Path) -> None:
    with _counter_app(tmp_path, with_key=False) as client:
        answer = client.post("/api/v1/workbench/pseudonym", json={"national_id": DEMO_NATIONAL_ID}, headers=headers())
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "pseudonym_unavailable"
    assert "govchain identity pseudonym" in answer.json()["error"]["message"]
    assert DEMO_NATIONAL_ID not in answer.text


def test_a_gateway_with_the_pseudonym_key_computes_it_as_the_cli_does(tmp_path: Path) -> None:
    with _counter_app(tmp_path, with_key=True) as client:
        answer = client.post("/api/v1/workbench/pseudonym", json={"national_id": DEMO_NATIONAL_ID}, headers=headers())
    key = DataDir(tmp_path / "node").pseudonym_key()
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"citizen_id": pseudonym(DEMO_NATIONAL_ID, key, suite=INTL), "enrolled": False}


def test_only_an_official_who_may_enrol_gets_a_pseudonym(tmp_path: Path) -> None:
    with _counter_app(tmp_path, with_key=True, may_enrol=False) as client:
        answer = client.post("/api/v1/workbench/pseudonym", json={"national_id": DEMO_NATIONAL_ID}, headers=headers())
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"


def test_the_pseudonym_key_may_come_from_the_environment(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "node")
    data.init("env-chain")
    data.pseudonym_key_file.unlink()
    app = FastAPI()
    secret = "ab" * 32
    workbench.install(app, Settings(data_dir=data.root, pseudonym_key=secret))
    assert app.state.workbench_pseudonym_key() == bytes.fromhex(secret)
