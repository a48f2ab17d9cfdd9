"""The kiosk window on the lead's demo hospital: the real platform on loopback with a fresh
SQLite, signed requests, enrolled real faces, a replayed camera, the file printer. This is
``make demo`` without a display: one whole checkout driven through the screens."""

from __future__ import annotations

import pytest

from kiosk.demo.scenario import Demo
from ui.app import build_kiosk_window, has_display
from ui.headless import drive_checkout


@pytest.fixture
def demo(tmp_path, engine):
    demo = Demo(tmp_path / "demo", engine=engine)
    yield demo
    demo.app.stop()
    demo.close()


def test_headless_demo_checkout_through_the_screens(demo, qapp, qtbot, tmp_path):
    assert not has_display(qapp)  # offscreen: the demo drives itself
    window = build_kiosk_window(demo.app.runtime, demo.config, on_card=demo.app.pay_by_card)
    qtbot.addWidget(window)
    demo.app.start()
    report = drive_checkout(window, tmp_path / "screens", timeout_s=60)
    assert report.outcome == "settled", report.summary()
    assert report.settlement_id.startswith("stl_")
    assert report.patient and "*" in report.patient
    assert {"attract", "scan", "bill_review", "result"} <= set(report.screens)
    assert sum(fen for _, fen in report.layers) == report.total_fen > 0
    shot_names = [p.stem.split("-", 1)[1] for p in report.screenshots]
    assert set(shot_names) <= set(report.screens)
    assert {"attract", "bill_review", "result"} <= set(shot_names)
    assert all(p.stat().st_size > 10_000 for p in report.screenshots)
    assert report.receipt and any(report.settlement_id in row for row in report.receipt)
    summary = report.summary()
    assert "checkout: settled" in summary and report.settlement_id in summary
    window.screens["result"].finish.click()
    qtbot.waitUntil(lambda: window.current == "attract", timeout=15_000)
