"""A patient confirms two bills; between the quote and the settlement the cashier settles one
of them at the desk. The kiosk settles the other, and must say so: a result screen for
what was paid, a receipt of exactly that bill, and the rest handed to the cashier."""

from __future__ import annotations

import uuid

from device.printer.receipt import Receipt
from kiosk.flow.model import State
from kiosk.protocol.schemas import PaymentMethod, SettleRequest
from kiosk.provisioning import connect
from kiosk.runtime import KioskRuntime
from tests.integration.test_checkout_e2e import handoffs_of, make_runtime, wait_for


def test_a_bill_refused_after_another_settled_is_a_partial_result(platform, engine):
    platform.admin("bill", "create", "--site", platform.seed["site_id"], "--patient", "P1001",
                   "--visit", "V-SECOND", "--bill-id", "B1001-2",
                   "--item", "exam:复查 follow-up:1:3000")
    counter = connect(platform.device("counter", "desk"))
    runtime: KioskRuntime = make_runtime(platform, engine, "kiosk-partial")
    runtime.start(camera=None, sync=False)
    try:
        runtime.card_read("YB33078400001001")
        review = wait_for(runtime, lambda v: v.state == State.BILL_REVIEW)
        assert len(review.quote.bill_ids) == 2
        first, second = review.quote.bill_ids
        # the desk takes the second bill in cash while the patient is reading the screen
        taken = counter.settle(SettleRequest(bill_id=second, patient_id="P1001",
                                             method=PaymentMethod.CASH), str(uuid.uuid4()))
        runtime.confirm()
        done = wait_for(runtime, lambda v: v.state in (State.DONE, State.FALLBACK))
        assert done.state == State.DONE and done.guidance == "done.partial", done
        result = done.result
        assert result.status == "partial" and result.unpaid_bill_ids == (second,)
        assert result.refusal == "bill.already_settled"
        (refused,) = [r for r in runtime.outbox.rows() if r.request.bill_id == second]
        assert refused.state == "rejected" and refused.taken_by == taken.settlement.settlement_id
        paid = counter.settlement(result.settlement_id)
        assert paid.bill_id == first
        assert result.self_pay_fen == paid.layers.self_pay_fen
        receipt = Receipt.from_dict(result.receipt)  # what the printer prints
        assert receipt.settlement_id == result.settlement_id and not receipt.pending
        assert receipt.self_pay_fen == paid.layers.self_pay_fen
        assert receipt.total_fen == paid.total_fen  # the paid bill only, not both
        assert any("Unpaid bills: 1" in line for line in receipt.extra)
        assert [h.reason for h in handoffs_of(counter, runtime)] == ["settlement.partial"]
    finally:
        runtime.stop()
