"""Head pose: frontal package photos read frontal, and a rendered mean face reads back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kiosk.recognition.geometry import FACE_MODEL_3D, head_pose


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    """Camera-axes rotation with the sign conventions head_pose() reports."""
    y, p = math.radians(yaw), math.radians(pitch)
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    return ry @ rx


FRAME = (640, 480)


def _render(yaw: float, pitch: float, distance: float = 600.0) -> np.ndarray:
    """The model's five points turned by (yaw, pitch), seen by the pinhole camera head_pose()
    assumes for a 640x480 frame (focal 640 px, centred)."""
    points = FACE_MODEL_3D @ _rotation(yaw, pitch).T + np.array([0.0, 0.0, distance])
    return 640.0 * points[:, :2] / points[:, 2:] + np.array([320.0, 240.0])


@pytest.mark.parametrize("yaw", [-40.0, -20.0, -8.0, 0.0, 8.0, 20.0, 40.0])
@pytest.mark.parametrize("pitch", [-30.0, -15.0, 0.0, 15.0, 30.0])
@pytest.mark.parametrize("distance", [350.0, 600.0, 1000.0])
def test_a_rendered_mean_face_reads_back_its_pose(yaw, pitch, distance):
    got_yaw, got_pitch, got_roll = head_pose(_render(yaw, pitch, distance), FRAME)
    assert got_yaw == pytest.approx(yaw, abs=3)
    assert got_pitch == pytest.approx(pitch, abs=3)
    assert abs(got_roll) < 3


def _pose(engine, image: np.ndarray) -> list[tuple[float, float, float]]:
    size = (image.shape[1], image.shape[0])
    faces = sorted(engine.detect(image), key=lambda d: d.box[0])
    return [head_pose(d.landmarks, size) for d in faces]


def test_frontal_package_portraits_read_frontal(engine, astronaut, hanks, group_photo):
    """The astronaut, Hanks and the one man in t1.jpg who faces the camera (third from the
    left; the others look down at their cards or turn away). The ArcFace-template model
    read these at pitch 14.7°, 7.9° and 27.0°."""
    (astro,), (tom,) = _pose(engine, astronaut), _pose(engine, hanks)
    ross = _pose(engine, group_photo)[2]
    for yaw, pitch, _ in (astro, tom, ross):
        assert abs(yaw) <= 8 and abs(pitch) <= 8


def test_the_turned_head_in_t1_still_reads_turned(engine, group_photo):
    yaws = [yaw for yaw, _, _ in _pose(engine, group_photo)]
    assert max(abs(y) for y in yaws) > 45


def test_no_frontal_package_photo_is_refused_as_not_frontal(engine, astronaut, hanks):
    from common.opencv import cv2

    assert "not_frontal" not in engine.analyse(hanks, embed=False).quality.reasons
    for size in (150, 200, 300, 460):
        frame = np.full((480, 640, 3), 110, np.uint8)
        frame[10 : 10 + size, 90 : 90 + size] = cv2.resize(astronaut, (size, size))
        assert "not_frontal" not in engine.analyse(frame, embed=False).quality.reasons
