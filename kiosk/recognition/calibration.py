"""Threshold calibration from labelled pairs: FMR/FNMR at a threshold, a sweep, and the
threshold that meets a target FMR, so a hospital can calibrate on its own photos."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.errors import KioskError

_TRUE = {"1", "yes", "y", "true", "same", "genuine"}
_FALSE = {"0", "no", "n", "false", "different", "impostor"}


class PairsFileError(KioskError):
    code = "calibration.bad_pairs_file"


@dataclass(frozen=True)
class Pair:
    image_a: str
    image_b: str
    same: bool
    line: int


def read_pairs(text: str, name: str = "pairs.csv") -> list[Pair]:
    """Parse ``image_a,image_b,same`` rows (a header row is optional)."""
    pairs: list[Pair] = []
    reader = csv.reader(io.StringIO(text))
    for number, row in enumerate(reader, start=1):
        cells = [c.strip() for c in row]
        if not cells or all(not c for c in cells) or cells[0].startswith("#"):
            continue
        if number == 1 and cells[0].lower() in ("image_a", "a", "left"):
            continue
        if len(cells) != 3:
            raise PairsFileError(f"{name}:{number}: need 3 columns (image_a, image_b, same)")
        label = cells[2].lower()
        if label not in _TRUE | _FALSE:
            raise PairsFileError(f"{name}:{number}: 'same' must be 1/0 or yes/no, got {cells[2]!r}")
        pairs.append(Pair(cells[0], cells[1], label in _TRUE, number))
    if not pairs:
        raise PairsFileError(f"{name}: no pairs")
    return pairs


def load_pairs(path: Path) -> list[Pair]:
    try:
        return read_pairs(path.read_text(encoding="utf-8-sig"), path.name)
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
