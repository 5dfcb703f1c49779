"""Optional profiles of in-process phases (``--profile DIR``): pyinstrument when it is
installed (a sampling profiler, wall-clock), else cProfile (deterministic: call counts and
CPU time per function, which do not depend on how loaded the machine is)."""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def profiled(out: Path | None, *, async_mode: str = "enabled") -> Iterator[None]:
    """Profile the block into ``out`` (text); a no-op when ``out`` is None."""
    if out is None:
        yield
        return
    try:
        from pyinstrument import Profiler
    except ImportError:
        profile = cProfile.Profile()
        profile.enable()
        try:
            yield
        finally:
            profile.disable()
            text = io.StringIO()
            stats = pstats.Stats(profile, stream=text)
            text.write("cProfile (pyinstrument is not installed); by own time:\n")
            stats.sort_stats("tottime").print_stats(40)
            text.write("\nby cumulative time:\n")
            stats.sort_stats("cumulative").print_stats(40)
            out.write_text(text.getvalue())
        return
    profiler = Profiler(interval=0.001, async_mode=async_mode)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        out.write_text(profiler.output_text(unicode=True, color=False))
