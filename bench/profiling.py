"""Optional pyinstrument profiles of in-process phases (``--profile DIR``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def profiled(out: Path | None) -> Iterator[None]:
    """Profile the block into ``out`` (text); a no-op when ``out`` is None."""
    if out is None:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001, async_mode="enabled")
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        out.write_text(profiler.output_text(unicode=True, color=False))
