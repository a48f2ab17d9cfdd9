"""The Simplified Chinese font face for the printer's receipt images and the UI's screens.

Here, not in ``device/`` or ``ui/``: it measures font files (no hardware), and both the
printer adapter and the Qt screens use it, which may not import each other.

Patients read Simplified Chinese: a Traditional (TC/HK) or Japanese face draws 令 and 角 in
other forms and centres the full-width ，。 — readable, but wrong on every screen and slip.
So a face is only used once it *measures* as SC: its family name names no other region, and
the probe characters rasterise nearer the SC face of the bundled Noto Sans CJK collection than
its TC face (``traditional_glyphs``). In Noto Sans CJK 2.004, 直 and 户 are the same glyph in
its SC and TC faces, so 令 角 ， 。 are what tell them apart; 直 户 still catch a JP or KR face.

Prefers what fontconfig offers for zh-cn (IT may install a preferred system font) when it
measures as SC, and falls back to Noto Sans CJK SC in the collection shipped by the
``noto-cjk-sans-otc`` wheel (the same file as Debian's fonts-noto-cjk), so rendering works on a
bare terminal and from the offline bundle. ``fc-match :lang=zh-cn`` alone is not enough: with
no CJK font installed it still answers (e.g. DejaVu Sans); ``fc-list :lang=zh-cn`` lists only
faces that really cover the language.
"""

from __future__ import annotations

import functools
import logging
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from common.errors import CodedError, ErrorCode

log = logging.getLogger(__name__)

FC_TIMEOUT_S = 5
SC_FAMILY = "Noto Sans CJK SC"
TC_FAMILY = "Noto Sans CJK TC"
PROBES = "令角直户，。"  # Traditional/Japanese forms differ in these
PROBE_PX = 48  # probe glyphs: this many pixels high, on a square twice that
PROBE_ORIGIN = (PROBE_PX // 2, PROBE_PX * 3 // 2)  # where the baseline starts
MISSING = "\U000effff"  # a code point no font has: draws .notdef
_OTHER_REGION = re.compile(r"(?<![A-Za-z])(TC|HC|HK|TW|JP|KR|K|J)(?![A-Za-z])"
                           r"|Traditional|Japanese|Korean|繁|日本|한국")
_FC_FORMAT = "%{file}\t%{index}\t%{family[0]}\n"

Raster = np.ndarray  # bool, (2 * PROBE_PX, 2 * PROBE_PX): ink where True


class FontMissing(CodedError):
    """No face on this terminal measures as Simplified Chinese (or nothing to measure with)."""

    code = ErrorCode.FONT_CJK_MISSING


@dataclass(frozen=True)
class CjkFace:
    """One face: a file and, in a .ttc/.otc collection, its index; ``family`` as named."""

    path: Path
    index: int
    family: str

    def truetype(self, size: int) -> ImageFont.FreeTypeFont:
        return _truetype(self.path, self.index, size)


@functools.cache
def _truetype(path: Path, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size, index=index)


def _fc(*args: str) -> list[str]:
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=FC_TIMEOUT_S,
                                check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def _parse_fc(line: str) -> CjkFace | None:
    parts = line.split("\t")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    path = Path(parts[0])
    return CjkFace(path, int(parts[1]), parts[2]) if path.is_file() else None


def system_cjk_faces() -> list[CjkFace]:
    """Faces fontconfig says cover zh-cn, fontconfig's preferred one first."""
    covering = [f for f in map(_parse_fc, _fc("fc-list", "--format", _FC_FORMAT, ":lang=zh-cn"))
                if f is not None]
    preferred = [f for f in map(_parse_fc, _fc("fc-match", "--format", _FC_FORMAT,
                                                ":lang=zh-cn")) if f is not None]
    if preferred and preferred[0] in covering:
        covering.remove(preferred[0])
        covering.insert(0, preferred[0])
    return covering


@functools.cache
def bundled_faces() -> dict[str, CjkFace]:
    """Family -> face of the Noto Sans CJK collection from the ``noto-cjk-sans-otc`` wheel."""
    try:
        import noto_cjk_sans_otc
    except ImportError:
        return {}
    path = Path(str(noto_cjk_sans_otc.FONT_PATH))
    faces: dict[str, CjkFace] = {}
    for index in range(32):
        try:
            family = ImageFont.truetype(str(path), PROBE_PX, index=index).getname()[0]
        except OSError:  # past the last face (or no file)
            break
        if family:
            faces[family] = CjkFace(path, index, family)
    return faces


def face_raster(face: CjkFace, char: str) -> Raster:
    """``char`` in ``face``, white ink on black at ``PROBE_ORIGIN`` (baseline left)."""
    canvas = Image.new("L", (2 * PROBE_PX, 2 * PROBE_PX), 0)
    ImageDraw.Draw(canvas).text(PROBE_ORIGIN, char, font=face.truetype(PROBE_PX), fill=255,
                                anchor="ls")
    return np.asarray(canvas) > 127


def _distance(a: Raster, b: Raster) -> float:
    """Jaccard distance of the inked pixels: 0 the same glyph, 1 nothing in common."""
    return float((a ^ b).sum()) / max(1, int((a | b).sum()))


@functools.cache
def _references() -> tuple[dict[str, Raster], dict[str, Raster]]:
    faces = bundled_faces()
    if SC_FAMILY not in faces or TC_FAMILY not in faces:
        raise FontMissing("the Noto Sans CJK collection (noto-cjk-sans-otc) is not installed: "
                          "nothing to measure Simplified glyphs against")
    return ({c: face_raster(faces[SC_FAMILY], c) for c in PROBES},
            {c: face_raster(faces[TC_FAMILY], c) for c in PROBES})


def traditional_glyphs(render: Callable[[str], Raster]) -> str:
    """The probe characters ``render`` draws nearer their TC form than their SC form."""
    sc, tc = _references()
    return "".join(c for c in PROBES if _distance(render(c), sc[c]) > _distance(render(c),
                                                                             tc[c]))


def other_region(family: str) -> bool:
    """True when the family name marks a Traditional, Japanese or Korean face."""
    return bool(_OTHER_REGION.search(family))


def simplified_problem(family: str, render: Callable[[str], Raster]) -> str:
    """Why text drawn by ``render`` (in ``family``) is not Simplified Chinese; "" if it is."""
    if other_region(family):
        return f"{family} is not a Simplified Chinese face"
    missing = render(MISSING)
    absent = "".join(c for c in PROBES if np.array_equal(render(c), missing))
    if absent:
        return f"{family} has no glyphs for {absent}"
    traditional = traditional_glyphs(render)
    if traditional:
        return f"{family} draws {traditional} in Traditional forms, not Simplified"
    return ""


def face_problem(face: CjkFace) -> str:
    return simplified_problem(face.family, functools.partial(face_raster, face))


def candidate_faces() -> list[CjkFace]:
    """In order of preference: fontconfig's zh-cn faces, then the bundled SC face."""
    bundled = bundled_faces().get(SC_FAMILY)
    return [*system_cjk_faces(), *([bundled] if bundled else [])]


@functools.cache
def cjk_font() -> CjkFace:
    """The first candidate face that measures as Simplified Chinese; ``FontMissing``
    (font.cjk_missing) naming why each candidate was refused, if none does."""
    refused: list[str] = []
    for face in candidate_faces():
        problem = face_problem(face)
        if not problem:
            log.info("cjk font", extra={"device": "fonts", "font": str(face.path),
                                        "face": face.index, "family": face.family})
            return face
        log.info("cjk font refused", extra={"device": "fonts", "font": str(face.path),
                                            "face": face.index, "reason": problem})
        refused.append(problem)
    found = f" ({'; '.join(refused[:3])})" if refused else ""
    raise FontMissing(f"no Simplified Chinese font{found}: install the noto-cjk-sans-otc "
                      "package (or Debian's fonts-noto-cjk)")
