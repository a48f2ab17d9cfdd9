"""The evaluation harness itself, on a tiny sample (the full run is the benchmark)."""

from __future__ import annotations

import math

import pytest

from benchmarks.liveness.cli import render_tables
from benchmarks.liveness.evaluation import BONA_MEASURED, run_evaluation, sweep, upper_bound
from benchmarks.liveness.render import MEAN_FACE_68, min_jerk
from kiosk.config import LivenessConfig


def test_upper_bound_is_the_exact_binomial_limit():
    assert upper_bound(0, 300) == pytest.approx(1 - 0.05 ** (1 / 300), rel=1e-6)  # ~3/n
    assert upper_bound(0, 0) == 1.0 and upper_bound(5, 5) == 1.0
    assert upper_bound(3, 100) > 0.03 > upper_bound(0, 100)


def test_mean_face_is_in_millimetres_with_the_nose_in_front():
    eyes = (MEAN_FACE_68[36:42].mean(axis=0), MEAN_FACE_68[42:48].mean(axis=0))
    assert math.dist(eyes[0][:2], eyes[1][:2]) == pytest.approx(63.0, abs=1.0)
    assert MEAN_FACE_68[30].tolist() == [0.0, 0.0, 0.0]  # nose tip at the origin
    assert 20 < eyes[0][2] < 40  # eyes 2-4 cm behind the nose tip
    assert min_jerk(0.0) == 0.0 and min_jerk(1.0) == 1.0 and min_jerk(0.5) == 0.5


def test_a_small_evaluation_rejects_photos_and_accepts_heads(engine):
    short = LivenessConfig(turn_timeout_s=2.5, max_duration_s=5.0)  # fewer frames to render
    ev = run_evaluation(seed=3, n=2, config=short, families=("flat_tilt_yaw",), bona_fide=12,
                        noise_iod=0.02, engine=engine)
    attacks = ev.rows(["flat_tilt_yaw"])
    heads = ev.rows([BONA_MEASURED])
    assert len(attacks) == 2 and not any(o.accepted for o in attacks)
    assert len(heads) == 12 and sum(o.accepted for o in heads) >= 11
    assert all(o.judged for o in heads if o.accepted)
    grid = sweep(ev, (0.0, 1.0), (0.0,), [BONA_MEASURED])
    assert grid[1]["bpcer"] == 1.0  # nobody's nose moves a whole inter-ocular distance
    text = render_tables(ev)
    assert "| flat_tilt_yaw" in text and "BPCER" in text and "APCER" in text
