"""A font file that renders Chinese, for receipt images here and the UI's screens.

Prefers what fontconfig offers for zh-cn (IT may install a preferred system font) and falls
back to Noto Sans CJK shipped by the ``cvttf-notosanscjk-regular`` wheel, so rendering works on
a bare terminal. ``fc-match :lang=zh-cn`` alone is not enough: with no CJK font installed it
still answers (e.g. DejaVu Sans), which would print boxes; ``fc-list :lang=zh-cn`` lists only
fonts that really cover the language.
"""

from __future__ import annotations

import functools
import logging
import subprocess
from pathlib import Path

from device.errors import DeviceError

log = logging.getLogger(__name__)

FC_TIMEOUT_S = 5


def _fc(*args: str) -> list[str]:
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=FC_TIMEOUT_S,
                                check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def system_cjk_fonts() -> list[Path]:
    """Font files fontconfig says cover zh-cn, fontconfig's preferred one first."""
    covering = [Path(line.split(":")[0]) for line in _fc("fc-list", ":lang=zh-cn", "file")]
    covering = [p for p in covering if p.is_file()]
    preferred = _fc("fc-match", "--format=%{file}\n", ":lang=zh-cn")
    if preferred and Path(preferred[0]) in covering:
        covering.remove(Path(preferred[0]))
        covering.insert(0, Path(preferred[0]))
    return covering


def bundled_cjk_font() -> Path | None:
    try:
        import cvttf_NotoSansCJK_Regular as noto
    except ImportError:
        return None
    try:
        return Path(noto.get_TTF_path())
    except FileNotFoundError:
        return None


@functools.cache
def cjk_font_path() -> Path:
    """The CJK-capable font file to use; raises ``DeviceError`` (font.cjk_missing) if none."""
    system = system_cjk_fonts()
    path = system[0] if system else bundled_cjk_font()
    if path is None:
        raise DeviceError("no font that renders Chinese: install fonts-noto-cjk or the "
                          "cvttf-notosanscjk-regular package", code="font.cjk_missing")
    log.info("cjk font", extra={"device": "fonts", "font": str(path)})
    return path
