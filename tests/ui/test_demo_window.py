"""The kiosk window on the lead's demo hospital: the real platform on loopback with a fresh
SQLite, signed requests, enrolled real faces, a replayed camera, the file printer. This is
``make demo`` without a display: one whole checkout driven through the screens."""

from __future__ import annotations

import pytest

from kiosk.demo.scenario import DEMO_PATIENT, Demo
from kiosk.flow.model import State
from ui.app import demo_checkout, has_display
from ui.screenshots import wait_until


@pytest.fixture
def demo(tmp_path, engine):
    demo = Demo(tmp_path / "demo", engine=engine)
    yield demo
    demo.app.stop()
    demo.close()


def test_headless_demo_checkout_through_the_screens(demo, qapp, tmp_path):
    assert not has_display(qapp)  # offscreen: the demo drives itself
    assert (demo.fed["created"], demo.fed["refused"]) == (10, {})  # from the simulated HIS
    demo.app.start()
    report = demo_checkout(demo.app.runtime, demo.config, tmp_path / "screens",
                           on_card=demo.app.pay_by_card)
    assert report is not None and report.outcome == "settled", report.summary()
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
    assert report.max_stall_ms > 0 and report.frames_shown > 0  # measured, not defaulted
    printed = demo.workdir / "printer"
    assert wait_until(lambda: any(printed.glob(f"*{report.settlement_id}*")), 10_000)


def test_the_demo_patient_repays_by_qr_through_the_demos_payment_provider(demo, qapp,
                                                                          tmp_path):
    """``make demo`` starts the simulated payment provider: after the checkout, 我的欠款 by
    insurance card shows the debt, 扫码还款 opens the provider's QR and the payer's phone pays
    it. (Not by face: with the gallery scope ``open_bills`` a patient whose bills are all
    settled is no longer in the site's gallery, so the platform refuses the face match.)"""
    demo.app.start()
    report = demo_checkout(demo.app.runtime, demo.config, tmp_path / "screens",
                           on_card=demo.app.pay_by_card)
    assert report is not None and report.outcome == "settled", report.summary()
    runtime = demo.app.runtime
    runtime.cancel()
    assert wait_until(lambda: runtime.last_view.state == State.IDLE, 20_000)
    (card_no,) = [p["card_no"] for p in demo.platform.seed["patients"]
                  if p["patient_id"] == DEMO_PATIENT]
    runtime.start_owed()
    runtime.card_read(card_no)
    assert wait_until(lambda: runtime.last_view.state == State.OWED, 30_000), runtime.last_view
    statement = runtime.last_view.statement
    assert statement.can_repay and statement.outstanding_fen > 0
    runtime.repay()
    assert wait_until(lambda: runtime.last_view.repay_order is not None, 20_000)
    assert demo.payments.pay(runtime.last_view.repay_order.code_url).ok
    assert wait_until(lambda: runtime.last_view.state == State.REPAID, 20_000)
    assert runtime.last_view.repay_order.outstanding_fen == 0
