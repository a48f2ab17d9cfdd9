"""The cashier console: behind a staff PIN, everything a cashier does when the kiosk cannot.

A shell around one widget per tab — hand-off queue (live), look-up and charge, today's
settlements, reconciliation, enrolment, 亲情付 — with the result banner, the confirm dialog,
the keyboard shortcuts (F2 take over, F3 look up, F4 亲情付, F9 charge) and locking: after
``idle_lock_s``
without a key or a click the console locks itself and forgets what it showed. Every
platform call runs on the worker pool.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from common.errors import ErrorCode
from kiosk.backend import BackendError
from kiosk.config import DEFAULT_TIMEZONE, CashierConfig
from kiosk.counter.enrolment import FRAMES_NEEDED
from kiosk.counter.family import Payer
from kiosk.counter.pin import PinGate
from kiosk.counter.service import CashierService, CounterHandoff
from kiosk.i18n import tr
from kiosk.protocol.schemas import PendingBills
from kiosk.recognition.engine import FaceEngine
from ui.cashier.enrolment import EnrolmentPanel, FrameFeed
from ui.cashier.family_tab import FamilyTab
from ui.cashier.lookup_tab import LookupTab
from ui.cashier.queue_tab import QueueTab
from ui.cashier.recon_tab import ReconTab
from ui.cashier.style import stylesheet
from ui.cashier.today_tab import TodayTab
from ui.cashier.widgets import Banner, ConfirmDialog, button
from ui.cashier.words import say, staff_error
from ui.worker import Worker

log = logging.getLogger(__name__)

DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)
QUEUE, LOOKUP, TODAY, RECON, ENROL, FAMILY = range(6)
TAB_KEYS = ("cashier.tab_queue", "cashier.tab_lookup", "cashier.tab_today",
            "cashier.tab_recon", "cashier.tab_enrol", "counter.tab_family")


class PinPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        column = QVBoxLayout(self)
        self.prompt = QLabel()
        self.prompt.setProperty("role", "title")
        self.pin = QLineEdit()
        self.pin.setObjectName("pin")
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setMinimumWidth(320)
        self.unlock_button = button("unlock", "primary")
        self.message = QLabel()
        self.message.setObjectName("pin_message")
        column.addStretch(1)
        for widget in (self.prompt, self.pin, self.unlock_button, self.message):
            column.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addStretch(2)

    def retranslate(self, lang: str) -> None:
        self.prompt.setText(tr("cashier.pin_prompt", lang))
        self.unlock_button.setText(tr("cashier.unlock", lang))


class CashierConsole(QWidget):
    def __init__(self, service: CashierService, pin_gate: PinGate, *,
                 engine: FaceEngine | None = None, camera: FrameFeed | None = None,
                 camera_refusal: ErrorCode | None = None, enrol_frames: int = FRAMES_NEEDED,
                 idle_lock_s: float = CashierConfig.idle_lock_s,
                 today: Callable[[], date] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 zone: tzinfo = DEFAULT_ZONE,  # [site] timezone: not the machine's TZ
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cashier")
        self.setStyleSheet(stylesheet())
        self.service, self.pin_gate, self.clock, self.zone = service, pin_gate, clock, zone
        self.idle_lock_s = idle_lock_s
        self.today = today or (lambda: datetime.now(zone).date())
        self.lang = "zh"
        self.worker = Worker(self)
        self.dialog: ConfirmDialog | None = None
        self.last_activity = clock()

        self.pages = QStackedWidget()
        QVBoxLayout(self).addWidget(self.pages)
        self.pin_page = PinPage()
        self.pin_page.pin.returnPressed.connect(self.unlock)
        self.pin_page.unlock_button.clicked.connect(self.unlock)
        self.pin, self.unlock_button = self.pin_page.pin, self.pin_page.unlock_button
        self.pages.addWidget(self.pin_page)

        main = QWidget()
        column = QVBoxLayout(main)
        top = QHBoxLayout()
        self.title = QLabel()
        self.title.setProperty("role", "title")
        self.lock_button = button("lock")
        self.lock_button.clicked.connect(self.lock)
        top.addWidget(self.title, 1)
        top.addWidget(self.lock_button)
        column.addLayout(top)
        self.banner = Banner()
        column.addWidget(self.banner)
        self.tabs = QTabWidget()
        column.addWidget(self.tabs, 1)
        self.pages.addWidget(main)

        self.queue = QueueTab(self, clock)
        self.lookup = LookupTab(self)
        self.today_tab = TodayTab(self, self.today)
        self.recon = ReconTab(self, self.today)
        self.enrolment = EnrolmentPanel(service, self.worker, engine, camera,
                                        camera_refusal=camera_refusal, needed=enrol_frames,
                                        zone=zone)
        self.family = FamilyTab(self)
        for tab in (self.queue, self.lookup, self.today_tab, self.recon, self.enrolment,
                    self.family):
            self.tabs.addTab(tab, "")
        self.queue.taken.connect(self._taken)
        self.family.settle_for.connect(self._settle_for)
        self.lookup.patient_changed.connect(self._patient_changed)
        self.today_tab.reversed.connect(lambda _: self.lookup.reload())
        self._shortcuts()

        self._idle = QTimer(self, interval=1000)
        self._idle.timeout.connect(self._check_idle)
        self._idle.start()
        self.installEventFilter(self)
        self.retranslate()

    def _shortcuts(self) -> None:
        for keys, action in (("F2", self.queue.take_over), ("F3", self._focus_lookup),
                             ("F4", self._focus_family), ("F9", self._charge_key)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(action)

    def _focus_lookup(self) -> None:
        if self.unlocked:
            self.tabs.setCurrentIndex(LOOKUP)
            self.lookup.key.setFocus()

    def _focus_family(self) -> None:
        if self.unlocked:
            self.tabs.setCurrentIndex(FAMILY)

    def _charge_key(self) -> None:
        if self.unlocked:
            self.tabs.setCurrentIndex(LOOKUP)
            self.lookup.settle()

    def retranslate(self, lang: str | None = None) -> None:
        self.lang = lang = lang or self.lang
        self.setWindowTitle(say("counter.window_title", lang))
        self.title.setText(tr("cashier.title", lang))
        self.lock_button.setText(tr("cashier.lock", lang))
        self.pin_page.retranslate(lang)
        for index, key in enumerate(TAB_KEYS):
            self.tabs.setTabText(index, say(key, lang))
        for tab in (self.queue, self.lookup, self.today_tab, self.recon, self.family):
            tab.retranslate(lang)
        self.enrolment.retranslate(lang)

    # ---------------------------------------------------------------- locking
    @property
    def unlocked(self) -> bool:
        return self.pages.currentIndex() == 1

    def unlock(self) -> None:
        result = self.pin_gate.attempt(self.pin.text())
        self.pin.clear()
        if result.ok:
            self.pin_page.message.setText("")
            self.pages.setCurrentIndex(1)
            self.last_activity = self.clock()
            log.info("cashier.unlocked")
            self.queue.start()
            return
        log.info("cashier.pin_refused", extra={"locked": bool(result.locked_for_s)})
        self.pin_page.message.setText(
            tr("cashier.pin_locked", self.lang, seconds=result.locked_for_s)
            if result.locked_for_s else tr("cashier.pin_wrong", self.lang,
                                           n=result.attempts_left))

    def lock(self) -> None:
        """Back to the PIN page, with nothing personal left on any widget."""
        self.worker.forget()
        if self.dialog is not None:
            self.dialog.reject()
            self.dialog = None
        self.queue.stop()
        self.lookup.clear()
        self.today_tab.clear()
        self.recon.clear()
        self.family.clear()
        self.enrolment.reset()
        self.banner.show_text("")
        self.pin.clear()
        self.pages.setCurrentIndex(0)
        log.info("cashier.locked")

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closed: locked as after idle, so the queue polls the platform no more and nothing
        personal stays behind in a hidden window."""
        if self.unlocked:
            self.lock()
        super().closeEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress):
            self.last_activity = self.clock()
        return False

    def _check_idle(self) -> None:
        if self.unlocked and self.clock() - self.last_activity > self.idle_lock_s \
                and not self.enrolment.capturing:
            self.lock()

    # ------------------------------------------------------ what tabs ask of it
    @property
    def pending(self) -> PendingBills | None:
        return self.lookup.pending

    def tell(self, text: str, tone: str = "info") -> None:
        self.banner.show_text(text, tone)

    def failed(self, exc: BaseException) -> None:
        if isinstance(exc, BackendError):
            message = f"{staff_error(exc.code, self.lang)} ({exc.code})"
        else:
            log.error("cashier.call_failed", extra={"error": type(exc).__name__})
            message = tr("generic.problem", self.lang)
        self.tell(tr("cashier.failed", self.lang, message=message), "bad")

    def run(self, kind: str, call: Callable[[], object], on_ok: Callable[[object], None],
            on_fail: Callable[[BaseException], None] | None = None, *,
            touch: bool = True) -> bool:
        """``call`` on the worker while unlocked; False when nothing was started."""
        if touch:
            self.last_activity = self.clock()
        if not self.unlocked:
            return False
        return self.worker.submit(kind, call, on_ok, on_fail or self.failed)

    def confirm(self, title: str, text: str, on_ok: Callable[[str], None], *,
                reason: Callable[[str], str] | None = None) -> None:
        """One confirmation at a time: a second request while one is open is ignored."""
        if not self.unlocked or self.dialog is not None:
            return
        dialog = ConfirmDialog(title, text, self.lang, reason=reason, parent=self)
        dialog.setStyleSheet(stylesheet())
        dialog.confirmed.connect(on_ok)
        dialog.finished.connect(lambda _: self._closed(dialog))
        self.dialog = dialog
        dialog.open()

    def _closed(self, dialog: ConfirmDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    # ----------------------------------------------------------- between tabs
    def _taken(self, handoff: object) -> None:
        assert isinstance(handoff, CounterHandoff)
        self.tabs.setCurrentIndex(LOOKUP)
        if handoff.patient_id:
            self.lookup.open_patient(handoff.patient_id)
        else:
            self.lookup.key.setFocus()

    def _settle_for(self, patient_id: str, payer: object) -> None:
        """亲情付: the dependant's bills in the look-up tab, charged naming the payer."""
        assert isinstance(payer, Payer)
        self.tabs.setCurrentIndex(LOOKUP)
        self.lookup.open_patient(patient_id, payer)

    def _patient_changed(self, pending: object) -> None:
        """The enrolment and 亲情付 tabs follow the person at the desk (kept while it stays
        the same): not a dependant a relative pays for, who is not there."""
        assert isinstance(pending, PendingBills)
        if self.lookup.payer is not None:
            return
        patient = pending.patient
        self.family.set_person(patient)
        if patient.patient_id != self.enrolment.patient_id:
            self.enrolment.set_patient(patient.patient_id,
                                       f"{patient.name} {patient.national_id}")
