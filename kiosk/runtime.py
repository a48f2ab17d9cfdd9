"""The imperative shell around the checkout flow: threads, I/O and the effects' execution.

One *flow thread* owns the ``CheckoutFlow`` and applies every event in order (frames'
recognition results, patient commands, backend replies, clock ticks), so the flow needs no
locks. Slow work runs elsewhere: recognition on a worker thread that always takes the
newest camera frame, backend calls and printing on a small pool, delivery in the outbox
sender, gallery sync and heartbeats on their own schedules. The UI subscribes to ``FlowView``
snapshots.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from common.errors import ErrorCode
from device.health import DeviceHealth
from kiosk import receipts
from kiosk.backend import Backend, BackendError
from kiosk.config import KioskConfig
from kiosk.flow.effects import (
    Audit,
    CheckDigits,
    CloseRepayOrder,
    Effect,
    LookupCredit,
    LookupFamilyCredit,
    LookupPatient,
    NotifyCashier,
    OpenRepayOrder,
    PollRepayOrder,
    PrintReceipt,
    Settle,
)
from kiosk.flow.machine import CheckoutFlow, FlowView, FrameObservation, LivenessFeed
from kiosk.flow.model import KioskPatient, KioskQuote, SettlementIntent, State
from kiosk.gallery_store import GalleryStore, SyncState, apply_sync
from kiosk.heartbeat import HeartbeatSender, build_report
from kiosk.protocol import schemas
from kiosk.recognition.engine import FaceEngine
from kiosk.recognition.gallery import Gallery, decide
from kiosk.recognition.template import Template
from kiosk.settlement.desk import SettlementDesk
from kiosk.settlement.outbox import Outbox
from kiosk.voice import PromptPlayer

log = logging.getLogger(__name__)
HANDOFF_RETRY_EVERY_S = 3.0
HANDOFF_RETRY_S = 600.0  # after ten minutes the patient has been served or has left

# the patient chose face pay: the only states in which a face is analysed and identified;
# elsewhere (the idle screen included) a frame is only checked for a face being there
RECOGNISING = (State.SEARCHING, State.LIVENESS)
RECONCILE_EVERY_S = 3600.0  # batch totals hourly, and once at start-up


class KioskRuntime:
    def __init__(
        self,
        config: KioskConfig,
        engine: FaceEngine,
        gallery: Gallery,
        backend: Backend,
        outbox: Outbox,
        *,
        liveness_factory: Callable[[], LivenessFeed] | None = None,
        gallery_store: GalleryStore | None = None,
        sync_state: SyncState | None = None,
        printer: Callable[[dict[str, Any]], None] | None = None,
        audit: Callable[[str, dict[str, Any]], None] | None = None,
        peripherals: Callable[[], Mapping[str, DeviceHealth]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.engine = engine
        self.gallery = gallery
        self.gallery_lock = threading.Lock()
        self.backend = backend
        self.outbox = outbox
        self.gallery_store = gallery_store
        self.sync_state = sync_state or SyncState()
        self.printer = printer
        self.audit = audit or (lambda event, fields: log.info(event, extra=fields))
        self.clock = clock
        self.flow = CheckoutFlow(config.flow, liveness_factory=liveness_factory,
                                 gallery_size=lambda: self.gallery.person_count)
        self._events: queue.Queue[Callable[[], list[Effect]] | None] = queue.Queue()
        self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="kiosk-io")
        self._listeners: list[Callable[[FlowView], None]] = []
        self._preview: list[Callable[[np.ndarray, Any], None]] = []
        self._probe: tuple[str, Template] | None = None  # (session id, latest usable probe)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # hand-offs the platform could not take yet, with their first try; kept only while
        # a patient could still be standing at the desk
        self._late_handoffs: list[tuple[NotifyCashier, float]] = []
        self._late_lock = threading.Lock()
        self.station = receipts.Station.of(config.site)
        self.desk = SettlementDesk(
            backend, outbox, offline=config.offline, station=self.station,
            hold_s=config.flow.settling_timeout_s,
            retention_hours=lambda: backend.retention_hours, platform_now=backend.clock.now,
            notify_cashier=lambda effect: self._pool.submit(self._notify_cashier, effect))
        backend.on_restored(self.desk.platform_restored)
        self._reconciled_at = float("-inf")
        self.peripherals = peripherals or dict
        self.heartbeat = HeartbeatSender(backend, self._heartbeat_report,
                                         config.server.heartbeat_s)
        self.last_view: FlowView = self.flow.view(self.clock())
        self.voice: PromptPlayer | None = None  # spoken prompts, when the kiosk has a voice

    # ------------------------------------------------------------ lifecycle
    def start(self, camera: Any | None = None, sync: bool = True) -> KioskRuntime:
        self._spawn("kiosk-flow", self._flow_loop)
        if camera is not None:
            self._spawn("kiosk-recognition", lambda: self._recognition_loop(camera))
        if sync:
            self._spawn("kiosk-sync", self._sync_loop)
        self._spawn("kiosk-handoffs", self._handoff_loop)
        self.desk.start()
        self.heartbeat.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._events.put(None)
        self.desk.stop()
        self.heartbeat.stop()
        for thread in self._threads:
            thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def subscribe(self, listener: Callable[[FlowView], None]) -> None:
        """``listener(view)`` with the view as it is now, then after every change; always
        called on the flow thread (a screen that subscribes late never misses the present)."""
        self._listeners.append(listener)

        def present() -> list[Effect]:
            listener(self.last_view)
            return []

        self._events.put(present)

    def unsubscribe(self, listener: Callable[[FlowView], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def subscribe_preview(self, listener: Callable[[np.ndarray, Any], None]) -> None:
        """``listener(bgr_image, face_detection_or_None)`` per recognised camera frame,
        called on the recognition thread (for the live preview and its face frame)."""
        self._preview.append(listener)

    # ------------------------------------------------------------- commands
    def post(self, action: Callable[[float], list[Effect]]) -> None:
        """Run ``action(now)`` on the flow thread (thread-safe; for UI and devices)."""
        self._events.put(lambda: action(self.clock()))

    def start_face(self) -> None:
        self.post(self.flow.start_face)

    def confirm(self) -> None:
        self.post(self.flow.confirm)

    def cancel(self) -> None:
        self.post(self.flow.cancel)

    def start_owed(self) -> None:
        """我的欠款 on the start screen."""
        self.post(self.flow.start_owed)

    def owed_face(self) -> None:
        self.post(self.flow.owed_face)

    def repay(self, settlement_id: str | None = None) -> None:
        self.post(lambda now: self.flow.repay(now, settlement_id))

    def pay_for_family(self) -> None:
        """为家人还款 on one's own statement."""
        self.post(self.flow.pay_for_family)

    def choose_dependant(self, patient_id: str) -> None:
        self.post(lambda now: self.flow.choose_dependant(now, patient_id))

    def family_back(self) -> None:
        self.post(self.flow.family_back)

    def call_cashier(self) -> None:
        self.post(self.flow.call_cashier)

    def enter_digits(self, digits: str) -> None:
        self.post(lambda now: self.flow.enter_digits(now, digits))

    def card_read(self, card_no: str) -> None:
        self.post(lambda now: self.flow.card_read(now, card_no))

    def voucher_scanned(self, payload: str) -> None:
        self.post(lambda now: self.flow.voucher_scanned(now, payload))

    def camera_status(self, ok: bool) -> None:
        self.post(lambda now: self.flow.camera_status(now, ok))

    def set_elderly(self, on: bool) -> None:
        self.post(lambda now: (self.flow.set_elderly(on), [])[1])

    def replay_prompt(self) -> None:
        """再听一遍: the voice says the current screen's prompt again."""
        if self.voice is not None:
            self.voice.replay()

    def set_language(self, lang: str) -> None:
        """The patient switched the screens' language: the voice follows."""
        if self.voice is not None:
            self.voice.set_language(lang)

    # ------------------------------------------------------------ the flow
    def _flow_loop(self) -> None:
        while not self._stop.is_set():
            try:
                event = self._events.get(timeout=0.2)
            except queue.Empty:
                event = None
            if event is None and self._stop.is_set():
                break
            before, session = (self.flow.state, self.flow.guidance), self.flow.session
            effects = event() if event is not None else []
            effects += self.flow.tick(self.clock())
            if self.flow.session is None or (self._probe and self._probe[0] !=
                                             self.flow.session.id):
                self._probe = None  # the patient left: forget their face template too
            for effect in effects:
                self._execute(effect)
            view = self.flow.view(self.clock())
            if self.flow.state != before[0]:
                session = self.flow.session or session
                log.info("flow.transition", extra={
                    "session": session.id if session else None, "from_state": before[0].value,
                    "to_state": view.state.value, "reason": view.reason})
            if effects or (self.flow.state, self.flow.guidance) != before:
                self.last_view = view
                for listener in list(self._listeners):
                    try:
                        listener(view)
                    except Exception:  # a broken screen must not stop the checkout
                        log.exception("listener.failed")

    def _execute(self, effect: Effect) -> None:
        if isinstance(effect, Audit):
            self.audit(effect.event, effect.fields)
        elif isinstance(effect, LookupPatient):
            self._pool.submit(self._lookup, effect)
        elif isinstance(effect, CheckDigits):
            self._pool.submit(self._check_digits, effect)
        elif isinstance(effect, Settle):
            session = self.flow.session
            assert session is not None and session.quote is not None and session.patient
            self._pool.submit(self._settle, effect.intent, session.quote, session.patient)
        elif isinstance(effect, PrintReceipt):
            if self.printer is not None:
                self._pool.submit(self._print, effect.receipt)
        elif isinstance(effect, NotifyCashier):
            self._pool.submit(self._notify_cashier, effect)
        elif isinstance(effect, LookupCredit | OpenRepayOrder | PollRepayOrder |
                        CloseRepayOrder):
            self._pool.submit(self._repayment, effect)
        elif isinstance(effect, LookupFamilyCredit):
            self._pool.submit(self._family_statement, effect)

    # ---------------------------------------------------------- recognition
    def process_frame(self, image: np.ndarray, timestamp: float) -> None:
        """Recognise one frame according to what the flow needs now, and post the result."""
        state = self.flow.state
        if state in RECOGNISING:
            analysis = self.engine.analyse(image)
            decision = None
            if analysis.template is not None and state == State.SEARCHING:
                with self.gallery_lock:
                    decision = self.engine.identify(analysis.template, self.gallery)
            obs = FrameObservation(timestamp, analysis.quality.face, analysis.quality.reasons,
                                   analysis.template, decision, image)
        else:
            faces = self.engine.detect(image)
            obs = FrameObservation(timestamp, faces[0] if faces else None, ())
        for listener in list(self._preview):
            listener(image, obs.face)

        def apply(now: float) -> list[Effect]:
            session = self.flow.session
            if obs.template is not None and session is not None:
                self._probe = (session.id, obs.template)
            return self.flow.on_frame(obs)

        self._events.put(lambda: apply(self.clock()))

    def _recognition_loop(self, camera: Any) -> None:
        while not self._stop.is_set():
            frame = camera.latest(timeout=0.5)
            if frame is None:
                continue
            try:
                self.process_frame(frame.image, frame.timestamp_ns / 1e9)
            except Exception:  # one bad frame must never stop the kiosk
                log.exception("frame.failed")
            if self.flow.state not in RECOGNISING:
                time.sleep(0.2)  # presence checks only: spare the CPU for the UI

    # -------------------------------------------------------------- backend
    def _lookup(self, effect: LookupPatient) -> None:
        try:
            patient, quote = self.backend.lookup(effect.method, effect.key)
        except BackendError as exc:
            code = ErrorCode.BACKEND_UNREACHABLE if exc.retryable else exc.code
            self.post(lambda now: self.flow.on_lookup_failed(now, effect.session_id, code))
            return
        self.post(lambda now: self.flow.on_lookup(now, effect.session_id, patient, quote))

    def _repayment(self, effect: LookupCredit | OpenRepayOrder | PollRepayOrder |
                   CloseRepayOrder) -> None:
        """我的欠款 and the repayment QR's calls; every answer goes back to the flow."""
        flow, session = self.flow, effect.session_id
        try:
            if isinstance(effect, LookupCredit):
                statement = self.backend.owed(effect.method, effect.key)
                self.post(lambda now: flow.on_statement(now, session, statement))
                return
            if isinstance(effect, OpenRepayOrder):
                order = self.backend.open_repay_order(effect.identity, effect.amount_fen,
                                                      effect.settlement_id,
                                                      effect.idempotency_key)
                self.post(lambda now: flow.on_repay_opened(now, session, order))
                return
            order = (self.backend.repay_order(effect.order_id)
                     if isinstance(effect, PollRepayOrder)
                     else self.backend.close_repay_order(effect.order_id))
        except BackendError as exc:
            code = ErrorCode.BACKEND_UNREACHABLE if exc.retryable else exc.code
            log.warning("repay.call_failed", extra={"effect": type(effect).__name__,
                                                    "code": exc.code})
            answer = {LookupCredit: lambda now: flow.on_lookup_failed(now, session, code),
                      OpenRepayOrder: lambda now: flow.on_repay_open_failed(now, session, code),
                      PollRepayOrder: lambda now: flow.on_repay_poll_failed(now, session),
                      CloseRepayOrder: lambda now: flow.on_repay_close_failed(now, session,
                                                                             code)}
            self.post(answer[type(effect)])
            return
        self.post(lambda now: flow.on_repay_state(now, session, order))

    def _family_statement(self, effect: LookupFamilyCredit) -> None:
        """亲情付: the chosen patient's statement, or why not (``family.not_authorised``)."""
        flow, session = self.flow, effect.session_id
        try:
            statement = self.backend.family_statement(effect.identity)
        except BackendError as exc:
            code = ErrorCode.BACKEND_UNREACHABLE if exc.retryable else exc.code
            log.warning("family.statement_failed", extra={"code": exc.code})
            self.post(lambda now: flow.on_family_failed(now, session, code))
            return
        self.post(lambda now: flow.on_family_statement(now, session, statement))

    def _notify_cashier(self, effect: NotifyCashier) -> None:
        """Put the hand-off on the counter's queue. The patient is told to go to the
        cashier either way; if the platform cannot be reached the hand-off is sent again in
        the background (it is idempotent per session) for ``HANDOFF_RETRY_S``."""
        if not self._send_handoff(effect, late=False):
            with self._late_lock:
                self._late_handoffs.append((effect, time.time()))

    def _send_handoff(self, effect: NotifyCashier, *, late: bool) -> bool:
        """True when done with (sent, or refused for good); False to try again later."""
        session_id, reason = effect.session_id, effect.reason
        try:
            self.backend.handoff(session_id, reason, effect.patient_id, effect.amount_fen)
        except BackendError as exc:
            if not late or not exc.retryable:  # one record per outage, not one per retry
                self.audit("cashier.notify_failed", {"session": session_id, "reason": reason,
                                                     "code": exc.code, "late": late})
                log.warning("handoff.failed", extra={"session": session_id, "reason": reason,
                                                     "code": exc.code, "late": late})
            return not exc.retryable
        self.audit("cashier.notified", {"session": session_id, "reason": reason, "late": late})
        log.info("handoff.sent", extra={"session": session_id, "reason": reason, "late": late})
        return True

    def _handoff_loop(self) -> None:
        """Also the watchdog tick: the settlement sender is kept running, and the batch
        totals go to the platform every ``RECONCILE_EVERY_S``."""
        while not self._stop.wait(HANDOFF_RETRY_EVERY_S):
            self.desk.sender.ensure_running()
            self._maybe_reconcile()
            with self._late_lock:
                waiting, self._late_handoffs = self._late_handoffs, []
            for effect, since in waiting:
                if time.time() - since > HANDOFF_RETRY_S:
                    self.audit("cashier.notify_expired", {"session": effect.session_id,
                                                          "reason": effect.reason})
                elif not self._send_handoff(effect, late=True):
                    with self._late_lock:
                        self._late_handoffs.append((effect, since))

    def _maybe_reconcile(self) -> None:
        if time.monotonic() - self._reconciled_at < RECONCILE_EVERY_S:
            return
        self._reconciled_at = time.monotonic()
        try:
            self.desk.reconcile()
        except BackendError as exc:
            self._reconciled_at -= RECONCILE_EVERY_S * 0.9  # try again in a few minutes
            log.warning("settlement.reconcile", extra={"outcome": "failed", "code": exc.code})

    def _check_digits(self, effect: CheckDigits) -> None:
        """The digits narrow the candidates (the platform knows the phones); then the face
        decides among the few left, needing the candidate floor and the margin; then the
        platform checks the digits against that person and counts the attempt."""
        probe = self._probe[1] if self._probe and self._probe[0] == effect.session_id else None
        try:
            if probe is None and len(effect.candidates) == 1:  # identified without the face
                ok, attempts = self.backend.verify_digits(effect.session_id,
                                                          effect.candidates[0], effect.digits)
                patient_id = effect.candidates[0] if ok else None
                self.post(lambda now: self.flow.on_digits(now, effect.session_id, patient_id,
                                                          attempts))
                return
            narrowed = self.backend.narrow(effect.digits, list(effect.candidates) or None)
            chosen = None
            if probe is not None and narrowed:
                with self.gallery_lock:
                    found = self.gallery.search(probe, k=2, among=narrowed)
                decision = decide(found, self.engine.policy)
                if decision.outcome != "no_match" and (decision.gap or 0) >= \
                        self.engine.policy.margin:
                    chosen = decision.best.person_id if decision.best else None
            target = chosen or (effect.candidates[0] if effect.candidates else None)
            attempts = None
            if target is not None:
                ok, attempts = self.backend.verify_digits(effect.session_id, target,
                                                          effect.digits)
                chosen = chosen if ok else None
            patient_id = chosen
        except BackendError as exc:
            if exc.code == ErrorCode.SECOND_FACTOR_LOCKED:
                self.post(lambda now: self.flow.on_digits(now, effect.session_id, None, 0))
                return
            self.post(lambda now: self.flow.on_digits(now, effect.session_id, None))
            return
        self.post(lambda now: self.flow.on_digits(now, effect.session_id, patient_id, attempts))

    def _settle(self, intent: SettlementIntent, quote: KioskQuote, patient: KioskPatient) -> None:
        submitted = self.desk.submit(intent, quote, patient)
        result = submitted.result
        if result is None:
            self.post(lambda now: self.flow.on_settle_failed(now, intent.session_id,
                                                             submitted.failure))
        else:
            self.post(lambda now: self.flow.on_settled(now, intent.session_id, result))

    def _print(self, receipt: dict[str, Any]) -> None:
        try:
            assert self.printer is not None
            self.printer(receipt)
        except Exception as exc:  # the cashier can reprint; the patient must not be stuck
            self.audit("receipt.print_failed", {"error": type(exc).__name__})

    def health(self) -> dict[str, DeviceHealth]:
        """Peripherals, the platform clock and the settlement sender, for the fleet view."""
        return {**self.peripherals(), "clock": self.backend.clock.health(),
                "outbox": self.desk.sender.health()}

    def _heartbeat_report(self, clock_offset_ms: int | None) -> schemas.HeartbeatRequest:
        return build_report(self.config, peripherals=self.health(), outbox=self.outbox,
                            synced_at=self.sync_state.synced_at,
                            clock_offset_ms=clock_offset_ms, now=time.time())

    # ---------------------------------------------------------------- sync
    def sync_once(self) -> tuple[int, int]:
        """Pull every page of gallery changes since our cursor; persist; returns counts."""
        added = removed = 0
        cursor = self.sync_state.cursor
        while True:
            page = self.backend.sync_gallery(cursor)
            with self.gallery_lock:
                a, r = apply_sync(self.gallery, page.upserts, page.deletions)
            added, removed, cursor = added + a, removed + r, page.cursor
            if not page.more:
                break
        self.sync_state = SyncState(cursor, time.time())
        if self.gallery_store is not None:
            with self.gallery_lock:
                self.gallery_store.save(self.gallery, self.sync_state)
        log.info("gallery.sync", extra={"outcome": "ok", "upserts": added, "deletions": removed,
                                        "persons": self.gallery.person_count})
        return added, removed

    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            try:
                added, removed = self.sync_once()
                if added or removed:
                    self.audit("gallery.synced", {"upserts": added, "deletions": removed,
                                                  "persons": self.gallery.person_count})
            except BackendError as exc:
                self.audit("gallery.sync_failed", {"code": exc.code})
                log.warning("gallery.sync", extra={"outcome": "failed", "code": exc.code})
            self._stop.wait(self.config.server.sync_interval_s)
