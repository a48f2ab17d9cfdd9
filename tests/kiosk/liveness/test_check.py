"""The LivenessCheck state machine, fed frame by frame with projected 3-D face landmarks.

Landmarks alone carry no pixels for the texture test, so these run with ``texture_check``
off; tests/kiosk/liveness/test_texture.py covers it with real frames.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math

import numpy as np
import pytest

from benchmarks.liveness.render import (
    FRAME_SIZE,
    MEAN_FACE_5,
    detection_from_landmarks,
    pose_points,
    project,
    rotation,
)
from common.config_loader import ConfigError
from kiosk.config import LivenessConfig
from kiosk.liveness import CHALLENGES, LivenessCheck, LivenessInputError
from kiosk.liveness import result as r
from kiosk.recognition.detection import Detection
from kiosk.recognition.geometry import align_face

CFG = LivenessConfig(texture_check=False)
FPS = 15.0
# The patient's own left is the image's right in the camera's (unmirrored) frame.
SIGN = {"turn_left": 1.0, "turn_right": -1.0}


def face(yaw: float = 0.0, shape: np.ndarray = MEAN_FACE_5, pitch: float = 5.0) -> Detection:
    pts = project(pose_points(shape, rotation(yaw, pitch, 2.0), np.array([10.0, -5.0, 520.0]),
                              95.0))
    return detection_from_landmarks(pts)


def flat_photo() -> np.ndarray:
    sheet = MEAN_FACE_5.copy()
    sheet[:, 2] = 0.0
    return sheet


def run(check: LivenessCheck, yaw_at, until: float = 20.0, shape: np.ndarray = MEAN_FACE_5,
        start: float = 0.0) -> tuple[r.LivenessResult, list[str], float | None]:
    """Feed frames at 15 fps; ``yaw_at(t, prompt_at)`` is the head's yaw (None: no face).
    Returns the final result, the guidance seen, and when the turn prompt appeared."""
    guidance: list[str] = []
    prompt_at = None
    t = start
    while t <= until:
        yaw = yaw_at(t, prompt_at)
        result = check.feed(t, None if yaw is None else face(yaw, shape))
        if result.done:
            return result, guidance, prompt_at
        guidance.append(result.guidance)
        if prompt_at is None and result.guidance in (r.TURN_LEFT, r.TURN_RIGHT):
            prompt_at = t
        t = round(t + 1 / FPS, 6)
    raise AssertionError(f"check still pending at {until} s; guidance {guidance[-3:]}")


def turning(sign: float, degrees: float = 25.0, reaction: float = 0.6, ramp: float = 0.5):
    def yaw_at(t: float, prompt_at: float | None) -> float:
        if prompt_at is None:
            return 0.0
        s = min(1.0, max(0.0, (t - prompt_at - reaction) / ramp))
        return sign * degrees * s
    return yaw_at


@pytest.mark.parametrize("challenge", CHALLENGES)
def test_a_head_turning_as_asked_passes(challenge):
    check = LivenessCheck(CFG, FRAME_SIZE, challenge=challenge)
    result, guidance, _ = run(check, turning(SIGN[challenge]))
    assert result.status == r.PASSED and result.reason is None
    assert guidance[:3] == [r.HOLD_STILL, r.HOLD_STILL, r.TURN_LEFT if challenge == "turn_left"
                            else r.TURN_RIGHT]
    ev = result.evidence
    assert ev["challenge"] == challenge and ev["policy"] == "active"
    assert ev["parallax"] >= CFG.min_parallax and ev["texture_parallax"] is None
    assert ev["yaw_reached"] >= CFG.min_turn_deg
    assert ev["response_s"] == pytest.approx(0.6 + 0.3, abs=0.2)  # reaction + half the ramp
    assert ev["turned_frames"] == CFG.turned_frames and ev["pairs"] == 9
    json.dumps(result.evidence)  # audit-log safe: plain numbers and codes only
    assert all(not isinstance(v, list | dict | np.ndarray) for v in ev.values())


def test_the_challenge_is_random():
    seen = {LivenessCheck(CFG, FRAME_SIZE).challenge for _ in range(60)}
    assert seen == set(CHALLENGES)


def test_reference_needs_consecutive_frontal_frames():
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left")
    assert check.feed(0.0, None).guidance == r.LOOK_STRAIGHT
    assert check.feed(0.1, face(0)).guidance == r.HOLD_STILL
    assert check.feed(0.2, face(30)).guidance == r.LOOK_STRAIGHT  # looked away: start again
    assert check.feed(0.3, face(0)).guidance == r.HOLD_STILL
    assert check.feed(0.4, face(0)).guidance == r.HOLD_STILL
    assert check.feed(0.5, face(0)).guidance == r.TURN_LEFT
    assert check.prompted


def test_turning_the_wrong_way_fails():
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left")
    result, _, _ = run(check, turning(-1.0))
    assert (result.status, result.reason) == (r.FAILED, r.WRONG_DIRECTION)


def test_a_flat_photo_tilted_far_shows_no_parallax():
    """A flat face tilted 40° fools the pose estimate into a ~21° turn; the nose stays on
    the plane's homography and the check says so."""
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left")
    result, _, _ = run(check, turning(1.0, degrees=40), shape=flat_photo())
    assert (result.status, result.reason) == (r.FAILED, r.NO_PARALLAX)
    assert abs(result.evidence["parallax"]) < 1e-3
    assert result.evidence["yaw_reached"] >= CFG.min_turn_deg


def test_without_frames_the_default_check_does_not_pass():
    """In production the texture test is on; a caller that forgets the frames gets a
    failure, not a weaker check."""
    check = LivenessCheck(LivenessConfig(), FRAME_SIZE, challenge="turn_left")
    result, _, _ = run(check, turning(1.0))
    assert (result.status, result.reason) == (r.FAILED, r.NO_PARALLAX)
    assert result.evidence["parallax"] >= CFG.min_parallax
    assert result.evidence["texture_frames"] == 0


def test_no_turn_times_out_after_the_turn_window():
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_right")
    result, _, prompt_at = run(check, lambda t, p: 0.0)
    assert (result.status, result.reason) == (r.FAILED, r.TIMEOUT)
    assert prompt_at is not None
    assert result.evidence["elapsed_s"] == pytest.approx(prompt_at + CFG.turn_timeout_s, abs=0.1)


def test_the_whole_check_is_bounded_in_time():
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_right")
    result, guidance, _ = run(check, lambda t, p: 30.0, start=100.0, until=200.0)
    assert (result.status, result.reason) == (r.FAILED, r.TIMEOUT)
    assert set(guidance) == {r.LOOK_STRAIGHT}
    assert result.evidence["elapsed_s"] == pytest.approx(CFG.max_duration_s, abs=0.1)


def test_elderly_time_factor_stretches_the_windows():
    slow = turning(1.0, reaction=CFG.turn_timeout_s + 0.5, ramp=0.5)
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left")
    assert run(check, slow)[0].reason == r.TIMEOUT
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left", time_factor=2.0)
    assert run(check, slow)[0].status == r.PASSED


def test_a_turn_before_anyone_could_react_fails():
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left")
    result, _, _ = run(check, turning(1.0, reaction=0.0, ramp=0.01))
    assert (result.status, result.reason) == (r.FAILED, r.TOO_FAST)
    assert result.evidence["response_s"] < CFG.min_response_s


def test_losing_the_face_during_the_turn_fails_but_a_blink_of_the_detector_does_not():
    def gap(length: float):
        def yaw_at(t: float, prompt_at: float | None) -> float | None:
            if prompt_at is not None and 0.3 <= t - prompt_at < 0.3 + length:
                return None
            return turning(1.0, reaction=0.3 + length)(t, prompt_at)
        return yaw_at

    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left")
    assert run(check, gap(CFG.max_gap_s + 0.3))[0].reason == r.FACE_LOST
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left")
    assert run(check, gap(CFG.max_gap_s / 2))[0].status == r.PASSED


def test_a_different_face_mid_check_fails(group_photo, engine):
    """Real templates: the person who started the check must be the one who turns."""
    faces = sorted(engine.detect(group_photo), key=lambda d: d.box[0])
    first, other = (engine.embed_aligned(align_face(group_photo, f.landmarks))
                    for f in (faces[1], faces[2]))
    again = engine.embed_aligned(align_face(group_photo, faces[1].landmarks * 1.0 + 0.7))
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left")
    check.feed(0.0, face(0), template=first)
    assert check.feed(0.07, face(0), template=again).status == r.PENDING
    result = check.feed(0.13, face(0), template=other)
    assert (result.status, result.reason) == (r.FAILED, r.FACE_CHANGED)
    assert result.evidence["min_identity_similarity"] < CFG.min_identity_similarity


def test_bad_frames_are_refused_without_losing_the_check():
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left")
    check.feed(1.0, face(0))
    with pytest.raises(LivenessInputError) as backwards:
        check.feed(0.5, face(0))
    assert backwards.value.code == "liveness.bad_input"
    with pytest.raises(LivenessInputError):
        check.feed(math.nan, face(0))
    check.feed(1.05, face(0), np.zeros((FRAME_SIZE[1], FRAME_SIZE[0], 3), np.uint8))
    with pytest.raises(LivenessInputError):  # the camera does not change size mid-check
        check.feed(1.1, face(0), np.zeros((480, 320, 3), np.uint8))
    with pytest.raises(LivenessInputError):
        check.feed(1.1, face(0), np.zeros((480, 640), np.uint8))
    nan_face = dataclasses.replace(face(0), landmarks=np.full((5, 2), np.nan, np.float32))
    assert check.feed(1.1, nan_face).guidance == r.LOOK_STRAIGHT  # unusable: like no face
    result, _, _ = run(check, turning(1.0), start=1.2)
    assert result.status == r.PASSED


def test_a_decided_check_stays_decided():
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_right")
    result, _, _ = run(check, turning(-1.0))
    assert check.result == result
    assert check.feed(99.0, face(-25)) == result
    assert check.feed(99.5, None) == result


def test_policy_off_passes_at_once_and_says_so():
    check = LivenessCheck(LivenessConfig(policy="off"), FRAME_SIZE)
    result = check.feed(0.0, None)
    assert (result.status, result.guidance) == (r.PASSED, r.OFF_DEMO)
    assert result.evidence["policy"] == "off"


def test_wrong_set_up_is_an_error():
    with pytest.raises(ConfigError):
        LivenessCheck(LivenessConfig(policy="model", model_manifest="pad.toml"), FRAME_SIZE)
    with pytest.raises(ValueError):
        LivenessCheck(CFG, FRAME_SIZE, challenge="nod")
    with pytest.raises(ValueError):
        LivenessCheck(CFG, FRAME_SIZE, time_factor=0.5)


def test_the_verdict_is_logged_with_evidence_and_nothing_personal(caplog):
    caplog.set_level(logging.INFO, logger="kiosk.liveness.check")
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left")
    run(check, turning(1.0))
    (record,) = [rec for rec in caplog.records if hasattr(rec, "liveness")]
    assert record.liveness["status"] == "passed"
    assert record.liveness["parallax"] >= CFG.min_parallax
    flat = json.dumps(record.liveness)
    assert "landmarks" not in flat and "[" not in flat


def test_a_camera_delivering_another_size_than_configured_still_works():
    """Made for 1280x720 (the config), fed the camera's real 640x480 frames: the first
    frame's size is taken, and a turning head passes as it would with the right config."""
    check = LivenessCheck(CFG, (1280, 720), challenge="turn_left")
    frame = np.zeros((FRAME_SIZE[1], FRAME_SIZE[0], 3), np.uint8)
    prompt_at, t = None, 0.0
    while t < 20 and check.result is None:
        yaw = 0.0 if prompt_at is None or t - prompt_at < 0.6 else 20.0 * SIGN["turn_left"]
        check.feed(t, face(yaw), frame)
        if prompt_at is None and check.prompted:
            prompt_at = t
        t += 1 / FPS
    assert check.frame_size == FRAME_SIZE
    assert check.result is not None and check.result.status == r.PASSED, check.result
