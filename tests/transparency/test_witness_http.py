"""The witness over real HTTP (uvicorn + httpx): every status, hostile bodies, racing requests,
and a restart."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from govchain.bus.embedded import free_port
from govchain.protocol.keys import SigningKey
from govchain.services.witness.folder import WitnessFolder
from govchain.services.witness.service import trusted_logs, witness_app
from govchain.transparency.checkpoint import sign_checkpoint
from govchain.transparency.vkeys import Ed25519Signer
from govchain.transparency.witness_protocol import parse_cosignatures

from . import independent_note
from .conftest import Log

FOUR_MB = 4 * 1024 * 1024


@pytest.fixture
def folder(tmp_path: Path) -> WitnessFolder:
    witness = WitnessFolder(tmp_path / "witness")
    witness.init("audit.example/witness")
    return witness


@asynccontextmanager
async def serving(folder: WitnessFolder, log: Log, **options: int) -> AsyncIterator[str]:
    app, store = witness_app(folder, trusted_logs([log.vkey]), **options)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        store.close()


@pytest.fixture
async def witness_url(folder: WitnessFolder, log: Log) -> AsyncIterator[str]:
    async with serving(folder, log) as url:
        yield url


async def post(url: str, body: bytes | AsyncIterator[bytes], **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.post("/add-checkpoint", content=body, headers=headers)


async def test_cosigns_then_answers_409_with_the_size(witness_url: str, log: Log, folder: WitnessFolder) -> None:
    log.grow_to(12)
    answer = await post(witness_url, log.request(0))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    (line,) = parse_cosignatures(answer.content)
    vkey = folder.signer().verifier.vkey
    assert independent_note.verify_cosignature(log.signed() + line.line().encode(), vkey) > 0

    stale = await post(witness_url, log.request(0))
    assert (stale.status_code, stale.content) == (409, b"12\n")
    assert stale.headers["content-type"] == "text/x.tlog.size"

    log.grow_to(20)
    assert (await post(witness_url, log.request(12))).status_code == 200


async def test_refusals_over_http(witness_url: str, log: Log) -> None:
    log.grow_to(8)
    assert (await post(witness_url, b"nonsense")).status_code == 400
    stranger = Log(origin="elsewhere.example/log")
    stranger.grow_to(3)
    assert (await post(witness_url, stranger.request(0))).status_code == 404
    impostor = sign_checkpoint(log.checkpoint(), [Ed25519Signer(log.origin, SigningKey.generate())])
    assert (await post(witness_url, b"old 0\n\n" + impostor)).status_code == 403
    assert (await post(witness_url, log.request(0, proof=[bytes(32)]))).status_code == 422
    assert (await post(witness_url, log.request(0))).status_code == 200
    fork = Log(origin=log.origin, key=log.key)
    fork.grow_to(8, seed=b"fork")
    assert (await post(witness_url, fork.request(8))).status_code == 422


async def test_monitoring_endpoint(witness_url: str, log: Log) -> None:
    origin_hash = hashlib.sha256(log.origin.encode()).hexdigest()
    async with httpx.AsyncClient(base_url=witness_url) as client:
        assert (await client.get(f"/{origin_hash}/checkpoint")).status_code == 404
        log.grow_to(3)
        await client.post("/add-checkpoint", content=log.request(0))
        served = await client.get(f"/{origin_hash}/checkpoint")
        assert served.status_code == 200
        assert independent_note.verify_log_signature(served.content, log.vkey) == log.checkpoint().body().encode()
        assert (await client.get("/not-a-hash/checkpoint")).status_code == 404
        assert (await client.get("/add-checkpoint")).status_code == 405


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_4mb_body_is_refused_before_it_is_buffered(witness_url: str, chunked: bool) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"old 0\n"
        for _ in range(64):
            yield b"A" * 65536

    if chunked:
        answer = await post(witness_url, chunks())
    else:
        answer = await post(witness_url, b"old 0\n" + b"A" * FOUR_MB)
    assert answer.status_code == 413


async def test_hostile_bodies_get_4xx_and_the_witness_keeps_working(witness_url: str, log: Log) -> None:
    log.grow_to(5)
    note = log.signed()
    hostile = [
        b"\xff\xfe\xfd" * 1000,  # invalid UTF-8
        b"old 0\n\n" + note.replace(b"\xe2\x80\x94", b"\xe2\x28\xa1"),  # invalid UTF-8 in the note
        b"old 0\n" + note,  # missing blank line
        b"old 0\n" + b"\n" * 60_000,  # a flood of empty lines
        b"old 0\n" + b"AAAA\n" * 12_000,  # a flood of proof lines
        b"old 0\n\n" + b"a\n" * 30_000,  # a note of 30,000 lines and no signature
        b"old 0\n\n" + note[: note.index(b"\n\n") + 2] + "— x AAAAAA==\n".encode() * 4000,  # 4000 signatures
        b"\x00" * 60_000,
        b"",
    ]
    for body in hostile:
        answer = await post(witness_url, body)
        assert 400 <= answer.status_code < 500, (body[:40], answer.status_code)
    lines = b"old 0\n" + b"x\n" * 100_000  # 10^5 lines: beyond the cap
    assert (await post(witness_url, lines)).status_code == 413
    assert (await post(witness_url, log.request(0))).status_code == 200


async def test_a_hundred_thousand_lines_under_a_raised_cap_are_400(folder: WitnessFolder, log: Log) -> None:
    async with serving(folder, log, max_body_bytes=1024 * 1024) as url:
        assert (await post(url, b"old 0\n" + b"x\n" * 100_000)).status_code == 400
        assert (await post(url, b"old 0\n\n" + b"x\n" * 100_000 + b"\n")).status_code == 400
        assert (await post(url, b"old 0\n\n" + b"\n" * 100_000)).status_code == 400


async def test_racing_requests_cosign_one_size_only(witness_url: str, log: Log) -> None:
    log.grow_to(60)
    bodies = [log.request(0, size) for size in range(40, 60)]
    async with httpx.AsyncClient(base_url=witness_url, timeout=30) as client:
        answers = await asyncio.gather(*(client.post("/add-checkpoint", content=b) for b in bodies))
        statuses = [a.status_code for a in answers]
        assert statuses.count(200) == 1 and statuses.count(409) == len(bodies) - 1
        winner = 40 + statuses.index(200)
        assert {a.content for a in answers if a.status_code == 409} == {f"{winner}\n".encode()}
        assert (await client.post("/add-checkpoint", content=log.request(winner))).status_code == 200


async def test_state_survives_a_restart(folder: WitnessFolder, log: Log) -> None:
    log.grow_to(30)
    async with serving(folder, log) as url:
        assert (await post(url, log.request(0))).status_code == 200
    async with serving(folder, log) as url:
        again = await post(url, log.request(0))
        assert (again.status_code, again.content) == (409, b"30\n")
        log.grow_to(31)
        assert (await post(url, log.request(30))).status_code == 200
