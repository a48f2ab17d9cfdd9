"""The geometric test on exact geometry: a 3-D face shows parallax, any plane shows none."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.liveness.render import FRAME_SIZE, MEAN_FACE_5, pose_points, project, rotation
from kiosk.liveness.parallax import (
    measure,
    turn_from_parallax,
    usable,
    yaw_toward_image_right,
)
from kiosk.recognition.geometry import head_pose


def view(shape: np.ndarray, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0,
         distance: float = 500.0, pivot: float = 95.0) -> np.ndarray:
    return project(pose_points(shape, rotation(yaw, pitch, roll),
                               np.array([0.0, 0.0, distance]), pivot))


def flat(shape: np.ndarray) -> np.ndarray:
    sheet = shape.copy()
    sheet[:, 2] = 0.0
    return sheet


def test_yaw_sign_on_a_real_photo(group_photo, engine):
    """t1.jpg: the man top right faces the image's left edge, the woman far left its right
    edge. head_pose() reads them the other way round from its docstring; the adapter fixes
    the sign in one place, and this test fails loudly if head_pose() ever changes."""
    size = (group_photo.shape[1], group_photo.shape[0])
    faces = sorted(engine.detect(group_photo), key=lambda d: d.box[0])
    facing_left, facing_right = faces[4], faces[0]
    assert yaw_toward_image_right(facing_left.landmarks, size) < -20
    assert yaw_toward_image_right(facing_right.landmarks, size) > 10
    assert head_pose(facing_left.landmarks, size)[0] > 20


def test_mean_face_is_frontal_for_the_pose_model():
    """MEAN_FACE_5 is fitted to the ArcFace template's layout, the pose model to YuNet's
    (kiosk/recognition/geometry.py); the difference reads as pitch -6.6°."""
    yaw, pitch, _ = head_pose(view(MEAN_FACE_5), FRAME_SIZE)
    assert abs(yaw) < 2 and abs(pitch) < 8


@pytest.mark.parametrize("turn", [15.0, 20.0, 30.0])
@pytest.mark.parametrize("direction", [1.0, -1.0])
@pytest.mark.parametrize("pitch", [-15.0, 0.0, 15.0])
def test_a_real_head_turn_moves_the_nose_off_the_plane(turn, direction, pitch):
    frontal = view(MEAN_FACE_5, pitch=pitch, roll=5)
    turned = view(MEAN_FACE_5, yaw=direction * turn, pitch=pitch, roll=5)
    assert math.copysign(1, yaw_toward_image_right(turned, FRAME_SIZE)) == direction
    m = measure(frontal, turned)
    assert m is not None
    # the nose stands ~0.5 inter-ocular distances off the eyes/mouth plane
    sine = math.sin(math.radians(turn))
    assert 0.4 * sine <= direction * m.parallax <= 0.8 * sine
    assert turn_from_parallax(direction * m.parallax) == pytest.approx(turn, abs=6)


@settings(max_examples=60, deadline=None)
@given(yaw=st.floats(-60, 60), pitch=st.floats(-40, 40), roll=st.floats(-30, 30),
       distance=st.floats(200, 900), pivot=st.floats(0, 150))
def test_a_plane_keeps_the_nose_on_the_homography_however_it_moves(yaw, pitch, roll, distance,
                                                                   pivot):
    sheet = flat(MEAN_FACE_5)
    m = measure(view(sheet), view(sheet, yaw, pitch, roll, distance, pivot))
    assert m is not None
    assert abs(m.parallax) < 1e-4  # thresholds are ~0.1


def test_parallax_reads_as_a_turn_of_the_mean_face():
    assert turn_from_parallax(0.0) == 0.0
    assert turn_from_parallax(0.55) == pytest.approx(45.0)
    assert turn_from_parallax(-0.55) == pytest.approx(-45.0)
    assert turn_from_parallax(50.0) < 90.0  # nonsense in, bounded out


def test_degenerate_landmarks_are_refused():
    collinear = np.array([[0, 0], [10, 0], [20, 0], [30, 0], [40, 0]], float)
    assert measure(collinear, collinear + 1) is None
    good = view(MEAN_FACE_5)
    assert usable(good)
    assert not usable(np.full((5, 2), np.nan))
    assert not usable(np.zeros((5, 2)))
    assert not usable(good[:4])
