"""Charts speak the portal's languages: every title, axis and legend in zh-CN or English, Chinese
drawn with a CJK font registered explicitly (never as boxes), English when there is none."""

from __future__ import annotations

import string
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from govchain.services.analytics import charts, fonts
from govchain.services.analytics.charts import CHARTS, LABELS, UnknownLanguage, labels_for
from govchain.services.analytics.metrics import Summary

from .test_analytics_charts import empty_summary, full_summary, png_size

CJK = range(0x4E00, 0xA000)


def _has_cjk(text: str) -> bool:
    return any(ord(c) in CJK for c in text)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every text each chart drawn under this fixture put on its figure."""
    texts: list[str] = []
    original = charts._png

    def keep(fig: Figure) -> bytes:
        png = original(fig)  # drawn first: tick labels exist once the figure is laid out
        texts.extend(t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text())
        return png

    monkeypatch.setattr(charts, "_png", keep)
    yield texts


def test_both_languages_label_the_same_things_with_the_same_placeholders() -> None:
    en, zh = LABELS["en"], LABELS["zh-CN"]
    assert set(en) == set(zh)
    fields = string.Formatter()
    for key in en:
        assert {f for _, f, _, _ in fields.parse(en[key]) if f} == {f for _, f, _, _ in fields.parse(zh[key]) if f}, key
        assert not _has_cjk(en[key]), key
        assert _has_cjk(zh[key]) or zh[key] == en[key], f"{key} is not in Chinese"


@pytest.mark.skipif(fonts.cjk_family() is None, reason="no CJK font on this machine (install fonts-wqy-zenhei)")
@pytest.mark.parametrize("name", sorted(CHARTS))
@pytest.mark.parametrize("summary", [full_summary(), empty_summary()], ids=["with-data", "empty"])
def test_a_chinese_chart_is_labelled_in_chinese_and_draws_every_glyph(
    name: str, summary: Summary, drawn: list[str]
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        zh = CHARTS[name](summary, "zh-CN")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing  # a glyph no font has is drawn as a box: tofu
    assert png_size(zh)[0] == 800
    chinese = [t for t in drawn if _has_cjk(t)]
    assert chinese, drawn
    english_words = set(" ".join(LABELS["en"].values()).split()) - set(" ".join(LABELS["zh-CN"].values()).split())
    leftover = [t for t in drawn if set(t.split()) & english_words - {"GovChain", "CNY", "UTC"} and not _has_cjk(t)]
    assert not leftover, leftover  # no English label left in a Chinese chart (data such as reason codes aside)
    drawn.clear()
    en = CHARTS[name](summary, "en")
    assert en != zh and not any(_has_cjk(t) for t in drawn)


def test_the_chinese_title_is_the_chinese_label(drawn: list[str]) -> None:
    if fonts.cjk_family() is None:
        pytest.skip("no CJK font on this machine")
    summary = full_summary()
    CHARTS["costs"](summary, "zh-CN")
    assert LABELS["zh-CN"]["costs.title"] in drawn
    assert any(t.startswith("节省 ") for t in drawn)  # the savings annotations too
    drawn.clear()
    CHARTS["satisfaction"](summary, "zh-CN")
    assert any(t.startswith("营业执照\n平均 ") for t in drawn), drawn  # service titles in Chinese


def test_without_a_cjk_font_a_chinese_chart_is_drawn_in_english_and_warned_about_once(
    monkeypatch: pytest.MonkeyPatch, drawn: list[str]
) -> None:
    logged: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(fonts, "cjk_family", lambda: None)
    monkeypatch.setattr(fonts, "_warned", type(fonts._warned)())
    monkeypatch.setattr(fonts.log, "warning", lambda event, **kw: logged.append((event, kw)))
    first = CHARTS["satisfaction"](full_summary(), "zh-CN")
    CHARTS["costs"](full_summary(), "zh-CN")
    assert not any(_has_cjk(t) for t in drawn)
    assert LABELS["en"]["satisfaction.title"] in drawn
    assert [event for event, _ in logged] == ["no_cjk_font"]
    assert first == CHARTS["satisfaction"](full_summary(), "en")


def test_a_found_font_is_registered_with_matplotlib() -> None:
    from matplotlib import font_manager

    family = fonts.cjk_family()
    if family is None:
        pytest.skip("no CJK font on this machine")
    assert family in {entry.name for entry in font_manager.fontManager.ttflist}
    labels, families = labels_for("zh-CN")
    assert labels.language == "zh-CN" and families == [fonts.LATIN_FAMILY, family]


def test_an_unknown_language_is_a_typed_error() -> None:
    with pytest.raises(UnknownLanguage):
        CHARTS["costs"](full_summary(), "fr")
