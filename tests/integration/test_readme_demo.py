"""The README's first command exactly as written: ``make demo`` from the repository root,
no display, the default relative workdir (var/demo). Every other test passes absolute
temporary paths, which is how a relative-path bug once slipped past the whole suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_make_demo_as_the_readme_says(tmp_path):
    if shutil.which("make") is None:
        pytest.fail("make is missing: the README's commands need it")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    # -o: the bootstrap already ran (this suite runs inside it); PY: this interpreter
    proc = subprocess.run(["make", "-o", ".venv/.installed", "-o", "models/store/installed.json",
                           "demo", f"PY={sys.executable}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert f"setting up the demo hospital in {ROOT / 'var' / 'demo'}" in proc.stdout
    assert "checkout: settled" in proc.stdout, out[-4000:]
    assert "settlement: stl_" in proc.stdout
    assert (ROOT / "var" / "demo" / "platform" / "server.db").is_file()
    spoken = sorted((ROOT / "var" / "demo" / "voice").glob("*.wav"))  # every prompt said
    assert f"voice:       {len(spoken)} prompts spoken" in proc.stdout, out[-4000:]
    assert any(p.name.endswith("-zh-review.check_and_confirm.wav") for p in spoken)
    assert all(f"  {p.name}" in proc.stdout for p in spoken)
