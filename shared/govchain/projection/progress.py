"""Progress of a projection catching up: replaying from its checkpoint to the chain head.

When a service starts behind the chain (a new replica, a restored backup, a long outage) its
runner first replays every block it missed; on a big chain that takes minutes and an operator
wants to see that it moves. The runner reports to a :class:`CatchUpReporter`:

* ``started(projection, from_height, head)`` once, when it starts behind the head;
* ``advanced(projection, height, head)`` after each block applied on the way;
* ``finished(projection, height)`` once, when it reaches the head it started towards (or stops);
* optionally ``counted(projection, events)``, before ``advanced``: the events replayed so far,
  so the reporter can show a rate in events per second (a reporter without it shows blocks).

``govchain verify`` (:func:`govchain.audit.verify_chain`) reports the same way, as ``verify``.

The head is the one read when the run began: blocks appended meanwhile are followed as usual,
not counted as catch-up. By default reports go to :class:`LogCatchUp` (structured log lines,
throttled, and only for a long catch-up, so container logs are not spammed); ``govchain up``
and ``govchain serve`` on a terminal install :class:`RichCatchUp`, a rich progress bar on stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from govchain.logs import get_logger

log = get_logger("govchain.projection")


class CatchUpReporter(Protocol):
    def started(self, projection: str, from_height: int, head: int) -> None: ...

    def advanced(self, projection: str, height: int, head: int) -> None: ...

    def finished(self, projection: str, height: int) -> None: ...


@dataclass
class _Run:
    from_height: int
    head: int
    began: float
    last_report: float
    announced: bool = False
    events: int | None = None


@dataclass
class LogCatchUp:
    """Structured log lines: one when a long catch-up starts, one every ``interval_s`` while it
    runs, one when it is done. A catch-up is long when it has ``min_blocks`` blocks to replay
    or is still running after ``interval_s``; a short one logs nothing here."""

    min_blocks: int = 1000
    interval_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    emit: Callable[..., None] = field(default=lambda event, **kw: log.info(event, **kw))
    _runs: dict[str, _Run] = field(default_factory=dict)

    def started(self, projection: str, from_height: int, head: int) -> None:
        now = self.clock()
        run = self._runs[projection] = _Run(from_height, head, now, now)
        if head - from_height >= self.min_blocks:
            self._announce(projection, run)

    def counted(self, projection: str, events: int) -> None:
        run = self._runs.get(projection)
        if run is not None:
            run.events = events

    def _announce(self, projection: str, run: _Run) -> None:
        run.announced = True
        self.emit(
            "projection catching up",
            projection=projection,
            from_height=run.from_height + 1,
            head=run.head,
            blocks=run.head - run.from_height,
        )

    def advanced(self, projection: str, height: int, head: int) -> None:
        run = self._runs.get(projection)
        if run is None:
            return
        now = self.clock()
        if now - run.last_report < self.interval_s:
            return
        if not run.announced:
            self._announce(projection, run)
        run.last_report = now
        done = height - run.from_height
        total = head - run.from_height
        rate = done / max(now - run.began, 1e-9)
        extra = _event_rate(run, now - run.began)
        self.emit(
            "projection catch-up progress",
            projection=projection,
            height=height,
            head=head,
            percent=round(100 * done / max(total, 1), 1),
            blocks_per_s=round(rate, 1),
            eta_s=round((head - height) / rate, 1) if rate > 0 else None,
            **extra,
        )

    def finished(self, projection: str, height: int) -> None:
        run = self._runs.pop(projection, None)
        if run is None or not run.announced:
            return
        took = self.clock() - run.began
        extra = _event_rate(run, took)
        self.emit(
            "projection caught up" if height >= run.head else "projection catch-up stopped",
            projection=projection,
            height=height,
            head=run.head,
            seconds=round(took, 2),
            **extra,
        )


def _event_rate(run: _Run, seconds: float) -> dict[str, int]:
    if run.events is None:
        return {}
    return {"events": run.events, "events_per_s": round(run.events / max(seconds, 1e-9))}


class RichCatchUp:
    """A rich progress bar per catching-up projection, on ``console`` (stderr), gone when done."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._tasks: dict[str, tuple[TaskID, int]] = {}
        self._began: dict[str, float] = {}

    def started(self, projection: str, from_height: int, head: int) -> None:
        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.fields[verb]} [bold]{task.description}[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("blocks"),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
        verb, what = ("verifying", "the chain") if projection == VERIFY else ("catching up", projection)
        task = self._progress.add_task(what, total=head - from_height, verb=verb, rate="")
        self._tasks[projection] = (task, from_height)
        self._began[projection] = time.monotonic()

    def counted(self, projection: str, events: int) -> None:
        if self._progress is not None and projection in self._tasks:
            seconds = max(time.monotonic() - self._began.get(projection, 0.0), 1e-9)
            self._progress.update(self._tasks[projection][0], rate=f"{events / seconds:,.0f} events/s")

    def advanced(self, projection: str, height: int, head: int) -> None:
        if self._progress is not None and projection in self._tasks:
            task, from_height = self._tasks[projection]
            self._progress.update(task, completed=height - from_height, total=head - from_height)

    def finished(self, projection: str, height: int) -> None:
        if self._progress is None or projection not in self._tasks:
            return
        task, _ = self._tasks.pop(projection)
        self._progress.remove_task(task)
        if not self._tasks:
            self._progress.stop()
            self._progress = None


VERIFY = "verify"
"""The name :func:`govchain.audit.verify_chain` reports its progress under."""


def report_events(reporter: CatchUpReporter, projection: str, events: int) -> None:
    """Tell ``reporter`` how many events have been replayed, if it counts them (``counted``)."""
    counted = getattr(reporter, "counted", None)
    if counted is not None:
        counted(projection, events)


_reporter: CatchUpReporter = LogCatchUp()


def catch_up_reporter() -> CatchUpReporter:
    """Where runners report catch-up progress unless given their own reporter."""
    return _reporter


def set_catch_up_reporter(reporter: CatchUpReporter) -> CatchUpReporter:
    """Install ``reporter`` for this process; returns the one it replaces."""
    global _reporter
    previous, _reporter = _reporter, reporter
    return previous


def catch_up_display(console: Console) -> CatchUpReporter:
    """A progress bar on a terminal; structured log lines (long catch-ups only) elsewhere."""
    return RichCatchUp(console) if console.is_terminal else LogCatchUp()
