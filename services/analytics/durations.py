"""Durations for people (``15.0 d``, ``3.2 h``, ``1.25 s``): shared by tables and charts, and
free of the plotting stack, so a command that prints a table does not load matplotlib."""

from __future__ import annotations

UNITS: tuple[tuple[str, str, float], ...] = (
    ("days", "d", 86_400.0),
    ("hours", "h", 3_600.0),
    ("minutes", "min", 60.0),
    ("seconds", "s", 1.0),
)


def duration_unit(seconds: float) -> tuple[str, str, float]:
    """The largest unit in which ``seconds`` is at least 2: (name, symbol, seconds per unit)."""
    return next((u for u in UNITS if seconds >= 2 * u[2]), UNITS[-1])


def format_duration(seconds: float | None) -> str:
    """A duration for people: ``15.0 d``, ``3.2 h``, ``1.25 s``; ``—`` when unknown."""
    if seconds is None:
        return "—"
    _, symbol, size = duration_unit(abs(seconds))
    value = seconds / size
    return f"{value:.2f} {symbol}" if symbol == "s" else f"{value:.1f} {symbol}"
