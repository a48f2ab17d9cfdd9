"""Threshold calibration from labelled pairs: FMR/FNMR at a threshold, a sweep, and the
threshold that meets a target FMR, so a hospital can calibrate on its own photos."""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import ErrorCode
from kiosk.errors import KioskError

_TRUE = {"1", "yes", "y", "true", "same", "genuine", "match"}
_FALSE = {"0", "no", "n", "false", "different", "impostor", "mismatch"}
DEFAULT_COLUMNS = ("image_a", "image_b", "same")
_LFW_COUNTS = re.compile(r"^\d+(?:\s+\d+)?$")


class PairsFileError(KioskError):
    code = ErrorCode.CALIBRATION_BAD_PAIRS_FILE


@dataclass(frozen=True)
class Pair:
    image_a: str
    image_b: str
    same: bool
    line: int


def parse_columns(spec: str) -> tuple[str, str, str]:
    """``--columns A,B,LABEL``: the header names of the two image columns and the label."""
    names = tuple(n.strip() for n in spec.split(","))
    if len(names) != 3 or not all(names):
        raise PairsFileError(f"--columns needs three names, A,B,LABEL; got {spec!r}")
    return names  # type: ignore[return-value]


def read_pairs(text: str, name: str = "pairs.csv",
               columns: tuple[str, str, str] | None = None) -> list[Pair]:
    """Parse a pairs list: LFW's ``pairs.txt`` layout, or a CSV of two image paths and a
    label (yes/no, true/false, same/different, 1/0). A CSV's header row is optional; one
    whose names are not ``image_a,image_b,same`` needs ``columns``."""
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)]
    lines = [(n, line) for n, line in lines if line and not line.startswith("#")]
    if not lines:
        raise PairsFileError(f"{name}: no pairs")
    if columns is None and _LFW_COUNTS.match(lines[0][1]):
        return _read_lfw(lines, name)
    return _read_csv(text, name, columns)


def _read_lfw(lines: list[tuple[int, str]], name: str) -> list[Pair]:
    """LFW ``pairs.txt``: a count line (``pairs`` or ``folds pairs``), then per pair
    ``person n1 n2`` (same person) or ``person1 n1 person2 n2``; images are
    ``person/person_000n.jpg`` under the LFW folder (``--images``)."""
    counts = [int(v) for v in lines[0][1].split()]
    pairs: list[Pair] = []
    for number, line in lines[1:]:
        cells = line.split()
        if len(cells) == 3 and cells[1].isdigit() and cells[2].isdigit():
            first, second, same = (cells[0], cells[1]), (cells[0], cells[2]), True
        elif len(cells) == 4 and cells[1].isdigit() and cells[3].isdigit():
            first, second, same = (cells[0], cells[1]), (cells[2], cells[3]), False
        else:
            raise PairsFileError(f"{name}:{number}: LFW pairs need 'name n1 n2' or "
                                 f"'name1 n1 name2 n2', got {line!r}")
        pairs.append(Pair(_lfw_image(*first), _lfw_image(*second), same, number))
    declared = 2 * math.prod(counts)  # each fold or set holds that many of each kind
    if len(pairs) != declared:
        raise PairsFileError(f"{name}:{lines[0][0]}: header {lines[0][1]!r} declares "
                             f"{declared} pairs, the file has {len(pairs)}")
    return pairs


def _lfw_image(person: str, number: str) -> str:
    return f"{person}/{person}_{int(number):04d}.jpg"


def _read_csv(text: str, name: str, columns: tuple[str, str, str] | None) -> list[Pair]:
    rows = [(n, [c.strip() for c in row])
            for n, row in enumerate(csv.reader(io.StringIO(text)), start=1)]
    rows = [(n, cells) for n, cells in rows
            if any(cells) and not cells[0].startswith("#")]
    first_line, first = rows[0]
    if columns is None and len(first) < 3:
        raise PairsFileError(f"{name}:{first_line}: need 3 columns (image_a, image_b, same), "
                             f"got {len(first)}")
    index, width = (0, 1, 2), 3
    if columns is not None or _is_header(first):
        index = _header_index(first, columns, f"{name}:{first_line}")
        width = len(first)
        rows = rows[1:]
    pairs = []
    for number, cells in rows:
        if len(cells) != width:
            raise PairsFileError(f"{name}:{number}: need {width} columns, got {len(cells)}")
        a, b, raw = (cells[i] for i in index)
        label = raw.lower()
        if label not in _TRUE | _FALSE:
            raise PairsFileError(f"{name}:{number}: label must be yes/no, true/false, "
                                 f"same/different or 1/0, got {raw!r}")
        if not a or not b:
            raise PairsFileError(f"{name}:{number}: an image path is empty")
        pairs.append(Pair(a, b, label in _TRUE, number))
    if not pairs:
        raise PairsFileError(f"{name}: no pairs")
    return pairs


def _is_header(cells: list[str]) -> bool:
    """A first row is a header when it names columns: not a pair (a label third) and no
    image path among its first two cells (paths carry an extension or a folder)."""
    if cells[0].lower() in ("image_a", "a", "left"):
        return True
    if len(cells) == 3 and cells[2].lower() in _TRUE | _FALSE:
        return False
    return not any("." in c or "/" in c for c in cells[:2])


def _header_index(header: list[str], columns: tuple[str, str, str] | None,
                  where: str) -> tuple[int, int, int]:
    """Positions of the image and label columns: the named ones, ``image_a,image_b,same``
    if present, else the only three columns in order."""
    lowered = [h.lower() for h in header]
    wanted = columns or DEFAULT_COLUMNS
    missing = [c for c in wanted if c.lower() not in lowered]
    if not missing:
        a, b, label = (lowered.index(c.lower()) for c in wanted)
        return a, b, label
    if columns is None and len(header) == 3:
        return 0, 1, 2
    hint = "" if columns else "; name the two image columns and the label with --columns A,B,LABEL"
    raise PairsFileError(f"{where}: header has columns {', '.join(header)}, not "
                         f"{', '.join(missing)}{hint}")


def load_pairs(path: Path, columns: tuple[str, str, str] | None = None) -> list[Pair]:
    try:
        return read_pairs(path.read_text(encoding="utf-8-sig"), path.name, columns)
    except (OSError, UnicodeDecodeError) as exc:
        raise PairsFileError(f"{path}: cannot read ({exc})") from exc


@dataclass(frozen=True)
class Rates:
    threshold: float
    fmr: float
    fnmr: float
    false_matches: int
    false_non_matches: int


def rates_at(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> Rates:
    """A pair matches when its score is >= threshold (the engine's rule)."""
    fm = int((impostor >= threshold).sum())
    fnm = int((genuine < threshold).sum())
    return Rates(
        threshold=threshold,
        fmr=fm / len(impostor) if len(impostor) else math.nan,
        fnmr=fnm / len(genuine) if len(genuine) else math.nan,
        false_matches=fm,
        false_non_matches=fnm,
    )


def threshold_for_fmr(impostor: np.ndarray, target_fmr: float) -> float | None:
    """Lowest threshold whose FMR on these impostor scores is <= target (None if no data)."""
    if len(impostor) == 0:
        return None
    ordered = np.sort(impostor)[::-1]
    allowed = math.floor(target_fmr * len(ordered))
    if allowed >= len(ordered):
        return float(ordered[-1])
    return float(np.nextafter(np.float32(ordered[allowed]), np.float32(2.0)))


def sweep(genuine: np.ndarray, impostor: np.ndarray, start: float = 0.0, stop: float = 0.8,
          step: float = 0.05) -> list[Rates]:
    count = round((stop - start) / step) + 1
    return [rates_at(genuine, impostor, round(start + i * step, 4)) for i in range(count)]
