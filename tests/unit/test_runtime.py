"""A service process settles its garbage collector once start-up is done."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from govchain.config import Settings
from govchain.runtime import settle_for_service, settle_process


@pytest.fixture
def gc_state() -> Iterator[None]:
    """Give the test process its collector back as it was."""
    gc.unfreeze()
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settling_freezes_what_start_up_built(gc_state: None) -> None:
    before = gc.get_threshold()
    settle_for_service()
    assert gc.get_freeze_count() > 1000  # modules, classes, schemas: out of every later scan
    assert gc.get_threshold() == before  # Python's own thresholds, unless asked


def test_a_young_threshold_widens_only_the_youngest_generation(gc_state: None) -> None:
    middle, oldest = gc.get_threshold()[1:]
    settle_for_service(freeze=False, young_threshold=25_000)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (25_000, middle, oldest)


def test_settings_freeze_by_default_and_can_leave_the_collector_alone(
    gc_state: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = gc.get_threshold()
    monkeypatch.setenv("GOVCHAIN_GC_FREEZE", "0")
    settle_process(Settings())
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
    monkeypatch.delenv("GOVCHAIN_GC_FREEZE")
    settle_process(Settings())
    assert gc.get_freeze_count() > 1000
