"""The load benchmark itself, run briefly through ``kiosk bench platform``: a real platform
with two workers, real signed clients, every reply verified. Checks that what it reports
adds up, not how fast this machine is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_platform_benchmark_reports_consistent_figures(tmp_path: Path):
    out = tmp_path / "load.json"
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "bench", "platform", "--duration", "2",
         "--clients", "3", "--paced-clients", "2", "--rate", "20", "--workers", "2",
         "--json", str(out)], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    for phase in ("throughput", "paced"):
        row = report[phase]
        assert row["errors"] == 0 and row["settlements"] > 0
        assert row["settlements_per_s"] == round(row["settlements"] / row["duration_s"], 1)
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
        assert row["server_cpu_ms_per_settlement"] > 0
    assert report["paced"]["settlements"] <= 20 * 2 + 2  # the pace held: no burst
    assert "server workers: 2" in result.stdout
