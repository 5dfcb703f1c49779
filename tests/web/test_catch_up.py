"""Catch-up progress: a projection replaying from its checkpoint to the chain head reports how far
it has got (a bar under `govchain up` on a terminal, log lines elsewhere). Against the running
demo platform's chain; the bar's rendering itself is rich's business, not tested here."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import nats
import pytest
from rich.console import Console
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, insert

from govchain.bus.blocks import last_height
from govchain.projection.progress import (
    LogCatchUp,
    RichCatchUp,
    catch_up_display,
    catch_up_reporter,
    set_catch_up_reporter,
)
from govchain.projection.runner import ProjectionRunner
from govchain.protocol.verify import VerifiedBlock
from govchain.storage.engine import make_engine

from .conftest import Platform

metadata = MetaData()
seen = Table("catch_up_seen", metadata, Column("height", Integer, primary_key=True), Column("hash", String))


class Heights:
    name = "catch-up-test"

    def prepare(self, engine: Engine) -> None:
        metadata.create_all(engine)

    def apply(self, conn: Connection, block: VerifiedBlock) -> None:
        conn.execute(insert(seen).values(height=block.block.height, hash=block.block.hash))


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.done = asyncio.Event()

    def started(self, projection: str, from_height: int, head: int) -> None:
        self.calls.append(("started", projection, from_height, head))

    def advanced(self, projection: str, height: int, head: int) -> None:
        self.calls.append(("advanced", projection, height, head))

    def finished(self, projection: str, height: int) -> None:
        self.calls.append(("finished", projection, height))
        self.done.set()


async def follow_until_caught_up(runner: ProjectionRunner, reporter: Recorder) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop, catch_up=reporter))
    await asyncio.wait_for(reporter.done.wait(), 60)
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_a_projection_reports_its_catch_up_from_checkpoint_to_head(platform: Platform, tmp_path: Path) -> None:
    nc = await nats.connect(platform.nats_url)
    try:
        js = nc.jetstream()
        head = await last_height(js)
        engine = make_engine(f"sqlite:///{tmp_path / 'catch-up.db'}")
        first = Recorder()
        await follow_until_caught_up(ProjectionRunner(js, engine, Heights()), first)
        assert first.calls[0] == ("started", "catch-up-test", -1, head)
        advanced = [c for c in first.calls if c[0] == "advanced"]
        assert [c[2] for c in advanced] == list(range(0, head + 1))  # every block, in order, up to the head
        assert all(c[3] == head for c in advanced)
        assert first.calls[-1] == ("finished", "catch-up-test", head)

        # Restarted at its checkpoint with nothing new: nothing to catch up, nothing reported.
        again = Recorder()
        resumed = ProjectionRunner(js, engine, Heights())
        assert resumed.height == head
        stop = asyncio.Event()
        task = asyncio.create_task(resumed.run(stop, catch_up=again))
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.wait_for(task, 10)
        assert again.calls == []

        # A checkpoint part-way: the catch-up counts from there, through the process-wide reporter.
        partway = make_engine(f"sqlite:///{tmp_path / 'partway.db'}")
        await ProjectionRunner(js, partway, Heights()).run(until_height=head // 2, catch_up=Recorder())
        installed = Recorder()
        previous = set_catch_up_reporter(installed)
        try:
            assert catch_up_reporter() is installed
            stop = asyncio.Event()
            task = asyncio.create_task(ProjectionRunner(js, partway, Heights()).run(stop))
            await asyncio.wait_for(installed.done.wait(), 60)
            stop.set()
            await asyncio.wait_for(task, 10)
        finally:
            set_catch_up_reporter(previous)
        assert installed.calls[0] == ("started", "catch-up-test", head // 2, head)
        assert [c[2] for c in installed.calls if c[0] == "advanced"] == list(range(head // 2 + 1, head + 1))
        assert installed.calls[-1] == ("finished", "catch-up-test", head)

        # A bounded replay with its own on_block progress (the contract audit's) does not report twice.
        quiet = Recorder()
        previous = set_catch_up_reporter(quiet)
        try:
            fresh = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
            ticks: list[int] = []
            await ProjectionRunner(js, fresh, Heights()).run(until_height=head, on_block=lambda h, _: ticks.append(h))
            assert ticks == list(range(0, head + 1)) and quiet.calls == []
        finally:
            set_catch_up_reporter(previous)
        for e in (engine, partway, fresh):
            e.dispose()
    finally:
        await nc.close()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_log_lines_only_for_a_long_catch_up_and_at_most_every_interval() -> None:
    clock, lines = Clock(), []
    logs = LogCatchUp(min_blocks=100, interval_s=5, clock=clock, emit=lambda event, **kw: lines.append((event, kw)))

    logs.started("registry", 10, 30)  # short and quick: silent
    for height in range(11, 31):
        clock.now += 0.01
        logs.advanced("registry", height, 30)
    logs.finished("registry", 30)
    assert lines == []

    logs.started("identity", -1, 999)  # 1000 blocks: announced at once
    assert lines == [
        ("projection catching up", {"projection": "identity", "from_height": 0, "head": 999, "blocks": 1000})
    ]
    for height in range(0, 1000):
        clock.now += 0.02  # 20 s in all: a line every 5 s, not one per block
        logs.advanced("identity", height, 999)
    progress = [kw for event, kw in lines if event == "projection catch-up progress"]
    assert 3 <= len(progress) <= 4
    assert [p["height"] for p in progress] == sorted(p["height"] for p in progress)
    assert progress[0]["blocks_per_s"] == pytest.approx(50, rel=0.05) and progress[0]["eta_s"] > 0
    logs.finished("identity", 999)
    assert lines[-1][0] == "projection caught up" and lines[-1][1]["seconds"] == pytest.approx(20, abs=0.1)

    lines.clear()
    logs.started("analytics", -1, 50)  # few blocks, but slow: announced once it has run 5 s
    clock.now += 6
    logs.advanced("analytics", 3, 50)
    logs.finished("analytics", 3)
    assert [event for event, _ in lines] == [
        "projection catching up",
        "projection catch-up progress",
        "projection catch-up stopped",
    ]


def test_a_bar_on_a_terminal_log_lines_elsewhere() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True)
    assert isinstance(catch_up_display(terminal), RichCatchUp)
    assert isinstance(catch_up_display(Console(file=io.StringIO(), force_terminal=False)), LogCatchUp)

    bar = RichCatchUp(terminal)  # two projections at once share one display, gone when both are done
    bar.started("identity", -1, 9)
    bar.started("registry", 4, 9)
    bar.advanced("identity", 5, 9)
    assert bar._progress is not None and len(bar._progress.tasks) == 2
    task = next(t for t in bar._progress.tasks if t.description == "identity")
    assert (task.completed, task.total) == (6, 10)
    bar.finished("identity", 9)
    assert bar._progress is not None
    bar.finished("registry", 9)
    assert bar._progress is None
