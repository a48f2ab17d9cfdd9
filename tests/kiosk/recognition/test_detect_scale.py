"""Detection on a shrunk frame (the default): the same faces as at full resolution, and
too_far still honest."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from common.opencv import cv2
from kiosk.config import KioskConfig, RecognitionConfig
from kiosk.recognition.engine import FaceEngine


@pytest.fixture(scope="module")
def full() -> FaceEngine:
    config = KioskConfig()
    recognition = dataclasses.replace(config.recognition, detect_min_face_px=0)
    return FaceEngine.from_config(dataclasses.replace(config, recognition=recognition))


def _frame(face: np.ndarray, size: int) -> np.ndarray:
    frame = np.full((480, 640, 3), 110, np.uint8)
    frame[10 : 10 + size, 90 : 90 + size] = cv2.resize(face, (size, size),
                                                        interpolation=cv2.INTER_AREA)
    return frame


def test_default_detects_on_a_half_resolution_frame(engine, full):
    assert engine.config.recognition.detect_min_face_px == 40
    assert engine.detect_scale == 0.5
    assert full.detect_scale == math.inf
    assert engine.detector.detect(np.zeros((480, 640, 3), np.uint8)) == []


def test_shrunk_detection_finds_the_same_faces(engine, full, astronaut, hanks, group_photo):
    frames = [_frame(astronaut, 360), _frame(astronaut, 460), _frame(hanks, 300), group_photo]
    for frame in frames:
        small, big = engine.detect(frame), full.detect(frame)
        assert len(small) == len(big)
        for a, b in zip(sorted(small, key=lambda d: d.box[0]),
                        sorted(big, key=lambda d: d.box[0]), strict=True):
            assert np.abs(a.landmarks - b.landmarks).max() < 0.08 * b.height


def test_a_face_too_small_to_use_is_still_seen_and_told_to_come_closer(engine, astronaut):
    for size in (150, 200, 250):  # face boxes ~33-53 px: over detect_min_face_px = 40 (give
        # or take), under min_face_px = 64
        reasons = engine.analyse(_frame(astronaut, size), embed=False).quality.reasons
        assert reasons[0] == "too_far"


@pytest.mark.parametrize("value", [10, 65])
def test_detect_min_face_px_is_checked(value):
    assert RecognitionConfig(detect_min_face_px=value).validate()
    assert not RecognitionConfig(detect_min_face_px=0).validate()
