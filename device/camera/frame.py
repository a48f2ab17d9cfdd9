"""The unit every camera source delivers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Frame:
    """One captured image. ``timestamp_ns`` is ``time.monotonic_ns()`` at capture, so ages and
    intervals are comparable across sources and immune to wall-clock changes."""

    image: np.ndarray  # BGR uint8, HxWx3
    timestamp_ns: int
    seq: int  # 0, 1, 2... per source; gaps mean frames were dropped
    source: str

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
