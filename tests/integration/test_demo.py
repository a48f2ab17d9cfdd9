"""``kiosk demo`` — the main job — runs start to finish as a subprocess on a fresh workdir."""

from __future__ import annotations

import subprocess
import sys

from PIL import Image


def test_kiosk_demo_checks_out_the_demo_patient(tmp_path):
    work = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "demo", "--workdir", str(work)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "searching → looking_up → bill_review → settling → done" in out
    assert "recognised:  张*丰" in out and "settlement:  stl_" in out
    assert Image.open(work / "receipt.png").size[0] > 300
    assert list((work / "printer").glob("stl_*.escpos"))
    spoken = sorted((work / "voice").glob("*.wav"))
    assert f"voice:       {len(spoken)} prompts spoken, WAVs in {work / 'voice'}" in out
    assert any(p.name.endswith("-zh-done.paid.wav") for p in spoken)
    audit = (work / "platform" / "kiosk" / "audit.jsonl").read_text()
    assert audit.count("settlement.settled") == 1
