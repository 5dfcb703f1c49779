"""A CJK font for charts with Chinese labels, found on this machine and registered explicitly.

matplotlib's default font (DejaVu Sans) has no Chinese glyphs: drawn with it, Chinese text
comes out as empty boxes ("tofu"). So charts in zh-CN need a CJK font file, and matplotlib
only knows the fonts in its cache, built once per install: a font installed later (the
Docker image's ``fonts-wqy-zenhei``, Debian's Noto CJK) is found here by path, or through
fontconfig, and added to the font manager by hand. When no CJK font is present the caller
draws its English labels instead (and this module logs that once): a readable English chart
beats a chart of boxes.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from functools import cache
from pathlib import Path

from matplotlib import font_manager

from govchain.logs import get_logger

log = get_logger("govchain.analytics")

KNOWN_FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian/Ubuntu fonts-wqy-zenhei (the image's)
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # fonts-noto-cjk
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch, Alpine
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
    "/usr/share/fonts/opentype/noto/NotoSansSC-Regular.otf",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
)
"""Where the usual CJK font packages put their files, most wanted first."""
SAMPLE = "营业执照满意度成本"
"""Characters a chart in zh-CN draws: a font must have every one of them to count."""
LATIN_FAMILY = "DejaVu Sans"
"""matplotlib's own font, kept first so Latin text and digits look as in the English charts."""
FC_LIST_TIMEOUT_S = 5

_warned = threading.Event()


class _WeightNotice(logging.Filter):
    """Drops matplotlib's notice that a registered CJK font has no "normal" weight (WenQuanYi
    Zen Hei calls its only weight Medium, 500, which matplotlib then uses: the right outcome)."""

    def __init__(self, family: str) -> None:
        super().__init__()
        self.family = family

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("findfont: Failed to find font weight") and self.family in message)


def _has_glyphs(path: Path) -> bool:
    """Whether the font at ``path`` (its first face) draws :data:`SAMPLE`; False if it cannot be read."""
    try:
        from matplotlib.ft2font import FT2Font

        face = FT2Font(str(path))
        return all(face.get_char_index(ord(c)) != 0 for c in SAMPLE)
    except (OSError, RuntimeError, ValueError):
        return False


def _fontconfig_candidates() -> list[Path]:
    """CJK font files fontconfig knows (``fc-list :lang=zh``), if fontconfig is installed."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        listed = subprocess.run(
            [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=FC_LIST_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    files = sorted({line.strip().rstrip(":") for line in listed.stdout.splitlines() if line.strip()})
    return [Path(f) for f in files if f.lower().endswith((".ttf", ".ttc", ".otf", ".otc"))]


_lock = threading.Lock()


@cache
def cjk_family() -> str | None:
    """The family name of a CJK font registered with matplotlib's font manager, or None when
    this machine has none. Looked for once per process."""
    with _lock:
        return _register_first()


def _register_first() -> str | None:
    for path in [*(Path(p) for p in KNOWN_FONT_FILES), *_fontconfig_candidates()]:
        if not path.is_file() or not _has_glyphs(path):
            continue
        try:
            font_manager.fontManager.addfont(str(path))
            name = font_manager.FontProperties(fname=str(path)).get_name()
        except (OSError, RuntimeError, ValueError) as exc:
            log.warning("cjk_font_unusable", path=str(path), error=str(exc))
            continue
        logging.getLogger("matplotlib.font_manager").addFilter(_WeightNotice(name))
        log.info("cjk_font_registered", path=str(path), family=name)
        return name
    return None


def families_for(language: str) -> list[str] | None:
    """The font families to draw a chart in ``language`` with (Latin first, CJK, when there is
    one, as the fallback for the glyphs it lacks), or None when the chart must be drawn in English instead: a
    Chinese chart without a CJK font (warned about once per process)."""
    family = cjk_family()
    if language == "en":  # Chinese in the data (a name) still gets glyphs when a CJK font is there
        return [LATIN_FAMILY] if family is None else [LATIN_FAMILY, family]
    if family is None:
        if not _warned.is_set():
            _warned.set()
            log.warning(
                "no_cjk_font",
                language=language,
                detail="no CJK font found (install fonts-wqy-zenhei or fonts-noto-cjk): charts are drawn in English",
            )
        return None
    return [LATIN_FAMILY, family]
