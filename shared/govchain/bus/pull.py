"""Batches from a durable JetStream pull consumer, at a fraction of nats-py's cost per message.

nats-py's ``PullSubscription.fetch`` spends ~60 µs on every message here (a uuid4, two tasks
and a ``wait_for`` each), more than the orderer spends parsing the event. The pull protocol
itself is simple, so this speaks it directly: one subscription on ``<inbox>.*``, each pull
request answered on its own ``<inbox>.<n>``; a callback collects deliveries into a buffer and
wakes the caller once per burst (~20 µs per message; bench/RESULTS.md).

:meth:`MessagePuller.fetch` behaves like nats-py's: a no-wait pull for what is there; if
nothing is, a pull that lingers until ``timeout``. Status messages end a request: 404 (no
messages), 408 (expired) and 409 (e.g. a consumer leader change, or max ack pending) are
normal; anything else is raised as :class:`nats.js.errors.APIError`. Messages a request
delivers after its ``fetch`` returned are kept for the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, StatusCode
from nats.js.errors import APIError, NotFoundError

_ENDS_REQUEST = {StatusCode.NO_MESSAGES, StatusCode.REQUEST_TIMEOUT, StatusCode.CONFLICT}
_EXPIRES_MARGIN_S = 0.0001
"""Let the server expire a lingering pull just before the caller stops waiting for it."""


async def ensure_durable(js: JetStreamContext, stream: str, subject: str, config: ConsumerConfig) -> None:
    """Create the durable consumer ``config.durable_name`` on ``stream`` unless it exists
    (an existing one keeps its configuration, as with nats-py's ``pull_subscribe``)."""
    assert config.durable_name, "a durable consumer needs a name"
    try:
        await js.consumer_info(stream, config.durable_name)
        return
    except NotFoundError:
        pass
    filtered: dict[str, Any] = {} if config.filter_subjects else {"filter_subject": subject}
    await js.add_consumer(stream, config=replace(config, name=config.durable_name, **filtered))


@dataclass
class MessagePuller:
    """Fetch batches from durable ``consumer`` of ``stream``; :meth:`start` before use."""

    nc: Client
    stream: str
    consumer: str
    _inbox: str = ""
    _sub: Subscription | None = None
    _buffer: list[Msg] = field(default_factory=list)
    _requests: int = 0
    _ended: set[int] = field(default_factory=set)
    _error: APIError | None = None
    _paused: bool = False
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> MessagePuller:
        self._inbox = self.nc.new_inbox()
        self._sub = await self.nc.subscribe(self._inbox + ".*", cb=self._deliver)
        return self

    async def close(self) -> None:
        """Hand back what it holds (as :meth:`pause` does) and stop listening."""
        with contextlib.suppress(NatsError):  # a closing connection: redelivered after ack wait
            await self.pause()
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def pause(self) -> None:
        """Hand back what was delivered and not yet fetched, and whatever a lingering request
        still delivers until the next :meth:`fetch`: a standby must not sit on events that the
        new leader is waiting for."""
        self._paused = True
        held, self._buffer = self._buffer, []
        for msg in held:
            await msg.nak()

    async def _deliver(self, msg: Msg) -> None:
        status = JetStreamContext.is_status_msg(msg)
        if status is None and self._paused:
            await msg.nak()
        elif status is None:
            self._buffer.append(msg)
        elif status in _ENDS_REQUEST:
            self._ended.add(int(msg.subject.rsplit(".", 1)[1]))
        elif status != StatusCode.CONTROL_MESSAGE:  # heartbeats are not asked for; ignore any
            self._error = APIError.from_msg(msg)
        self._wake.set()

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:
        """Up to ``batch`` messages; an empty list when none came within ``timeout`` seconds."""
        self._paused = False
        if not self._buffer:
            self._ended.clear()  # ends of earlier requests no longer matter (keeps the set small)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            probe = await self._pull(batch, expires_s=None)
            await self._wait(deadline, lambda: probe in self._ended or len(self._buffer) >= batch)
            if not self._buffer and loop.time() < deadline:
                linger = await self._pull(batch, expires_s=max(deadline - loop.time() - _EXPIRES_MARGIN_S, 0.001))
                await self._wait(deadline, lambda: linger in self._ended or bool(self._buffer))
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        taken, self._buffer = self._buffer[:batch], self._buffer[batch:]
        return taken

    async def _pull(self, batch: int, *, expires_s: float | None) -> int:
        """Send one pull request; its number names the subject its answers come back on."""
        self._requests += 1
        body: dict[str, object] = {"batch": batch}
        if expires_s is None:
            body["no_wait"] = True  # with expires set, the server would linger instead
        else:
            body["expires"] = int(expires_s * 1_000_000_000)
        await self.nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.consumer}",
            json.dumps(body).encode(),
            reply=f"{self._inbox}.{self._requests}",
        )
        return self._requests

    async def _wait(self, deadline: float, done: Callable[[], bool]) -> None:
        loop = asyncio.get_running_loop()
        while not done() and self._error is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                return
