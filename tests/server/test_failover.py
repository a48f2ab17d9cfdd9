"""Losing the database primary under settlement load (the scenario: tests/server/failover.py;
20 runs with timings: benchmarks/pg_failover.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server import failover


@pytest.mark.slow
def test_sigkill_primary_promote_standby_loses_and_doubles_nothing(tmp_path: Path):
    report = failover.run(tmp_path, kiosks=4, bills_each=25, kill_after=30)
    assert report.acknowledged_before_kill >= 30
    assert report.lost == []  # every settlement the platform acknowledged is on the new one
    assert report.doubled == 0
    assert report.undelivered == 0 and report.stored == report.bills == 100
    assert report.audit_ok and report.recon_matches and report.owed_matches, report.details
    assert report.serving_again_s < 30  # the benchmark's target is 10 s; this is no timing
