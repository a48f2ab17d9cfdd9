"""Calibration maths and the pairs-file parser."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.recognition.calibration import (
    PairsFileError,
    rates_at,
    read_pairs,
    sweep,
    threshold_for_fmr,
)


def test_rates_follow_the_engines_rule_score_at_threshold_matches():
    genuine = np.array([0.9, 0.5, 0.3])
    impostor = np.array([0.1, 0.3, 0.35])
    r = rates_at(genuine, impostor, 0.3)
    assert (r.fmr, r.fnmr) == (2 / 3, 0.0)
    r = rates_at(genuine, impostor, 0.36)
    assert (r.false_matches, r.false_non_matches) == (0, 1)


def test_threshold_for_target_fmr_is_tight():
    rng = np.random.default_rng(0)
    impostor = rng.normal(0.1, 0.08, 10_000)
    t = threshold_for_fmr(impostor, 0.001)
    assert rates_at(np.array([]), impostor, t).fmr <= 0.001
    assert rates_at(np.array([]), impostor, t - 0.002).fmr > 0.001
    assert threshold_for_fmr(np.array([]), 0.01) is None


def test_sweep_is_monotonic():
    rng = np.random.default_rng(1)
    rows = sweep(rng.normal(0.6, 0.1, 500), rng.normal(0.1, 0.1, 500))
    fmrs = [r.fmr for r in rows]
    fnmrs = [r.fnmr for r in rows]
    assert fmrs == sorted(fmrs, reverse=True) and fnmrs == sorted(fnmrs)


def test_pairs_parser_accepts_variants_and_names_bad_lines():
    pairs = read_pairs("a.jpg, b.jpg, YES\n# comment\n\nc.jpg,d.jpg,0\n")
    assert [(p.image_a, p.same, p.line) for p in pairs] == [("a.jpg", True, 1), ("c.jpg", False, 4)]
    with pytest.raises(PairsFileError, match=":2: need 3 columns"):
        read_pairs("image_a,image_b,same\na.jpg,b.jpg\n")
    with pytest.raises(PairsFileError, match="no pairs"):
        read_pairs("image_a,image_b,same\n")
