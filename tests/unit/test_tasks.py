"""Stopping a service's loops when one fails, even a loop that swallowed its cancellation."""

from __future__ import annotations

import asyncio
import gc
import sys

import pytest

from govchain import tasks
from govchain.projection.service import run_until_stopped
from govchain.tasks import cancel_and_wait


class Failed(Exception):
    pass


async def swallows_the_first_cancel(cancels: list[int]) -> None:
    """A loop like a block reader whose first cancellation was lost: it carries on."""
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancels.append(1)
            if len(cancels) > 1:
                raise


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="python/cpython#86296 was fixed in 3.12")
async def test_on_this_python_a_cancel_can_be_lost_in_wait_for() -> None:
    """Why one cancel is not enough: the mechanism nats-py's next_msg runs into."""
    arrived: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def reader() -> str:
        return await asyncio.wait_for(arrived, 5)  # as Subscription.next_msg does

    async def loop() -> str:
        return await asyncio.create_task(reader())

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # both tasks now wait
    arrived.set_result("message")  # a reply lands in the same loop iteration as the cancel
    task.cancel()
    assert await task == "message"  # the cancellation is gone: the loop would carry on


async def test_cancel_and_wait_cancels_again_until_the_task_ends() -> None:
    cancels: list[int] = []
    task = asyncio.create_task(swallows_the_first_cancel(cancels))
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait([task], recancel_after_s=0.01), 5)
    assert task.cancelled() and len(cancels) == 2


async def test_a_cancelled_task_finishes_its_cleanup_before_it_is_cancelled_again() -> None:
    """A service's ``finally`` (drain NATS, release the lease) is not cut short by the next cancel."""
    cleaned: list[str] = []

    async def service() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0.5)  # e.g. a drain waiting for an in-flight handler
            cleaned.append("done")

    task = asyncio.create_task(service())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait([task]), 10)
    assert cleaned == ["done"] and task.cancelled()


async def test_cancel_and_wait_retrieves_the_failures_of_tasks_that_ended() -> None:
    """So asyncio reports no "Task exception was never retrieved" for a loop that failed while
    another one's failure was the one raised."""
    reported: list[str] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: reported.append(str(context.get("message"))))
    try:

        async def fail() -> None:
            raise Failed

        failed = asyncio.create_task(fail())
        await asyncio.wait({failed})
        await cancel_and_wait([failed])
        del failed  # the last reference: an unretrieved failure would be reported now
        gc.collect()
        assert reported == []
    finally:
        loop.set_exception_handler(None)


async def test_a_failing_loop_stops_a_loop_that_swallowed_its_cancel(monkeypatch: pytest.MonkeyPatch) -> None:
    """The contract engine's publisher failed while its block runner swallowed the cancel:
    the service must still end, with the publisher's failure."""
    monkeypatch.setattr(tasks, "RECANCEL_AFTER_S", 0.05)
    cancels: list[int] = []

    async def publisher() -> None:
        await asyncio.sleep(0.01)
        raise Failed

    with pytest.raises(Failed):
        await asyncio.wait_for(run_until_stopped(None, swallows_the_first_cancel(cancels), publisher()), 5)
    assert len(cancels) == 2
