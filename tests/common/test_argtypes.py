"""A count on any command line: a wrong one is one usage line and exit 2, before any work."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from common.argtypes import positive_int


@pytest.mark.parametrize("text", ["0", "-3", "1.5", "ten", ""])
def test_anything_but_a_whole_number_of_at_least_one_is_refused(text: str):
    with pytest.raises(argparse.ArgumentTypeError, match="at least 1"):
        positive_int(text)


def test_a_count_is_its_number():
    assert positive_int("150") == 150


def test_the_recognition_benchmark_refuses_zero_frames_before_loading_a_model():
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "bench", "recognition",
                           "--frames", "0", "--sizes"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert "--frames: must be a whole number of at least 1, got '0'" in proc.stderr
    assert "Traceback" not in proc.stderr
