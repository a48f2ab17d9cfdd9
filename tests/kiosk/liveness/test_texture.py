"""The texture test on real photos: printed, every tracked point stays on one plane; draped
over a 3-D face and turned, the points leave it. Landmarks the detector hallucinates do not
fool it."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.liveness.render import (
    FRAME_SIZE,
    MEAN_FACE_5,
    Relief,
    SheetPose,
    camera_effects,
    detection_from_landmarks,
    pose_points,
    project,
    render_sheet,
    rotation,
    source_faces,
)
from kiosk.config import LivenessConfig
from kiosk.liveness import LivenessCheck
from kiosk.liveness import result as r
from kiosk.liveness.texture import reference, texture_parallax

CFG = LivenessConfig()
HEAD_AT = np.array([0.0, 0.0, 480.0])


@pytest.fixture(scope="module")
def astronaut_face(engine):
    return next(f for f in source_faces(engine) if f.name == "astronaut")


def detect(engine, frame):
    return max(engine.detect(frame), key=lambda d: d.area)


def test_a_tilted_print_stays_on_one_plane(engine, astronaut_face):
    rng = np.random.default_rng(0)
    frames = [camera_effects(render_sheet(astronaut_face, SheetPose(yaw=a, roll=4,
                                                                    shift=(5.0, 0.0, 450.0)),
                                          60), rng, 0.5) for a in (0, 25, 45)]
    ref = reference(frames[0], detect(engine, frames[0]))
    assert ref is not None and len(ref.points) >= 50
    for frame in frames[1:]:
        measured = texture_parallax(ref, frame, detect(engine, frame))
        assert measured is not None and measured < 0.01


def test_a_turning_relief_leaves_the_plane(engine, astronaut_face):
    relief = Relief(astronaut_face)
    rng = np.random.default_rng(1)
    frontal = camera_effects(relief.render(rotation(), HEAD_AT), rng, 0.5)
    ref = reference(frontal, detect(engine, frontal))
    assert ref is not None
    turned = camera_effects(relief.render(rotation(yaw=20), HEAD_AT), rng, 0.5)
    measured = texture_parallax(ref, turned, detect(engine, turned))
    assert measured is not None and measured > CFG.min_texture_parallax


def test_a_plain_surface_gives_no_reference():
    frame = np.full((FRAME_SIZE[1], FRAME_SIZE[0], 3), 128, np.uint8)
    face = detection_from_landmarks(project(pose_points(MEAN_FACE_5, rotation(), HEAD_AT, 95)))
    assert reference(frame, face) is None


def feed_turn(check: LivenessCheck, frame_at, detection_at) -> r.LivenessResult:
    """3 frontal frames, the prompt, then 20° after 0.5 s, at 10 fps."""
    t = 0.0
    for _ in range(CFG.reference_frames):
        result = check.feed(t, detection_at(0.0, frame_at(0.0)), frame_at(0.0))
        t += 0.1
    assert result.guidance == r.TURN_LEFT
    for yaw in (5.0, 12.0, 20.0, 20.0, 20.0, 20.0, 20.0):
        result = check.feed(t + 0.4, detection_at(yaw, frame_at(yaw)), frame_at(yaw))
        t += 0.1
        if result.done:
            return result
    raise AssertionError("undecided")


def test_head_like_landmarks_on_a_flat_picture_are_rejected(engine, astronaut_face):
    """What a fooled detector produces: landmarks of a turning head over a picture whose
    texture does not move in depth. The landmarks alone would pass; the texture says flat."""
    still = camera_effects(render_sheet(astronaut_face, SheetPose(shift=(0.0, 0.0, 450.0)), 60),
                           np.random.default_rng(2), 0.5)
    frontal = detect(engine, still)

    def head(yaw: float, _frame: np.ndarray):
        pts = project(pose_points(MEAN_FACE_5, rotation(yaw=yaw), HEAD_AT, 95))
        shift = frontal.landmarks.mean(axis=0) - pts.mean(axis=0)  # over the picture's face
        return detection_from_landmarks(pts + shift)

    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left")
    result = feed_turn(check, lambda yaw: still, head)
    assert (result.status, result.reason) == (r.FAILED, r.NO_PARALLAX)
    assert result.evidence["parallax"] >= CFG.min_parallax  # the landmarks were convincing
    assert result.evidence["texture_parallax"] < CFG.min_texture_parallax


def test_a_relief_turning_passes_with_texture_evidence(engine, astronaut_face):
    relief = Relief(astronaut_face)
    rng = np.random.default_rng(3)
    frames = {yaw: camera_effects(relief.render(rotation(yaw=yaw), HEAD_AT), rng, 0.5)
              for yaw in (0.0, 5.0, 12.0, 20.0)}
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left")
    result = feed_turn(check, frames.__getitem__, lambda yaw, frame: detect(engine, frame))
    assert result.status == r.PASSED
    assert result.evidence["texture_parallax"] >= CFG.min_texture_parallax
    assert result.evidence["texture_frames"] == CFG.turned_frames


def test_frames_without_trackable_texture_do_not_fall_back_to_landmarks():
    plain = np.full((FRAME_SIZE[1], FRAME_SIZE[0], 3), 128, np.uint8)

    def head(yaw: float, _frame: np.ndarray):
        return detection_from_landmarks(project(pose_points(MEAN_FACE_5, rotation(yaw=yaw),
                                                            HEAD_AT, 95)))

    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left")
    result = feed_turn(check, lambda yaw: plain, head)
    assert (result.status, result.reason) == (r.FAILED, r.NO_PARALLAX)
    assert result.evidence["texture_frames"] == 0
