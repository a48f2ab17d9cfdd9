"""``kiosk bench recognition``: the accuracy rows of every detection setting, and the peer
engine of ``--compare`` optional, its absence clear."""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys

import pytest

from benchmarks.recognition import NoFaceToMeasure, bench_accuracy, render_compare
from kiosk.config import KioskConfig, load_config


@pytest.mark.skipif(importlib.util.find_spec("face_recognition") is not None,
                    reason="face_recognition is installed here")
def test_compare_without_the_peer_says_how_to_install_it():
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "bench", "recognition",
                           "--compare", "--frames", "2", "--sizes"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 3
    assert "bench.peer_missing" in proc.stderr and "dlib-bin" in proc.stderr


def test_comparison_table_shows_both_engines_and_the_ratio():
    row = {"median": 10.0, "p95": 12.0, "n": 5}
    text = render_compare({"frames": 5, "ours_load_ms": 150.0, "peer_load_ms": 900.0,
                           "ours_ms": row, "peer_ms": dict(row, median=40.0),
                           "peer_over_ours_median": 4.0})
    assert "face_recognition (dlib HOG + ResNet) | 900 | 40.0" in text
    assert "4.00x" in text


def test_accuracy_is_measured_for_every_setting_on_the_same_frames():
    """The package faces at kiosk geometry, at full resolution, 40 px and a setting whose
    shrunk frame loses the smallest photos: frames are laid out at full resolution either
    way, so every setting scores the same images."""
    config = KioskConfig()
    config = dataclasses.replace(config, recognition=dataclasses.replace(
        config.recognition, detect_min_face_px=64))
    rows = bench_accuracy(config)
    assert sorted((r["face_height"], r["detect_min_face_px"]) for r in rows) == [
        (100, 0), (100, 40), (100, 64), (200, 0), (200, 40), (200, 64)]
    for row in rows:
        assert row["false_matches"] == 0 and row["false_non_matches"] == 0
        assert row["false_non_matches_vs_full_res_enrolment"] == 0
        jitter = row["landmark_jitter_px"]
        assert jitter["voted"]["median"] < jitter["best_anchor"]["median"]
        if row["detect_min_face_px"] == 0:  # its own enrolment
            assert row["min_genuine_vs_full_res_enrolment"] == row["min_genuine"]


def _faces_too_small_for(tmp_path) -> str:
    """A config whose quality gate and detection scale want faces larger than any frame of
    the benchmark holds."""
    path = tmp_path / "kiosk.toml"
    path.write_text("[recognition]\ndetect_min_face_px = 250\n"
                    "[recognition.quality]\nmin_face_px = 250\n", encoding="utf-8")
    return str(path)


def test_a_setting_that_sees_no_face_is_a_set_up_error_not_a_crash(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config",
                           _faces_too_small_for(tmp_path), "bench", "recognition",
                           "--frames", "2", "--sizes"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 3, proc.stderr
    assert "bench.no_faces" in proc.stderr and "detect_min_face_px = 250" in proc.stderr


def test_accuracy_with_every_photo_refused_says_so(tmp_path):
    config = load_config(_faces_too_small_for(tmp_path))
    with pytest.raises(NoFaceToMeasure) as err:
        bench_accuracy(config)
    assert err.value.code == "bench.no_faces"
    assert err.value.context["templates"] < 2  # not even one impostor pair
