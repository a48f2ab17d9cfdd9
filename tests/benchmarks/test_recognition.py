"""``kiosk bench recognition --compare``: the peer engine is optional, its absence is clear."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from benchmarks.recognition import render_compare


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
