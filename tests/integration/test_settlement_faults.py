"""What the patient is told always matches what the platform did: a real platform process on
loopback, the real kiosk runtime, and the faults the outside fault-injection run found."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import pytest
from proxy import FaultyProxy

from kiosk.flow.model import SettlementIntent, State
from kiosk.platform_clock import PlatformClock
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.schemas import PaymentMethod
from kiosk.provisioning import connect
from kiosk.settlement.desk import request_for
from kiosk.settlement.outbox import RowState
from tests.integration.test_checkout_e2e import make_runtime, wait_for


@pytest.fixture
def proxy(platform):
    p = FaultyProxy(platform.port)
    yield p
    p.close()


def via_proxy(platform, engine, name: str, proxy: FaultyProxy):
    config = platform.device("kiosk", name)
    return make_runtime(platform, engine, name,
                        server=dataclasses.replace(config.server, url=proxy.url))


def test_a_replayed_copy_that_wins_still_tells_the_patient_paid(platform, engine, proxy):
    """Every other request reaches the platform twice, the copy first: the original's nonce
    is spent (401 auth.nonce_replayed). Look-ups (GETs) and the settlement must still succeed:
    re-signed, same Idempotency-Key, the stored result."""
    counter = connect(platform.device("counter", "counter-copies"))
    before = counter.patient("P1001").credit.outstanding_fen
    runtime = via_proxy(platform, engine, "kiosk-copies", proxy)
    runtime.start(camera=None, sync=False)
    try:
        proxy.mode = "copy_first"
        runtime.card_read("YB33078400001001")
        review = wait_for(runtime, lambda v: v.state in (State.BILL_REVIEW, State.FALLBACK))
        assert review.state == State.BILL_REVIEW, review.reason
        runtime.confirm()
        done = wait_for(runtime, lambda v: v.state in (State.DONE, State.FALLBACK))
        assert done.state == State.DONE and done.result.status == "settled", done.reason
        assert proxy.copies >= 4  # identify, bills, quote, settle all had a copy win
        (row,) = runtime.outbox.rows()
        assert row.state == RowState.DELIVERED and row.response is not None
        assert row.response.settlement_id == done.result.settlement_id
        shown = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config",
                                str(runtime.config.source), "outbox", "show",
                                row.idempotency_key, "--verify", "--json"],
                               capture_output=True, text=True, check=True)
        assert json.loads(shown.stdout)["receipt"].startswith("signed by the platform at")
        forged = dataclasses.replace(row.answer, body=row.answer.body.replace(b'"P1001"',
                                                                              b'"P1002"'))
        with pytest.raises(ProtocolError):
            forged.verify(runtime.backend.server_key)
        assert [a.code for a in runtime.outbox.history(row.idempotency_key)][-1] == "ok"
        charged = counter.patient("P1001").credit.outstanding_fen - before
        assert charged == row.response.charge_to_credit_fen  # once
    finally:
        runtime.stop()


def test_a_skewed_kiosk_clock_never_loses_a_confirmed_settlement(platform, engine):
    """The kiosk's clock is 400 s fast (the platform's window is 300 s): the first refusal
    teaches it platform time, the checkout completes, and the drift is reported."""
    runtime = make_runtime(platform, engine, "kiosk-fast-clock",
                           clock=PlatformClock(lambda: time.time() + 400))
    runtime.start(camera=None, sync=False)
    try:
        runtime.card_read("YB33078400001005")
        review = wait_for(runtime, lambda v: v.state in (State.BILL_REVIEW, State.FALLBACK))
        assert review.state == State.BILL_REVIEW, review.reason
        runtime.confirm()
        done = wait_for(runtime, lambda v: v.state in (State.DONE, State.FALLBACK))
        assert done.state == State.DONE and done.result.status == "settled", done.reason
        health = runtime.health()["clock"]
        assert health.reason == "clock.skewed" and health.state == "degraded"
    finally:
        runtime.stop()


def test_pending_rows_go_at_once_when_the_platform_answers_again(platform, engine):
    runtime = make_runtime(platform, engine, "kiosk-restored")
    runtime.start(camera=None, sync=False)
    try:
        platform.admin("bill", "create", "--site", platform.seed["site_id"], "--patient",
                       "P1003", "--visit", "V-RESTORED", "--bill-id", "B-RESTORED",
                       "--item", "exam:血常规 blood count:1:2500")
        patient, quote = runtime.backend.lookup(PaymentMethod.CARD, "YB33078400001003")
        platform.stop()
        intent = SettlementIntent("restored", "sess-restored", patient.patient_id,
                                  quote.quote_id, quote.bill_ids, quote.self_pay_fen,
                                  quote.total_fen, PaymentMethod.CARD, quote.bill_self_pay)
        runtime.outbox.enqueue("restored-1", intent.session_id,
                               request_for(intent, "B-RESTORED"), 0)
        runtime.desk.run_due()  # fails: the platform is down
        for _ in range(8):  # as after a long outage: the next try minutes away
            runtime.outbox.mark_unknown("restored-1", "backend.unreachable")
        (row,) = runtime.outbox.pending()
        assert row.last_error == "backend.unreachable" and row.next_attempt_at > time.time() + 60
        platform.start()
        runtime.backend.heartbeat(runtime._heartbeat_report(None))  # any answer will do
        deadline = time.monotonic() + 10
        while runtime.outbox.get("restored-1").state != RowState.DELIVERED:
            assert time.monotonic() < deadline, runtime.outbox.get("restored-1")
            time.sleep(0.05)
    finally:
        if platform.proc is None:
            platform.start()
        runtime.stop()



def test_a_platform_restored_from_a_backup_is_found_by_the_batch_totals(platform, engine):
    """The platform's database goes back to a copy taken before a kiosk settlement: the
    bill shows pending again. The kiosk's batch totals find it (and the audit rollback), a
    hand-off is raised, and the kiosk sends it again under its own key; `audit verify`
    fails on the anchor kept outside the database."""
    runtime = make_runtime(platform, engine, "kiosk-restore")  # provisioned before the copy
    runtime._reconciled_at = time.monotonic()  # its hourly batch must not run in between
    counter = connect(platform.device("counter", "counter-restore"))
    db = platform.root / "server.db"
    backup = platform.root / "before.db"
    with closing(sqlite3.connect(db)) as src, closing(sqlite3.connect(backup)) as dst:
        src.backup(dst)
    runtime.start(camera=None, sync=False)
    try:
        runtime.voucher_scanned(platform.seed["voucher"]["payload"])  # P1002's e-voucher
        review = wait_for(runtime, lambda v: v.state in (State.BILL_REVIEW, State.FALLBACK))
        assert review.state == State.BILL_REVIEW, review.reason
        runtime.confirm()
        done = wait_for(runtime, lambda v: v.state in (State.DONE, State.FALLBACK))
        assert done.state == State.DONE and done.result.status == "settled", done.reason
        (row,) = runtime.outbox.rows()
        first_id = row.response.settlement_id
        assert runtime.outbox.audit_head() == row.response.audit_head
        platform.stop()
        with closing(sqlite3.connect(backup)) as src, closing(sqlite3.connect(db)) as dst:
            src.backup(dst)
        platform.start()
        verify = subprocess.run(
            [sys.executable, "-m", "server_stub", "--config", str(platform.config), "audit",
             "verify"], capture_output=True, text=True, cwd=platform.root)
        assert verify.returncode != 0 and "rollback" in verify.stdout + verify.stderr
        answer = runtime.desk.reconcile()
        assert answer.missing_on_platform == [row.idempotency_key]
        assert answer.audit == "rollback" and answer.handoff_id
        deadline = time.monotonic() + 15
        while (again := runtime.outbox.get(row.idempotency_key)).state != RowState.DELIVERED:
            assert time.monotonic() < deadline, again
            time.sleep(0.1)
        assert again.response.settlement_id != first_id  # the restored books have it again
        assert counter.settlement(again.response.settlement_id).bill_id == row.request.bill_id
        assert runtime.desk.reconcile().missing_on_platform == []
    finally:
        if platform.proc is None:
            platform.start()
        runtime.stop()
