"""The Fabric-style block cutter."""

from __future__ import annotations

import pytest

from govchain.config import Settings
from govchain.protocol.cutter import BlockCutter, BlockLimits


def cutter(max_count: int = 3, preferred_bytes: int = 100) -> BlockCutter[str]:
    return BlockCutter(BlockLimits(max_count=max_count, preferred_bytes=preferred_bytes, max_wait_s=1.0))


def test_defaults_are_the_ledgers(monkeypatch: pytest.MonkeyPatch) -> None:
    """One source: the settings default to BlockLimits' defaults (500 events, 512 KiB, 50 ms:
    what the ledger runs with and the README documents)."""
    for name in ("GOVCHAIN_BATCH_MAX_COUNT", "GOVCHAIN_BATCH_PREFERRED_BYTES", "GOVCHAIN_BATCH_MAX_WAIT_MS"):
        monkeypatch.delenv(name, raising=False)
    limits = BlockLimits()
    assert (limits.max_count, limits.preferred_bytes, limits.max_wait_s) == (500, 512 * 1024, 0.05)
    assert Settings().batch_limits == limits


def test_settings_override_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVCHAIN_BATCH_MAX_COUNT", "7")
    monkeypatch.setenv("GOVCHAIN_BATCH_PREFERRED_BYTES", "4096")
    monkeypatch.setenv("GOVCHAIN_BATCH_MAX_WAIT_MS", "300")
    assert Settings().batch_limits == BlockLimits(max_count=7, preferred_bytes=4096, max_wait_s=0.3)


def test_cuts_at_the_count_limit() -> None:
    c = cutter(max_count=3)
    assert c.add("a", 1) == []
    assert c.add("b", 1) == []
    assert c.pending == 2
    assert c.add("c", 1) == [["a", "b", "c"]]
    assert c.pending == 0
    assert c.add("d", 1) == []
    assert c.pending == 1


def test_count_limit_of_one_cuts_every_item() -> None:
    c = cutter(max_count=1)
    assert [c.add(x, 1) for x in "abc"] == [[["a"]], [["b"]], [["c"]]]


def test_cuts_before_an_item_that_would_overflow_the_preferred_size() -> None:
    c = cutter(max_count=10, preferred_bytes=100)
    assert c.add("a", 60) == []
    assert c.add("b", 40) == []  # exactly 100: still fits
    assert c.add("c", 1) == [["a", "b"]]  # 101 would overflow: cut before "c"
    assert c.pending == 1
    assert c.cut() == ["c"]


def test_byte_count_restarts_after_a_cut() -> None:
    c = cutter(max_count=10, preferred_bytes=100)
    c.add("a", 90)
    assert c.add("b", 90) == [["a"]]
    assert c.add("c", 10) == []  # 90 + 10: fits the new batch
    assert c.add("d", 1) == [["b", "c"]]


def test_oversized_item_goes_alone() -> None:
    c = cutter(max_count=10, preferred_bytes=100)
    assert c.add("big", 101) == [["big"]]
    assert c.pending == 0
    assert c.add("a", 10) == []
    assert c.cut() == ["a"]


def test_oversized_item_flushes_pending_first() -> None:
    c = cutter(max_count=10, preferred_bytes=100)
    c.add("a", 10)
    c.add("b", 10)
    assert c.add("big", 500) == [["a", "b"], ["big"]]
    assert c.pending == 0
    assert c.cut() == []


def test_flush_before_cuts_pending() -> None:
    c = cutter(max_count=10)
    c.add("a", 1)
    c.add("b", 1)
    assert c.add("key.revoked", 1, flush_before=True) == [["a", "b"]]
    assert c.pending == 1
    assert c.add("c", 1) == []
    assert c.cut() == ["key.revoked", "c"]


def test_flush_before_with_nothing_pending_cuts_nothing() -> None:
    c = cutter(max_count=10)
    assert c.add("key.added", 1, flush_before=True) == []
    assert c.cut() == ["key.added"]


def test_flush_before_then_count_limit() -> None:
    c = cutter(max_count=1)
    c.add("a", 1)  # cut at once
    assert c.add("b", 1, flush_before=True) == [["b"]]


def test_cut_empties_the_batch() -> None:
    c = cutter(max_count=10, preferred_bytes=100)
    c.add("a", 50)
    c.add("b", 40)
    assert c.cut() == ["a", "b"]
    assert c.pending == 0
    assert c.cut() == []
    # the byte count was reset too: 90 more bytes fit without a cut
    assert c.add("c", 90) == []


def test_no_item_is_lost_or_reordered() -> None:
    c = cutter(max_count=4, preferred_bytes=100)
    sizes = [10, 30, 200, 5, 5, 5, 5, 90, 20, 1, 150, 60, 50]
    out: list[str] = []
    for index, size in enumerate(sizes):
        for batch in c.add(str(index), size, flush_before=index == 9):
            assert 0 < len(batch) <= 4
            assert len(batch) == 1 or sum(sizes[int(x)] for x in batch) <= 100
            out.extend(batch)
    out.extend(c.cut())
    assert out == [str(i) for i in range(len(sizes))]


@pytest.mark.parametrize(
    "limits",
    [
        {"max_count": 0},
        {"max_count": -1},
        {"preferred_bytes": 0},
        {"preferred_bytes": -5},
        {"max_wait_s": 0},
        {"max_wait_s": -0.1},
    ],
)
def test_batch_limits_reject_non_positive_values(limits: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        BlockLimits(**limits)  # type: ignore[arg-type]
