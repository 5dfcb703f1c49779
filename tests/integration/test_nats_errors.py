"""NATS failures as a real server produces them, sorted by govchain.bus.errors; and the two
callers that act on the sorting: stream creation and the orderer's retry loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError, NotFoundError, ServiceUnavailableError

from govchain.bus import subjects
from govchain.bus.embedded import EmbeddedNats, free_port
from govchain.bus.errors import NATS_ERRORS, NatsFault, classify
from govchain.bus.streams import ensure_streams
from govchain.protocol.cutter import BlockLimits
from govchain.protocol.genesis import make_genesis_event
from govchain.protocol.keys import SigningKey
from govchain.services.ledger.orderer import Orderer
from govchain.services.ledger.store import LedgerStore


@pytest.fixture
async def nc(nats_server: EmbeddedNats) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    yield client
    if not client.is_closed:
        await client.close()


async def raised(call: Any) -> BaseException:
    """The NATS error ``call`` (an awaitable) raises."""
    try:
        await call
    except NATS_ERRORS as exc:
        return exc
    raise AssertionError("no NATS error was raised")


async def test_refusals_are_permanent(nc: Client) -> None:
    js = nc.jetstream()
    missing = await raised(js.stream_info("NO_SUCH_STREAM"))
    assert isinstance(missing, NotFoundError) and classify(missing) is NatsFault.PERMANENT

    await js.add_stream(StreamConfig(name="ERRS", subjects=["errs.>"]))
    await js.publish("errs.a", b"1", stream="ERRS")
    wrong_sequence = await raised(
        js.publish("errs.a", b"2", stream="ERRS", headers={"Nats-Expected-Last-Sequence": "7"})
    )
    assert isinstance(wrong_sequence, BadRequestError) and wrong_sequence.err_code == 10071
    assert classify(wrong_sequence) is NatsFault.PERMANENT

    overlap = await raised(js.add_stream(StreamConfig(name="ERRS2", subjects=["errs.>"])))
    assert isinstance(overlap, BadRequestError) and classify(overlap) is NatsFault.PERMANENT


async def test_silence_and_a_lost_connection_are_transient(nc: Client) -> None:
    nobody = await raised(nc.request("errs.nobody.listens", b"", timeout=2))
    assert classify(nobody) is NatsFault.TRANSIENT  # no responders

    no_stream = await raised(nc.jetstream().publish("errs.no.stream", b"x", timeout=2))
    assert classify(no_stream) is NatsFault.TRANSIENT  # no stream answered the publish

    await nc.subscribe("errs.silent")  # takes requests, never answers
    silent = await raised(nc.request("errs.silent", b"", timeout=0.2))
    assert isinstance(silent, TimeoutError) and classify(silent) is NatsFault.TRANSIENT

    await nc.close()
    closed = await raised(nc.publish("errs.a", b"late"))
    assert classify(closed) is NatsFault.TRANSIENT


async def test_no_server_is_transient() -> None:
    async def quiet(exc: Exception) -> None:
        pass

    nowhere = await raised(
        nats.connect(
            f"nats://127.0.0.1:{free_port()}",
            connect_timeout=0.5,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.01,
            error_cb=quiet,
        )
    )
    assert classify(nowhere) is NatsFault.TRANSIENT


async def test_stream_creation_gives_up_at_once_on_a_refusal(nc: Client) -> None:
    """Another stream already holds the blocks' subject: that will not pass by waiting, so
    ensure_streams raises it at once instead of retrying for its whole patience."""
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="SQUATTER", subjects=[subjects.BLOCKS_SUBJECT]))
    with pytest.raises(BadRequestError):
        await asyncio.wait_for(ensure_streams(js, patience_s=3600), 60)


async def test_the_orderer_retries_an_outage_and_stops_on_a_refusal(nc: Client) -> None:
    """Before, a bad request was logged as "NATS unavailable" and retried forever. The
    orderer's catching up is replaced by answers from NATS, so no store is needed."""
    await ensure_streams(nc.jetstream())
    root, key = SigningKey.generate(), SigningKey.generate()
    no_store = cast(LedgerStore, None)
    orderer = Orderer(nc, no_store, key, make_genesis_event("errs", [root], [key]), BlockLimits())
    answers: list[BaseException | None] = [
        None,  # start-up: nothing to catch up with (the checkpoint stays unset)
        ServiceUnavailableError(code=503, err_code=10008, description="JetStream system temporarily unavailable"),
        BadRequestError(code=400, err_code=10003, description="bad request"),
    ]
    calls: list[BaseException | None] = []

    async def recover() -> None:
        answer = answers[len(calls)]
        calls.append(answer)
        if answer is not None:
            raise answer

    orderer.recover = recover  # type: ignore[method-assign]
    with pytest.raises(BadRequestError):
        await asyncio.wait_for(orderer.run(asyncio.Event()), 60)
    assert calls == answers  # the outage was retried; the refusal ended the loop
