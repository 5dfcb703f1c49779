"""Every gateway route answers hostile input with a typed 4xx, never a 5xx.

Against the running demo platform, every route of the API and the portal (read from the
routers, so a new route is covered without touching this file) gets a seeded mix of hostile
path segments, query values and headers; every route that takes a body gets hostile bodies
(nested 500 and 100 000 deep, 4 MB, invalid UTF-8, lone surrogates, huge numbers, NaN, arrays,
broken multipart). Each answer must be below 500, and a 4xx must be JSON with a reason code;
afterwards the gateway still serves. A gateway whose services do not answer says 503, never
"404 no block". The seed is printed; set GOVCHAIN_FUZZ_SEED to replay.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import re
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from fastapi.testclient import TestClient
from nats.aio.client import Client
from nats.aio.msg import Msg

from govchain.bus import subjects
from govchain.bus.embedded import EmbeddedNats
from govchain.bus.streams import ensure_streams
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.protocol.batch import sign_batch
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.services.gateway import api, contexts, log, portal, service_desk, sharing_pages, workbench
from govchain.services.gateway.app import create_app

from .conftest import MAX_UPLOAD, Platform

ROUTES = sorted(
    (method, route.path)
    for router in (  # every route the app serves
        api.router,
        portal.router,
        sharing_pages.router,
        service_desk.router,
        workbench.router,
        log.router,
        contexts.router,
    )
    for route in router.routes
    for method in route.methods
)  # type: ignore[attr-defined]
JSON_BODY_ROUTES = {
    "/api/v1/events",
    "/api/v1/events/batch",
    "/api/v1/credentials/verify",
    "/api/v1/auth/session",
    "/api/v1/me/principal",
    "/api/v1/workbench/pseudonym",
}
UPLOAD_ROUTES = {"/api/v1/documents/verify", "/verify"}

PATH_VALUES = [
    "bad%20id!",
    "x" * 300,
    "%00",
    "%FF%FE",
    "%ED%A0%80",
    "..%2F..%2Fetc",
    "-1",
    "9" * 30,
    "%25",
    "%F0%9F%98%80",
    "null",
    "%7B%7D",
    "a%0D%0Ab",
]
"""URL-encoded path segments: spaces, NUL, invalid UTF-8, an encoded surrogate, traversal, huge
numbers, a LIKE wildcard, an emoji, CRLF."""
QUERY_VALUES = ["%", "-1", "9" * 5000, "nan", "inf", "\x00", "x" * 10_000, "数据", "true", "", "[]", "\r\n"]
QUERY_NAMES = ["q", "limit", "before", "at_height", "first", "second", "purpose", "proofs", "wait", "id"]
AUTHORIZATIONS = [None, "Bearer x.y", "Basic abc", "Bearer " + "a" * 5000, "Bearer", "bearer a.b.c"]


def _deep(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


HOSTILE_BODIES = {
    "nested 500 deep": b'{"id": ' + b"[" * 500 + b"]" * 500 + b"}",
    "nested 100 000 deep": b"[" * 100_000 + b"]" * 100_000,
    "objects 500 deep": _deep(500),
    "4 MB": b'{"id": "' + b"a" * (4 * 1024 * 1024) + b'"}',
    "invalid UTF-8": b'{"id": "\xff\xfe"}',
    "lone surrogate": b'{"id": "\\ud800", "source": "x"}',
    "huge number": b'{"id": ' + b"9" * 5000 + b"}",
    "1e999": b'{"id": 1e999}',
    "NaN": b'{"id": NaN}',
    "a JSON array": b"[1, 2]",
    "not JSON": b"hello",
    "empty": b"",
    "duplicate keys": b'{"id": "a", "id": "b"}',
    "NUL": b'{"id": "a\\u0000b"}',
}


@pytest.fixture(scope="module")
def rng() -> random.Random:
    seed = int(os.environ.get("GOVCHAIN_FUZZ_SEED", random.randrange(2**32)))
    print(f"GOVCHAIN_FUZZ_SEED={seed}")
    return random.Random(seed)


class Prober:
    """Sends requests, each from its own client address (so no rate limit gets in the way),
    and keeps every answer that breaks the rules."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.addresses = (f"10.{a}.{b}.1" for a, b in itertools.product(range(100, 250), range(256)))
        self.failures: list[str] = []
        self.sent = 0

    def send(self, what: str, method: str, url: str, *, must_refuse: bool = False, **kwargs: Any) -> httpx.Response:
        headers = {"X-Forwarded-For": next(self.addresses), **kwargs.pop("headers", {})}
        response = self.client.request(method, url, headers=headers, **kwargs)
        self.sent += 1
        status = response.status_code
        if status >= 500:
            self.failures.append(f"{method} {url[:80]} ({what}): {status} {response.text[:200]}")
        elif status >= 400:
            try:
                error = response.json()["error"]
                assert isinstance(error["code"], str) and isinstance(error["message"], str)
            except Exception:
                self.failures.append(
                    f"{method} {url[:80]} ({what}): {status} without a JSON error: {response.text[:200]}"
                )
        elif must_refuse:
            self.failures.append(f"{method} {url[:80]} ({what}): accepted with {status}")
        return response


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def _query(rng: random.Random) -> dict[str, str]:
    return {name: rng.choice(QUERY_VALUES) for name in rng.sample(QUERY_NAMES, rng.randrange(1, 5))}


def _headers(rng: random.Random) -> dict[str, str]:
    authorization = rng.choice(AUTHORIZATIONS)
    return {} if authorization is None else {"Authorization": authorization}


@pytest.fixture(scope="module")
def prober(platform: Platform) -> Iterator[Prober]:
    with httpx.Client(base_url=platform.url, timeout=30) as client:
        yield Prober(client)


def test_every_route_answers_hostile_paths_queries_and_headers_below_500(prober: Prober, rng: random.Random) -> None:
    for method, path in ROUTES:
        segments = PATH_VALUES if "{" in path else [""]
        for value in segments:
            url = _fill(path, value)
            prober.send(f"path {value[:20]!r}", method, url, params=_query(rng), headers=_headers(rng))
    assert prober.sent > 3 * len(ROUTES)
    assert not prober.failures, "\n".join(prober.failures)


def test_every_route_that_takes_a_body_refuses_hostile_bodies_with_a_4xx(prober: Prober) -> None:
    for path in sorted(JSON_BODY_ROUTES):
        for name, body in HOSTILE_BODIES.items():
            prober.send(
                name, "POST", path, content=body, must_refuse=True, headers={"Content-Type": "application/json"}
            )
    for path in sorted(UPLOAD_ROUTES):
        prober.send("no file", "POST", path, must_refuse=True)
        prober.send("JSON instead of a file", "POST", path, json={"file": "x"}, must_refuse=True)
        prober.send(
            "broken multipart",
            "POST",
            path,
            content=b"--x\r\nContent-Disposition: form-data\r\n\r\nab",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
            must_refuse=True,
        )
        too_big = prober.send(
            "upload far over the limit",
            "POST",
            path,
            must_refuse=True,
            files={"file": ("big.bin", b"\0" * (MAX_UPLOAD + 200 * 1024))},
        )
        assert too_big.status_code == 413, too_big.text
    assert not prober.failures, "\n".join(prober.failures)


def test_sizes_and_depths_get_their_own_reason_codes(prober: Prober) -> None:
    def code(response: httpx.Response) -> tuple[int, str]:
        return response.status_code, response.json()["error"]["code"]

    json_type = {"Content-Type": "application/json"}
    assert code(prober.send("4 MB", "POST", "/api/v1/events", content=HOSTILE_BODIES["4 MB"], headers=json_type)) == (
        413,
        "too_large",
    )
    assert code(prober.send("deep", "POST", "/api/v1/events", content=_deep(500), headers=json_type)) == (
        400,
        "malformed_envelope",
    )
    assert code(
        prober.send(
            "deep", "POST", "/api/v1/events/batch", content=HOSTILE_BODIES["nested 100 000 deep"], headers=json_type
        )
    ) == (400, "malformed_envelope")
    assert code(prober.send("deep", "POST", "/api/v1/credentials/verify", content=_deep(500), headers=json_type)) == (
        400,
        "bad_request",
    )
    # An id that is not an event id, asked for through a portal page, is the client's mistake: 400.
    assert code(prober.send("bad id", "GET", "/events/bad%20id!")) == (400, "bad_request")
    assert code(prober.send("bad source", "GET", "/events/Bad%20Source/x")) == (400, "bad_request")
    # '%' is searched for, not taken as a LIKE wildcard matching every business.
    assert prober.send("wildcard", "GET", "/api/v1/registry/businesses", params={"q": "%"}).json()["records"] == []
    assert not prober.failures, "\n".join(prober.failures)


def test_the_gateway_still_serves_after_the_storm(prober: Prober) -> None:
    head = prober.send("after", "GET", "/api/v1/chain/head")
    assert head.status_code == 200 and head.json()["header"]["height"] > 0
    assert prober.send("after", "GET", "/registry", params={"q": "noodle"}).status_code == 200


def test_openapi_documents_the_error_responses(prober: Prober) -> None:
    spec = prober.send("docs", "GET", "/openapi.json").json()
    submit = spec["paths"]["/api/v1/events"]["post"]
    assert {"400", "413", "429", "503", "4XX"} <= set(submit["responses"])
    assert submit["responses"]["413"]["content"]["application/json"]["schema"]["$ref"].endswith("/ApiError")
    assert "requestBody" in submit
    # FastAPI's default 422 describes errors this API never sends (they are 400s with a code).
    assert "HTTPValidationError" not in spec["components"]["schemas"]


# -- a gateway whose services do not answer


@pytest.fixture
def lonely_gateway(tmp_path: Path, nats_server: EmbeddedNats) -> Iterator[TestClient]:
    """The gateway on a NATS server where no service runs, and where block reads go unanswered."""
    data = DataDir(tmp_path / "node")
    data.init("lonely-chain")
    app = create_app(Settings(data_dir=data.root), nats_server.url)
    with TestClient(app) as client:
        yield client


@contextmanager
def responder(url: str, subject: str, answer: Callable[[Msg], Awaitable[None]]) -> Iterator[None]:
    """``answer`` subscribed to ``subject`` on its own connection and thread, for the ``with``
    block: a stand-in for a service (or a JetStream API) that the test makes answer as it likes."""
    ready, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        nc = Client()
        await nc.connect(url)
        await nc.subscribe(subject, cb=answer)
        await nc.flush()
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await nc.close()

    thread = threading.Thread(target=asyncio.run, args=(serve(),))
    thread.start()
    try:
        assert ready.wait(10), f"the responder on {subject} did not start"
        yield
    finally:
        stop.set()
        thread.join(10)


def test_the_registry_answers_through_the_gateway_while_the_ledger_is_down(
    lonely_gateway: TestClient, nats_server: EmbeddedNats
) -> None:
    """A read waits for the newest block only when the ledger can say which it is; without the
    ledger the registry answers as of its own height (no min_height), not a 503."""
    asked: list[dict[str, Any]] = []

    async def directory(msg: Msg) -> None:  # a registry that answers the department directory
        asked.append(json.loads(msg.data))
        await msg.respond(json.dumps({"departments": [{"department_id": "tax", "name": "Tax"}]}).encode())

    with responder(nats_server.url, subjects.REGISTRY_DEPARTMENTS, directory):
        response = lonely_gateway.get("/api/v1/registry/departments")
    assert response.status_code == 200, response.text
    assert response.json()["departments"][0]["department_id"] == "tax"
    assert asked == [{"min_height": None}]


def test_services_that_do_not_answer_are_503_never_404(lonely_gateway: TestClient, nats_server: EmbeddedNats) -> None:
    for path in ("/api/v1/chain/head", "/api/v1/events/abc", "/api/v1/registry/departments", "/search?q=abc"):
        response = lonely_gateway.get(path)
        assert response.status_code == 503 and response.json()["error"]["code"] == "unavailable", (path, response.text)
    no_stream = lonely_gateway.get("/api/v1/blocks/3")  # no responders for the block read
    assert no_stream.status_code == 503, no_stream.text

    async def ignore(_: Msg) -> None:  # JetStream's direct gets, never answered
        pass

    with responder(nats_server.url, "$JS.API.DIRECT.GET.>", ignore):
        timed_out = lonely_gateway.get("/blocks/3")  # the block read times out
    assert timed_out.status_code == 503 and timed_out.json()["error"]["code"] == "unavailable", timed_out.text
    assert timed_out.headers["Retry-After"]


async def _events_last_seq(url: str, *, create: bool = False) -> int:
    nc = await nats.connect(url)
    try:
        if create:
            await ensure_streams(nc.jetstream())
        return int((await nc.jetstream().stream_info(subjects.EVENTS_STREAM)).state.last_seq)
    finally:
        await nc.close()


def test_a_gateway_that_cannot_check_a_signer_publishes_nothing(
    lonely_gateway: TestClient,
    nats_server: EmbeddedNats,
) -> None:
    """The identity service does not answer: 503, and the event is not published unchecked."""
    assert asyncio.run(_events_last_seq(nats_server.url, create=True)) == 0
    key = SigningKey.generate()
    event = make_event(
        key,
        source="land-bureau",
        type="document.registered",
        data={"document_id": "d", "sha256": "ab" * 32, "title": "Unchecked"},
    )
    batch = sign_batch(key, [event])
    for path, body in (("/api/v1/events", event.to_bytes()), ("/api/v1/events/batch", batch.to_bytes())):
        answer = lonely_gateway.post(path, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 503 and answer.json()["error"]["code"] == "unavailable", answer.text
    assert asyncio.run(_events_last_seq(nats_server.url)) == 0
