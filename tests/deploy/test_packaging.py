"""Building the project's wheel prints no setuptools deprecation wall (it once printed ~100
lines of "project.license as a TOML table is deprecated" on every bootstrap)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_builds_without_deprecation_warnings(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v",
                           "--wheel-dir", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=600, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert list(tmp_path.glob("hospital_face_kiosk-*.whl"))
    assert "deprecated" not in out.lower(), [ln for ln in out.splitlines() if "eprecat" in ln][:5]
