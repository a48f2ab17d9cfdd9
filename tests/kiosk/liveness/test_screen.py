"""Screen cues on real photos: moiré from a screen's pixel grid, glare, JPEG left alone."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.liveness.render import (
    FRAME_SIZE,
    ScreenImage,
    SheetPose,
    camera_effects,
    render_sheet,
    source_faces,
)
from common.opencv import cv2
from kiosk.config import LivenessConfig
from kiosk.liveness import LivenessCheck
from kiosk.liveness import result as r
from kiosk.liveness.screen import glare_fraction, moire_score, screen_cues

CFG = LivenessConfig()
POSE = SheetPose(yaw=8, roll=3, shift=(0.0, 0.0, 380.0))


@pytest.fixture(scope="module")
def astronaut_face(engine):
    return next(f for f in source_faces(engine) if f.name == "astronaut")


def largest(engine, frame):
    return max(engine.detect(frame), key=lambda d: d.area)


def test_a_screen_shows_moire_a_print_does_not(engine, astronaut_face):
    rng = np.random.default_rng(0)
    screen = camera_effects(ScreenImage(astronaut_face, 50, 1.2, 380, 0.4).render(POSE), rng, 0)
    paper = camera_effects(render_sheet(astronaut_face, POSE, 50), rng, 0.4)
    jpeg = camera_effects(render_sheet(astronaut_face, POSE, 50), rng, 0.4, jpeg_quality=30)
    on_screen = screen_cues(screen, largest(engine, screen)).moire
    on_paper = screen_cues(paper, largest(engine, paper)).moire
    on_jpeg = screen_cues(jpeg, largest(engine, jpeg)).moire
    assert on_screen > CFG.max_moire > max(on_paper, on_jpeg)
    assert on_screen > 3 * on_paper


def test_glare_counts_clipped_colourless_pixels_only():
    region = np.full((100, 100, 3), (120, 140, 200), np.uint8)  # skin-ish
    assert glare_fraction(region) == 0.0
    cv2.circle(region, (50, 50), 20, (255, 255, 255), -1)
    assert glare_fraction(region) == pytest.approx(np.pi * 20**2 / 100**2, rel=0.1)
    region[:] = (0, 255, 255)  # saturated yellow is bright, not glare
    assert glare_fraction(region) == 0.0


def test_a_face_too_small_for_a_spectrum_scores_zero():
    assert moire_score(np.zeros((20, 20, 3), np.uint8)) == 0.0


def test_the_check_stops_a_screen_before_it_asks_for_a_turn(engine, astronaut_face):
    screen = ScreenImage(astronaut_face, 50, 1.2, 380, 0.4)
    rng = np.random.default_rng(1)
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left")
    result = None
    for i in range(CFG.screen_frames):
        frame = camera_effects(screen.render(POSE), rng, 0)
        result = check.feed(i / 15, largest(engine, frame), frame)
    assert result is not None
    assert (result.status, result.reason) == (r.FAILED, r.SCREEN_DETECTED)
    assert result.evidence["screen_hits"] == CFG.screen_frames


def test_a_print_gets_through_the_screen_cues(engine, astronaut_face):
    rng = np.random.default_rng(2)
    check = LivenessCheck(CFG, FRAME_SIZE, challenge="turn_left")
    for i in range(CFG.reference_frames):
        frame = camera_effects(render_sheet(astronaut_face, POSE, 50), rng, 0.4)
        result = check.feed(i / 15, largest(engine, frame), frame)
    assert result.status == r.PENDING and result.guidance == r.TURN_LEFT
    assert result.evidence["screen_hits"] == 0
