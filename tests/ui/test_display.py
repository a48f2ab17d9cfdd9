"""The app on a real X server (Xvfb), through the xcb platform plugin a kiosk display uses:
catches platform-plugin breakage (missing xcb libraries, opencv-python's Qt5 plugin path
leaking into Qt6) that the offscreen tests cannot see. Also the doctor-style checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run_ui(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ui", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=120, check=False)


def test_the_window_draws_on_a_real_x_server(xvfb):
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb"}
    env.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
    proc = _run_ui("check", "--show", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS qt platform: xcb" in proc.stdout
    assert "PASS window: shown on xcb 1024x768" in proc.stdout
    assert "PASS font:" in proc.stdout and "PASS qt binding:" in proc.stdout


def test_doctor_lines_offscreen():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = _run_ui("check", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["PASS qt platform", "PASS qt binding",
                                                      "PASS font"]


def test_pin_hash_command():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    ok = subprocess.run([sys.executable, "-m", "ui", "pin-hash", "--stdin"], input="482916\n",
                        cwd=ROOT, env=env, text=True, capture_output=True, timeout=60,
                        check=False)
    assert ok.returncode == 0 and ok.stdout.startswith("scrypt$")
    bad = subprocess.run([sys.executable, "-m", "ui", "pin-hash", "--stdin"], input="12\n",
                         cwd=ROOT, env=env, text=True, capture_output=True, timeout=60,
                         check=False)
    assert bad.returncode == 2 and "pin.invalid" in bad.stderr
