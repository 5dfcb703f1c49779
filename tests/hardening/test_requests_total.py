"""Every request subject of every service answers every body: hostile bytes get a typed refusal.

The ledger, identity, registry, contract engine and analytics services run on a real NATS
server; each of their request subjects gets a seeded mix of hostile bodies (not JSON, invalid
UTF-8, nested 65 to 100 000 deep, up to 4 MB, arrays, huge numbers, NaN, lone surrogates,
duplicate keys, NUL, wrong-typed fields, damaged good requests). Each must be answered within a
few seconds with ``{"error", "code"}`` (the refusal the SDK reads), never silence; afterwards
each subject still answers a good request and every service task is still running. A handler
that raises, or returns what its type does not allow, answers ``internal_error``; a signed query
whose time has no timezone answers ``unauthenticated``.

The seed is printed; set GOVCHAIN_FUZZ_SEED to replay.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from nats.aio.client import Client

import govchain.services.ledger.queries as ledger_queries
from govchain.bus import subjects
from govchain.bus.requests_total import MAX_REQUEST_BYTES
from govchain.client import REQUEST_TIMEOUT_S
from govchain.projection.runner import READ_YOUR_WRITES_WAIT_S
from govchain.protocol.requests import sign_request
from govchain.services.analytics.queries import AnalyticsQueries, analytics_router
from govchain.services.analytics.service import run_analytics
from govchain.services.contract.queries import contract_router
from govchain.services.contract.service import run_contract_engine
from govchain.services.identity.queries import identity_router
from govchain.services.identity.service import run_identity
from govchain.services.ledger.queries import ledger_router
from govchain.services.registry.queries import RegistryQueries, registry_router
from govchain.services.registry.service import run_registry
from tests.integration.conftest import Ledger

REPLY_TIMEOUT_S = REQUEST_TIMEOUT_S
"""The SDK's: an answer has to come while a client still waits for it. A damaged good request
may name a ``min_height`` ahead of the chain (``"min_height":90``): a valid question, answered
``not_ready`` once the projection has waited ``READ_YOUR_WRITES_WAIT_S`` for that block."""
assert READ_YOUR_WRITES_WAIT_S < REPLY_TIMEOUT_S
NOT_FROM_A_GOOD_REQUEST = {"malformed_request", "invalid_request", "too_large", "internal_error", "unavailable"}
REFUSALS = {"malformed_request", "too_large", "invalid_request"}

GOOD: dict[str, dict[str, Any]] = {
    subjects.LEDGER_RECEIPT: {"event_id": "no-such-event", "source": "tax"},
    subjects.LEDGER_PROOF: {"event_id": "no-such-event"},
    subjects.LEDGER_CONSISTENCY: {"first_height": 0, "second_height": 0},
    subjects.LEDGER_HEAD: {},
    subjects.LEDGER_CHECKPOINT: {},
    subjects.LEDGER_TILE: {"level": 0, "index": 0, "width": 1},
    subjects.LEDGER_LEAVES: {"start": 0, "count": 1},
    subjects.IDENTITY_RESOLVE: {"did": "did:govchain:root", "min_height": 0},
    subjects.IDENTITY_VERIFY_CREDENTIAL: {"credential": {"type": ["VerifiableCredential"]}, "min_height": 0},
    subjects.IDENTITY_KEY: {"key_id": "0" * 64, "min_height": 0},
    subjects.REGISTRY_BUSINESS: {"id": "B-404", "min_height": 0},
    subjects.REGISTRY_BUSINESSES: {"text": "noodle", "min_height": 0},
    subjects.REGISTRY_BUSINESSES_OF: {"owner": "c-" + "01" * 16, "min_height": 0},
    subjects.REGISTRY_PARCEL: {"id": "P-404", "min_height": 0},
    subjects.REGISTRY_DOCUMENT: {"sha256": "0" * 64, "min_height": 0},
    subjects.REGISTRY_DEPARTMENTS: {"min_height": 0},
    subjects.REGISTRY_CATALOG: {"min_height": 0},
    subjects.REGISTRY_ACCESS_LOG: {"subject": "c-" + "01" * 16, "min_height": 0},
    subjects.REGISTRY_SEAL: {"subject": "c-" + "01" * 16, "record": "r/1", "fields": {}, "min_height": 0},
    subjects.REGISTRY_DATASET_READ: {"request_id": "DS-404", "min_height": 0},
    subjects.REGISTRY_GRANTS: {"min_height": 0},
    subjects.CONTRACT_CASE: {"contract_id": "no-such-contract", "case_key": "K-1", "min_height": 0},
    subjects.CONTRACT_LIST: {},
    subjects.CONTRACT_AWAITING: {"department": "land-bureau", "min_height": 0},
    subjects.CONTRACT_CASES_OF: {"principal": "c-" + "01" * 16, "min_height": 0},
    subjects.ANALYTICS_SUMMARY: {"min_height": 0},
    subjects.ANALYTICS_CHART: {"name": "no-such-chart", "min_height": 0},
}
"""One well-formed request per subject: its answer may be a refusal of the question (not_found,
forbidden), never of the request."""


def request_subjects() -> set[str]:
    """Every subject the services' routers subscribe to (built without running them)."""
    routers = [
        ledger_router(None, lambda: None),  # type: ignore[arg-type]
        identity_router(None, lambda: -1),  # type: ignore[arg-type]
        registry_router(RegistryQueries(None, None, None, lambda: None, lambda: -1, None)),  # type: ignore[arg-type]
        contract_router(None, lambda: -1),  # type: ignore[arg-type]
        analytics_router(AnalyticsQueries(None, None, lambda: -1, lambda: None)),  # type: ignore[arg-type]
    ]
    return {sub.subject.broker_address for router in routers for sub in router.subscribers}


# -- hostile bodies


@dataclass(frozen=True)
class Hostile:
    name: str
    body: bytes
    expect: str | None
    """The refusal code it must get; None: any answer but silence or ``internal_error``."""


def _deep(rng: random.Random, depth: int) -> bytes:
    opener = rng.choice([b"[", b'{"a":'])
    closer = b"]" if opener == b"[" else b"}"
    return opener * depth + b"1" + closer * depth


def _wrong_value(rng: random.Random) -> Any:
    """A value of some wrong type for any field. No positive numbers: a ``min_height`` ahead
    of the chain is a valid request that waits for its block."""
    return rng.choice(
        [
            None,
            False,
            [],
            {},
            [1, "x", None],
            {"nested": {"deeper": [{}]}},
            -rng.randrange(2**70),
            -0.5,
            "",
            "x" * rng.randrange(1, 20_000),
            "数据" * rng.randrange(1, 50),
            "not-a-" + "ü" * 3,
            "%_\\",
            "\u2028\u2029",
            "did:govchain:" + "a" * 300,
        ]
    )


FIELDS = [
    "event_id",
    "source",
    "at_height",
    "first_height",
    "second_height",
    "did",
    "credential",
    "min_height",
    "id",
    "text",
    "sha256",
    "subject",
    "record",
    "fields",
    "purpose",
    "with_proofs",
    "auth",
    "contract_id",
    "case_key",
    "name",
    "level",
    "index",
    "width",
    "start",
    "count",
    "tree",
]


TREE_SUBJECTS = (subjects.LEDGER_CHECKPOINT, subjects.LEDGER_CONSISTENCY, subjects.LEDGER_TILE)
"""The questions that name one of a log's trees (``tree``: ``chain`` or a gm chain's ``sha256``)."""


def _damaged(rng: random.Random, good_bytes: bytes) -> bytes:
    """``good_bytes`` with one to three bytes overwritten; never a valid question for a block
    ahead of the chain (``"min_height": 0`` damaged into ``90``), which would just wait its
    ``READ_YOUR_WRITES_WAIT_S`` for ``not_ready`` (that path has its own tests)."""
    while True:
        damaged = bytearray(good_bytes)
        for _ in range(rng.randrange(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            waits = json.loads(damaged).get("min_height", 0) > 0
        except (ValueError, AttributeError, TypeError):
            waits = False
        if not waits:
            return bytes(damaged)


def hostile_bodies(rng: random.Random, good: dict[str, Any]) -> list[Hostile]:
    """The fixed cases of the issue, then seeded variations of each kind."""
    key = rng.choice(FIELDS)
    good_bytes = json.dumps(good).encode()
    out = [
        Hostile("not JSON", b"hello there", "malformed_request"),
        Hostile("invalid UTF-8", b'{"' + key.encode() + b'": "\xff\xfe"}', "malformed_request"),
        Hostile("nested 100 000 deep", b"[" * 100_000 + b"]" * 100_000, "malformed_request"),
        Hostile(
            "nested 500 deep in a field", b'{"' + key.encode() + b'": ' + _deep(rng, 500) + b"}", "malformed_request"
        ),
        Hostile("4 MB", b'{"' + key.encode() + b'": "' + b"a" * (4 * 1024 * 1024 - 2048) + b'"}', "too_large"),
        Hostile("just over the limit", b" " * (MAX_REQUEST_BYTES + 1), "too_large"),
        Hostile("a JSON array", b"[1, 2, 3]", "malformed_request"),
        Hostile("a JSON string", b'"text"', "malformed_request"),
        Hostile(
            "huge number", b'{"' + key.encode() + b'": ' + b"9" * rng.randrange(401, 5000) + b"}", "malformed_request"
        ),
        Hostile("1e999", b'{"' + key.encode() + b'": 1e999}', "malformed_request"),
        Hostile("NaN", b'{"' + key.encode() + b'": NaN}', "malformed_request"),
        Hostile(
            "lone surrogate",
            b'{"' + key.encode() + b'": "\\ud' + rng.choice([b"800", b"bff", b"c00", b"fff"]) + b'"}',
            "malformed_request",
        ),
        Hostile("lone surrogate key", b'{"\\udead": 1}', "malformed_request"),
        Hostile("duplicate keys", b'{"' + key.encode() + b'": 1, "' + key.encode() + b'": 2}', "malformed_request"),
        Hostile("NUL", b'{"' + key.encode() + b'": "a\\u0000b"}', "malformed_request"),
        Hostile(
            "truncated",
            good_bytes[: rng.randrange(1, max(2, len(good_bytes) - 1))] if len(good_bytes) > 2 else b"{",
            "malformed_request",
        ),
    ]
    for n in range(3):
        out.append(
            Hostile(
                f"deep {n}",
                b'{"' + key.encode() + b'": ' + _deep(rng, rng.randrange(65, 20_000)) + b"}",
                "malformed_request",
            )
        )
        out.append(Hostile(f"garbage {n}", b"#" + rng.randbytes(rng.randrange(1, 4096)), "malformed_request"))
        out.append(
            Hostile(
                f"wrong types {n}",
                json.dumps(
                    {**good, **{rng.choice(FIELDS): _wrong_value(rng) for _ in range(rng.randrange(1, 4))}}
                ).encode(),
                None,
            )
        )
        out.append(Hostile(f"damaged good request {n}", _damaged(rng, good_bytes), None))
    return out


# -- the running services


@dataclass
class Services:
    ledger: Ledger
    tasks: dict[str, asyncio.Task[None]]

    @property
    def nc(self) -> Client:
        return self.ledger.nc

    async def warm_up(self, subject: str) -> None:
        """Until the subject answers its good request: every projection has applied genesis
        (``min_height`` 0), so no answer in the test waits for a block."""
        for _ in range(100):
            reply = await self.nc.request(subject, json.dumps(GOOD[subject]).encode(), timeout=20)
            if json.loads(reply.data).get("code") != "not_ready":
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{subject} stays not_ready")

    def assert_running(self) -> None:
        for name, task in self.tasks.items():
            assert not task.done(), f"the {name} service stopped: {task.exception() if not task.cancelled() else ''}"


@pytest.fixture
async def services(ledger: Ledger) -> AsyncIterator[Services]:
    runs: dict[str, Callable[..., Any]] = {
        "identity": run_identity,
        "registry": run_registry,
        "contract": run_contract_engine,
        "analytics": run_analytics,
    }
    stop = asyncio.Event()
    readies = {name: asyncio.Event() for name in runs}
    tasks = {
        name: asyncio.create_task(run(ledger.settings, ledger.nats_url, stop, readies[name]))
        for name, run in runs.items()
    }
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies.values())), 30)
    assert ledger.task is not None
    handle = Services(ledger, {"ledger": ledger.task, **tasks})
    await asyncio.gather(*(handle.warm_up(subject) for subject in GOOD))
    yield handle
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks.values()), 30)


async def ask(nc: Client, subject: str, body: bytes) -> dict[str, Any]:
    reply = await nc.request(subject, body, timeout=REPLY_TIMEOUT_S)
    answer = json.loads(reply.data)
    assert isinstance(answer, dict), answer
    return answer


def _seed() -> int:
    seed = int(os.environ.get("GOVCHAIN_FUZZ_SEED", random.randrange(2**32)))
    print(f"GOVCHAIN_FUZZ_SEED={seed}")
    return seed


def test_the_test_covers_every_request_subject() -> None:
    assert request_subjects() == set(GOOD), "a request subject without a good request here is not fuzzed"


async def fuzz_subject(nc: Client, subject: str, hostiles: list[Hostile]) -> list[str]:
    """Each hostile body in turn, then a good request; what went wrong, in words. A subject
    that stays silent once is not asked again (a broken service would take minutes otherwise)."""
    failures = []
    for hostile in hostiles:
        try:
            answer = await ask(nc, subject, hostile.body)
        except TimeoutError:
            return [*failures, f"{subject} / {hostile.name}: no answer within {REPLY_TIMEOUT_S}s"]
        code = answer.get("code")
        if hostile.expect is not None and (code != hostile.expect or not answer.get("error")):
            failures.append(f"{subject} / {hostile.name}: expected {hostile.expect}, got {str(answer)[:200]}")
        elif code == "internal_error":
            failures.append(f"{subject} / {hostile.name}: {answer}")
        if code is not None and len(json.dumps(answer)) > 1000:
            failures.append(f"{subject} / {hostile.name}: a refusal of {len(json.dumps(answer))} bytes")
    good = await ask(nc, subject, json.dumps(GOOD[subject]).encode())
    if good.get("code") in NOT_FROM_A_GOOD_REQUEST:
        failures.append(f"{subject}: a good request afterwards got {good}")
    return failures


async def test_every_request_subject_answers_hostile_bodies_with_a_typed_refusal(services: Services) -> None:
    rng = random.Random(_seed())
    plan = {subject: hostile_bodies(rng, GOOD[subject]) for subject in sorted(request_subjects())}
    for subject in TREE_SUBJECTS:  # the log's own tree or "sha256", nothing else
        tree = rng.choice(["../sha256", "SHA256", "sm3", "", "chain "])
        plan[subject].append(
            Hostile("a tree of no log", json.dumps({**GOOD[subject], "tree": tree}).encode(), "invalid_request")
        )
    found = await asyncio.gather(*(fuzz_subject(services.nc, subject, hostiles) for subject, hostiles in plan.items()))
    services.assert_running()
    failures = [failure for per_subject in found for failure in per_subject]
    assert not failures, "\n".join(failures)


async def test_an_empty_body_reads_as_an_empty_request(services: Services) -> None:
    head = await ask(services.nc, subjects.LEDGER_HEAD, b"")
    assert head["header"]["height"] >= 0
    missing = await ask(services.nc, subjects.LEDGER_RECEIPT, b"")
    assert missing == {"error": "event_id: Field required", "code": "invalid_request"}


async def test_a_failing_handler_answers_internal_error_and_the_service_goes_on(
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*_: Any) -> Any:
        raise RuntimeError("an unexpected fault")

    def not_an_answer(*_: Any) -> Any:
        return {"what": "a shape the handler's return type does not allow"}

    good = json.dumps(GOOD[subjects.LEDGER_CONSISTENCY]).encode()
    monkeypatch.setattr(ledger_queries, "answer_consistency", boom)
    monkeypatch.setattr(ledger_queries, "answer_inclusion", not_an_answer)
    failed = await ask(services.nc, subjects.LEDGER_CONSISTENCY, good)
    assert failed["code"] == "internal_error" and "RuntimeError" in failed["error"]
    assert "unexpected fault" not in failed["error"]  # the detail stays in the log
    wrong = await ask(services.nc, subjects.LEDGER_PROOF, json.dumps(GOOD[subjects.LEDGER_PROOF]).encode())
    assert wrong["code"] == "internal_error"
    monkeypatch.undo()
    assert (await ask(services.nc, subjects.LEDGER_CONSISTENCY, good))["first_size"] == 1
    services.assert_running()


async def test_a_signed_query_without_a_timezone_is_refused_as_unauthenticated(services: Services) -> None:
    params = {"min_height": 0}
    auth = sign_request(services.ledger.root, "root", subjects.REGISTRY_DEPARTMENTS, params).model_dump(
        exclude_none=True
    )
    assert auth["time"].endswith("Z")
    naive = {**params, "auth": {**auth, "time": auth["time"].removesuffix("Z")}}
    answer = await ask(services.nc, subjects.REGISTRY_DEPARTMENTS, json.dumps(naive).encode())
    assert answer["code"] == "unauthenticated" and "timezone" in answer["error"]
    signed = await ask(services.nc, subjects.REGISTRY_DEPARTMENTS, json.dumps({**params, "auth": auth}).encode())
    assert signed["visibility"] != "public" and "code" not in signed  # the same request, signed properly
    services.assert_running()
