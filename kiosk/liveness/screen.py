"""Cheap passive cues that the face is on a screen: moiré and glare.

A screen's pixel grid, re-sampled by the camera's own pixel grid, aliases into moiré: a few
strong, isolated peaks in the face's spectrum where skin, hair and shading have a smooth one.
A glossy screen (or photo) also reflects the kiosk's lights as clipped, colourless patches.
Both are weak on their own (a matte print shows neither); they add to the geometric test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.opencv import cv2
from kiosk.recognition.detection import Detection

MIN_SIDE_PX = 32  # a smaller face crop has too few frequencies to tell anything
MAX_SIDE_PX = 160  # texture is texture: the centre of a large face says as much
_BAND = (0.12, 0.48)  # cycles per pixel: above the face's own shading, below Nyquist
_RINGS = 16
_PEAKS = 6  # a moiré pattern puts several peaks (each with its mirror) in the band
_JPEG_BLOCK = 8  # MJPEG cameras leave energy on the lines of the 8x8 block lattice


@dataclass(frozen=True)
class ScreenCues:
    moire: float  # mean of the strongest spectral peaks over their ring's median (ratio)
    glare: float  # fraction of the face box that is clipped, colourless highlight


def face_region(frame: np.ndarray, detection: Detection, shrink: float = 0.7) -> np.ndarray:
    """The central part of the face box (no background, little hair), clipped to the frame."""
    x1, y1, x2, y2 = (float(v) for v in detection.box)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w, half_h = (x2 - x1) * shrink / 2, (y2 - y1) * shrink / 2
    h, w = frame.shape[:2]
    left, right = max(0, round(cx - half_w)), min(w, round(cx + half_w))
    top, bottom = max(0, round(cy - half_h)), min(h, round(cy + half_h))
    return frame[top:bottom, left:right]


def moire_score(region_bgr: np.ndarray) -> float:
    """Peakiness of the band-pass spectrum, JPEG block lattice left out: about 3-6 for a
    camera image of a face, tens for a screen whose pixel grid aliases."""
    grey = cv2.cvtColor(region_bgr, cv2.COLOR_BGR2GRAY).astype(np.float64)
    rows, cols = grey.shape
    if min(rows, cols) < MIN_SIDE_PX:
        return 0.0
    top, left = max(0, (rows - MAX_SIDE_PX) // 2), max(0, (cols - MAX_SIDE_PX) // 2)
    grey = grey[top : top + MAX_SIDE_PX, left : left + MAX_SIDE_PX]  # bounds the cost
    rows, cols = grey.shape
    window = np.outer(np.hanning(rows), np.hanning(cols))
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2((grey - grey.mean()) * window)))
    fy = np.fft.fftshift(np.fft.fftfreq(rows))[:, None]
    fx = np.fft.fftshift(np.fft.fftfreq(cols))[None, :]
    radius = np.hypot(fy, fx)
    in_band = ((radius >= _BAND[0]) & (radius <= _BAND[1])
               & ~_near_block_lattice(fx, cols) & ~_near_block_lattice(fy, rows))
    ring = np.minimum(((radius - _BAND[0]) / (_BAND[1] - _BAND[0]) * _RINGS).astype(int),
                      _RINGS - 1)
    ratios = []
    for r in range(_RINGS):
        values = spectrum[in_band & (ring == r)]
        median = float(np.median(values)) if values.size else 0.0
        if median > 1e-9:
            ratios.append(values / median)
    if not ratios:
        return 0.0
    top = np.sort(np.concatenate(ratios))[-2 * _PEAKS:]
    return float(top.mean())


def _near_block_lattice(freq: np.ndarray, size: int) -> np.ndarray:
    """Within 1.5 bins of a multiple of 1/8 cycle per pixel, where JPEG blocking lives."""
    return np.abs(freq * _JPEG_BLOCK - np.round(freq * _JPEG_BLOCK)) * size / _JPEG_BLOCK < 1.5


def glare_fraction(region_bgr: np.ndarray) -> float:
    hsv = cv2.cvtColor(region_bgr, cv2.COLOR_BGR2HSV)
    clipped = (hsv[..., 2] >= 250) & (hsv[..., 1] <= 40)
    return float(clipped.mean()) if clipped.size else 0.0


def screen_cues(frame: np.ndarray, detection: Detection) -> ScreenCues:
    region = face_region(frame, detection)
    if region.size == 0:
        return ScreenCues(0.0, 0.0)
    return ScreenCues(moire=moire_score(region), glare=glare_fraction(region))
