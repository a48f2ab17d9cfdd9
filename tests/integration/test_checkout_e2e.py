"""The checkout end to end: real faces through the real engine, a real platform process on
loopback, the real signed client, outbox and gallery sync; then the network's faults."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid

import numpy as np
import pytest
from proxy import FaultyProxy

from common.opencv import cv2
from device.printer.receipt import Receipt
from kiosk.backend import BackendError
from kiosk.client import PlatformClient
from kiosk.config import OfflineConfig
from kiosk.flow.model import State
from kiosk.gallery_store import GalleryStore, load_or_create_key
from kiosk.platform_clock import PlatformClock
from kiosk.protocol.schemas import PaymentMethod, SettleRequest
from kiosk.provisioning import connect
from kiosk.runtime import KioskRuntime
from kiosk.settlement.outbox import Outbox, RowState


def frame_of(face: np.ndarray, size: int) -> np.ndarray:
    frame = np.full((480, 640, 3), 100, np.uint8)
    scaled = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
    y, x = (480 - size) // 2, (640 - size) // 2
    frame[y : y + size, x : x + size] = scaled
    return frame


@pytest.fixture(scope="module")
def enrolled(platform, engine, astronaut, hanks):
    """The counter enrols two demo patients' faces (with consent), as the desk would."""
    counter = connect(platform.device("counter", "counter1"))
    now = dt.datetime.now(dt.UTC)
    counter.enrol("P1001", engine.template_for(astronaut, strict=False), "v1", now)
    counter.enrol("P1003", engine.template_for(hanks, strict=False), "v1", now)
    return counter


def make_runtime(platform, engine, name, clock: PlatformClock | None = None,
                 **overrides) -> KioskRuntime:
    """A kiosk runtime provisioned on ``platform``; ``clock``: the device's own clock."""
    config = platform.device("kiosk", name)
    if overrides:
        config = dataclasses.replace(config, **overrides)
    data = config.paths.data_path()
    store = GalleryStore(data / "gallery.enc", load_or_create_key(data / "gallery.key"),
                         engine.pack, engine.manifest.embedding_dim)
    gallery, state = store.load()
    runtime = KioskRuntime(config, engine, gallery, connect(config, clock=clock),
                           Outbox(data / "outbox.db"), gallery_store=store, sync_state=state)
    return runtime


def wait_for(runtime: KioskRuntime, predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = runtime.last_view
        if predicate(view):
            return view
        time.sleep(0.02)
    raise AssertionError(f"timed out; last view: {runtime.last_view}")


def handoffs_of(counter, runtime: KioskRuntime, timeout: float = 10.0) -> list:
    """The counter's hand-offs from this kiosk, once there is one (or the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        mine = [h for h in counter.handoffs().handoffs
                if h.kiosk_id == runtime.config.site.kiosk_id]
        if mine or time.monotonic() > deadline:
            return mine
        time.sleep(0.1)


def test_face_checkout_end_to_end(platform, engine, enrolled, astronaut):
    runtime = make_runtime(platform, engine, "kiosk-e2e")
    added, _ = runtime.sync_once()
    assert added >= 2 and runtime.gallery.person_count >= 2
    runtime.start(camera=None, sync=False)
    try:
        frame = frame_of(astronaut, 460)
        runtime.process_frame(frame, time.monotonic())  # in view: greeted, not recognised
        wait_for(runtime, lambda v: v.guidance == "idle.greet")
        assert runtime.flow.session is None
        runtime.start_face()  # the patient touches 刷脸支付
        wait_for(runtime, lambda v: v.state == State.SEARCHING)
        runtime.process_frame(frame, time.monotonic())
        view = wait_for(runtime, lambda v: v.state == State.BILL_REVIEW)
        assert view.patient.patient_id == "P1001" and "*" in view.patient.name_masked
        assert view.quote.total_fen == sum(amount for _, amount in view.quote.layers)
        runtime.confirm()
        done = wait_for(runtime, lambda v: v.state in (State.DONE, State.FALLBACK))
        assert done.state == State.DONE, done
        settlement_id = done.result.settlement_id
        receipt = Receipt.from_dict(done.result.receipt)  # what the printer will print
        assert receipt.settlement_id == settlement_id and receipt.total_fen == view.quote.total_fen
        assert receipt.self_pay_fen == view.quote.self_pay_fen and not receipt.pending
        assert runtime.outbox.pending() == []
        counter = connect(platform.device("counter", "counter-check"))
        settled = counter.settlement(settlement_id)
        assert settled.patient.patient_id == "P1001"
        assert settled.layers.self_pay_fen == view.quote.self_pay_fen
    finally:
        runtime.stop()
    # The gallery survived on disk, encrypted, and reloads without the network.
    reloaded, state = runtime.gallery_store.load()
    assert state.cursor == runtime.sync_state.cursor and "P1001" in reloaded.persons()


def test_withdrawn_consent_disappears_on_next_sync(platform, engine, enrolled, hanks):
    runtime = make_runtime(platform, engine, "kiosk-sync")
    runtime.sync_once()
    assert "P1003" in runtime.gallery.persons()
    enrolled.withdraw_consent("P1003", "patient asked")
    _, removed = runtime.sync_once()
    assert removed == 1 and "P1003" not in runtime.gallery.persons()
    enrolled.enrol("P1003", engine.template_for(hanks, strict=False), "v1",
                   dt.datetime.now(dt.UTC))


def test_backend_down_hands_off_and_nothing_is_lost(platform, engine, enrolled):
    runtime = make_runtime(platform, engine, "kiosk-down",
                              offline=OfflineConfig(policy="accept"))
    runtime.start(camera=None, sync=False)
    try:
        platform.stop()
        runtime.card_read("YB33078400001005")
        view = wait_for(runtime, lambda v: v.state == State.FALLBACK)
        assert view.reason == "backend.unreachable" and view.patient is None
        platform.start()
        runtime.post(lambda now: runtime.flow.tick(now + 3600))
        wait_for(runtime, lambda v: v.state == State.IDLE)
        runtime.card_read("YB33078400001005")
        view = wait_for(runtime, lambda v: v.state == State.BILL_REVIEW)
        platform.stop()  # gone between the quote and the confirm
        runtime.confirm()
        view = wait_for(runtime, lambda v: v.state == State.DONE)
        assert view.result.status == "queued" and Receipt.from_dict(view.result.receipt).pending
        (item,) = runtime.outbox.pending()
        assert item.offline
        platform.start()
        runtime.outbox.retry_now(item.idempotency_key)
        runtime.desk.sender.wake()
        deadline = time.monotonic() + 20
        while runtime.outbox.get(item.idempotency_key).state != RowState.DELIVERED:
            assert time.monotonic() < deadline, runtime.outbox.get(item.idempotency_key)
            time.sleep(0.1)
    finally:
        if platform.proc is None:
            platform.start()
        runtime.stop()


def test_reply_lost_after_commit_is_charged_once(platform, engine, enrolled):
    config = platform.device("kiosk", "kiosk-proxy")
    proxy = FaultyProxy(platform.port)
    direct = connect(config)
    via = PlatformClient(proxy.url, direct.device_id, direct.device_key, direct.server_key,
                         pack=engine.pack, read_timeout_s=2.0)
    patient, quote = direct.lookup(PaymentMethod.CARD, "YB33078400001003")
    request = SettleRequest(bill_id=quote.bill_ids[0], patient_id=patient.patient_id,
                            method=PaymentMethod.CARD, expected_self_pay_fen=quote.self_pay_fen)
    key = f"lost-{uuid.uuid4().hex}"
    proxy.mode = "drop_reply"
    with pytest.raises(BackendError) as err:
        via.settle(request, key)
    # each try freshly signed, the same key: charged once however many replies are lost
    assert err.value.retryable and proxy.drops == 1 + via.retries
    proxy.mode = "delay"
    proxy.delay_s = 3.0  # slower than the client's read timeout
    with pytest.raises(BackendError) as err:
        via.settle(request, key)
    assert err.value.code in ("backend.timeout", "backend.unreachable") and err.value.retryable
    proxy.mode = "pass"
    first = via.settle(request, key).settlement
    again = direct.settle(request, key)  # a duplicate send, e.g. after a restart
    assert first.settlement_id == again.settlement.settlement_id
    assert again.answer.verify(direct.server_key) > 0  # the kept receipt checks out later
    other_key = f"other-{uuid.uuid4().hex}"
    with pytest.raises(BackendError) as err:
        direct.settle(request, other_key)
    assert err.value.code == "bill.already_settled" and not err.value.retryable
    assert err.value.details["settlement_id"] == first.settlement_id
    proxy.close()


def test_a_skewed_clock_is_learned_and_reported_and_revocation_is_clear(platform, engine):
    config = platform.device("kiosk", "kiosk-skew")
    good = connect(config)
    skewed = PlatformClient(good.base_url, good.device_id, good.device_key, good.server_key,
                            pack=engine.pack, clock=PlatformClock(lambda: time.time() + 400))
    # refused for the clock once, signed: the client learns platform time and signs with it
    patient, _ = skewed.lookup(PaymentMethod.CARD, "YB33078400001001")
    assert patient.patient_id == "P1001"
    assert 398 <= skewed.clock.offset_s <= 402
    health = skewed.clock.health()
    assert health.reason == "clock.skewed" and "+400 s" in health.message
    platform.admin("device", "revoke", config.site.kiosk_id, "--reason", "stolen")
    with pytest.raises(BackendError) as err:
        good.sync_gallery(0)
    assert err.value.code == "auth.device_revoked"


def test_large_card_payment_asks_the_phone_digits(platform, engine, enrolled):
    platform.admin("bill", "create", "--site", platform.seed["site_id"], "--patient", "P1005",
                   "--visit", "V-LARGE", "--item", "drug:自费靶向药 self-paid drug:1:60000:self")
    runtime = make_runtime(platform, engine, "kiosk-large")
    runtime.start(camera=None, sync=False)
    try:
        runtime.card_read("YB33078400001005")
        view = wait_for(runtime, lambda v: v.state == State.SECOND_FACTOR)
        assert view.attempts_left == 3
        runtime.enter_digits("9999")
        view = wait_for(runtime, lambda v: v.guidance == "second_factor.wrong_digits")
        assert view.attempts_left == 2
        runtime.enter_digits("1005")  # the last 4 digits of P1005's phone
        view = wait_for(runtime, lambda v: v.state == State.BILL_REVIEW)
        assert view.quote.self_pay_fen >= 60_000 and view.method == PaymentMethod.CARD
    finally:
        runtime.stop()


def test_a_fallback_reaches_the_counters_queue(platform, engine, enrolled):
    runtime = make_runtime(platform, engine, "kiosk-handoff")
    runtime.start(camera=None, sync=False)
    try:
        runtime.call_cashier()
        view = wait_for(runtime, lambda v: v.state == State.FALLBACK)
        assert view.reason == "patient.requested_cashier"
        mine = handoffs_of(enrolled, runtime)
        assert [h.reason for h in mine] == ["patient.requested_cashier"]
        taken = enrolled.take_handoff(mine[0].handoff_id)
        assert taken.taken_by == enrolled.device_id
    finally:
        runtime.stop()


def test_a_hand_off_made_while_the_platform_is_down_reaches_the_desk_later(platform, engine,
                                                                          enrolled):
    events: list[tuple[str, dict]] = []
    runtime = make_runtime(platform, engine, "kiosk-late-handoff")
    runtime.audit = lambda event, fields: events.append((event, fields))
    runtime.start(camera=None, sync=False)
    try:
        platform.stop()
        runtime.call_cashier()
        view = wait_for(runtime, lambda v: v.state == State.FALLBACK)
        deadline = time.monotonic() + 10
        while not any(e == "cashier.notify_failed" for e, _ in events):
            assert time.monotonic() < deadline, events
            time.sleep(0.05)
        platform.start()
        mine = handoffs_of(enrolled, runtime, timeout=20)
        assert [h.reason for h in mine] == [view.reason] == ["patient.requested_cashier"]
        notified = ("cashier.notified", {"session": mine[0].session_id,
                                         "reason": "patient.requested_cashier", "late": True})
        deadline = time.monotonic() + 10  # the desk can see it before the kiosk hears back
        while notified not in events:
            assert time.monotonic() < deadline, events
            time.sleep(0.05)
        assert sum(e == "cashier.notify_failed" for e, _ in events) == 1
    finally:
        if platform.proc is None:
            platform.start()
        runtime.stop()
