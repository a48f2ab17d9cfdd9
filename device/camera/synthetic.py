"""A still photo made to move like a patient at the kiosk, for demos without a camera.

The motion is a pure function of time (approach, hold with a small drift, step back), so frames
are reproducible and the recogniser sees realistic changes in face size and position. A still
cannot turn its head: a liveness step that asks for a head turn will (correctly) not pass on
this source; use a recorded video for that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.opencv import cv2
from device.errors import CameraDisconnected, CameraUnavailable

APPROACH_S = 2.5  # walking up: the face grows from START_SCALE to full size
HOLD_S = 6.0  # standing at the kiosk: small drift and sway
LEAVE_S = 1.0  # stepping back out of frame
CYCLE_S = APPROACH_S + HOLD_S + LEAVE_S
START_SCALE = 0.55
BACKGROUND = (128, 128, 128)  # BGR: a plain lobby wall
NOISE_SIGMA = 2.0  # sensor noise, grey levels
NOISE_FIELDS = 4  # pre-drawn noise fields, cycled: cheap at 15 fps


@dataclass(frozen=True)
class Pose:
    scale: float  # 1.0 = the photo fitted to the frame
    dx: float  # shift as a fraction of the frame width
    dy: float  # ... and height


def motion_at(t: float) -> Pose:
    """Where the person is ``t`` seconds into the demo (repeats every ``CYCLE_S``)."""
    t = t % CYCLE_S
    if t < APPROACH_S:
        ease = 1 - (1 - t / APPROACH_S) ** 2  # decelerate into position
        return Pose(START_SCALE + (1 - START_SCALE) * ease, 0.0, 0.04 * (1 - ease))
    if t < APPROACH_S + HOLD_S:
        h = t - APPROACH_S
        return Pose(1.0 + 0.02 * math.sin(2 * math.pi * h / 3.0),
                    0.015 * math.sin(2 * math.pi * h / 4.0),
                    0.01 * math.sin(2 * math.pi * h / 2.5))
    leave = (t - APPROACH_S - HOLD_S) / LEAVE_S
    return Pose(1.0 - (1 - START_SCALE) * leave, 0.25 * leave, 0.0)


def fit_into(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The photo scaled to fit the frame, centred on a plain background."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
    x, y = (width - new_w) // 2, (height - new_h) // 2
    canvas[y:y + new_h, x:x + new_w] = resized
    return canvas


def render(canvas: np.ndarray, pose: Pose) -> np.ndarray:
    """Scale about the frame centre, then shift: one affine warp."""
    height, width = canvas.shape[:2]
    cx, cy = width / 2, height / 2
    matrix = np.array([[pose.scale, 0.0, cx * (1 - pose.scale) + pose.dx * width],
                       [0.0, pose.scale, cy * (1 - pose.scale) + pose.dy * height]])
    return cv2.warpAffine(canvas, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=BACKGROUND)


def default_still() -> np.ndarray:
    """scikit-image's astronaut (Eileen Collins, public domain), bundled with the package."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[..., ::-1])


class SyntheticGrabber:
    """Frames of a still photo moving along ``motion_at``; time is frame index / fps, so the
    sequence is the same on every run and every machine."""

    def __init__(self, path: str | Path | None, *, width: int, height: int, fps: float,
                 seed: int = 0) -> None:
        self.path = Path(path) if path else None
        self.name = str(self.path) if self.path else "astronaut (bundled)"
        self.width, self.height, self.fps = width, height, fps
        self._rng = np.random.default_rng(seed)
        self._canvas: np.ndarray | None = None
        self._noise: list[np.ndarray] = []
        self._index = 0

    def open(self) -> None:
        if self.path is None:
            still = default_still()
        else:
            still = cv2.imread(str(self.path), cv2.IMREAD_COLOR)
            if still is None:
                raise CameraUnavailable(f"{self.path} is not a readable image",
                                        source=self.name)
        self._canvas = fit_into(still, self.width, self.height)
        shape = self._canvas.shape
        self._noise = [np.round(self._rng.normal(0, NOISE_SIGMA, shape)).astype(np.int16)
                       for _ in range(NOISE_FIELDS)]
        self._index = 0

    def read(self) -> np.ndarray:
        if self._canvas is None:
            raise CameraDisconnected(f"{self.name} is not open", source=self.name)
        frame = render(self._canvas, motion_at(self._index / self.fps))
        noisy = frame.astype(np.int16) + self._noise[self._index % NOISE_FIELDS]
        self._index += 1
        return np.clip(noisy, 0, 255).astype(np.uint8)

    def close(self) -> None:
        self._canvas = None

    def pace_fps(self) -> float:
        return self.fps
