"""The hand-off queue: polled on the console's worker every ``POLL_MS`` while unlocked, so a
kiosk's hand-off shows within two seconds without a click; new rows are highlighted and
beeped; take-over, and closing one on the platform: resolved (served) or dismissed, each
with a fixed code."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QApplication, QComboBox, QHBoxLayout, QVBoxLayout, QWidget

from kiosk.counter.queue import DISMISS_REASONS, RESOLVE_OUTCOMES, HandoffQueue
from kiosk.counter.service import CounterHandoff
from kiosk.i18n import tr, yuan
from kiosk.protocol.schemas import DismissReason, ResolveOutcome
from ui import theme
from ui.cashier.widgets import Host, button, fill, make_table, selected_key, set_headers
from ui.cashier.words import say, staff_reason, waited

log = logging.getLogger(__name__)

POLL_MS = 1500
HIGHLIGHT_S = 20.0  # a new row stays marked this long
NEW_ROW = QColor("#5C4B00")  # the theme's accent, dimmed so white text stays readable
COLUMNS = ("counter.col_waited", "counter.col_kiosk", "counter.col_reason",
           "counter.col_patient", "counter.col_amount", "counter.col_count",
           "counter.col_status")


class QueueTab(QWidget):
    taken = Signal(object)  # CounterHandoff

    def __init__(self, host: Host, clock: Callable[[], float] = time.monotonic,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host, self.clock = host, clock
        self.queue = HandoffQueue()
        self._new_until: dict[str, float] = {}
        column = QVBoxLayout(self)
        self.table = make_table(len(COLUMNS), "queue")
        column.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.take_button = button("take_over", "primary")
        self.take_button.clicked.connect(self.take_over)
        self.resolve_outcome = QComboBox()
        self.resolve_outcome.setObjectName("resolve_outcome")
        self.resolve_button = button("resolve")
        self.resolve_button.clicked.connect(self.resolve)
        self.dismiss_reason = QComboBox()
        self.dismiss_reason.setObjectName("dismiss_reason")
        self.dismiss_button = button("dismiss")
        self.dismiss_button.clicked.connect(self.dismiss)
        row.addWidget(self.take_button)
        row.addWidget(self.resolve_outcome)
        row.addWidget(self.resolve_button)
        row.addStretch(1)
        row.addWidget(self.dismiss_reason)
        row.addWidget(self.dismiss_button)
        column.addLayout(row)
        self.poll = QTimer(self, interval=POLL_MS)
        self.poll.timeout.connect(self.refresh)

    def retranslate(self, lang: str) -> None:
        set_headers(self.table, COLUMNS, lang)
        self.take_button.setText(say("counter.take_over", lang))
        self.dismiss_button.setText(say("counter.dismiss", lang))
        self.resolve_button.setText(say("counter.resolve", lang))
        for combo, codes, prefix in ((self.dismiss_reason, DISMISS_REASONS, "counter.dismiss"),
                                     (self.resolve_outcome, RESOLVE_OUTCOMES,
                                      "counter.resolve")):
            current = combo.currentIndex()
            combo.clear()
            for code in codes:
                combo.addItem(say(f"{prefix}.{code.value}", lang), code.value)
            combo.setCurrentIndex(max(0, current))
        self._show()

    def start(self) -> None:
        self.poll.start()
        self.refresh()

    def stop(self) -> None:
        self.poll.stop()
        self.queue.clear()
        self._new_until.clear()
        self.table.setRowCount(0)

    def refresh(self) -> None:
        self.host.run("queue", self.host.service.handoffs, self._arrived, self._poll_failed,
                      touch=False)  # polling is not staff activity: idle locking still works

    def _poll_failed(self, exc: BaseException) -> None:
        """A failed poll is said once, in the banner; the next poll simply tries again."""
        self.host.failed(exc)

    def _arrived(self, handoffs: object) -> None:
        assert isinstance(handoffs, list)
        fresh = self.queue.update(handoffs)
        if fresh:
            until = self.clock() + HIGHLIGHT_S
            self._new_until.update(dict.fromkeys(fresh, until))
            QApplication.beep()
            log.info("cashier.handoffs_arrived", extra={"n": len(fresh)})
        self._show()

    def _row(self, h: CounterHandoff, lang: str) -> list[str]:
        return [waited(self.queue.waited_s(h), lang),
                h.kiosk_name or h.kiosk_id,
                staff_reason(h.reason, lang),
                h.patient_name or say("counter.unknown", lang),
                yuan(h.amount_fen, lang) if h.amount_fen is not None
                else say("counter.unknown", lang),
                say("counter.times", lang, n=h.count),
                tr("cashier.taken" if h.taken_by else "cashier.waiting", lang)]

    def _show(self) -> None:
        lang, now = self.host.lang, self.clock()
        rows = self.queue.rows
        fill(self.table, [self._row(h, lang) for h in rows], [h.handoff_id for h in rows])
        self._new_until = {i: t for i, t in self._new_until.items() if t > now}
        for index, h in enumerate(rows):
            new = h.handoff_id in self._new_until and not h.taken_by
            for col in range(self.table.columnCount()):
                item = self.table.item(index, col)
                item.setBackground(QBrush(NEW_ROW) if new else QBrush())
                if h.taken_by:
                    item.setForeground(QBrush(QColor(theme.MUTED)))

    def is_new(self, handoff_id: str) -> bool:
        return handoff_id in self._new_until

    def selected(self) -> CounterHandoff | None:
        key = selected_key(self.table)
        if not key and self.queue.rows and self.table.rowCount() == 1:
            key = self.queue.rows[0].handoff_id
        return next((h for h in self.queue.rows if h.handoff_id == key), None)

    def take_over(self) -> None:
        handoff = self.selected()
        if handoff is not None:
            self.host.run("take", lambda: self.host.service.take_over(handoff.handoff_id),
                          self._taken)

    def _taken(self, handoff: object) -> None:
        assert isinstance(handoff, CounterHandoff)
        self._new_until.pop(handoff.handoff_id, None)
        lang = self.host.lang
        self.host.tell(say("counter.took_over", lang, kiosk=handoff.kiosk_name or
                           handoff.kiosk_id, reason=staff_reason(handoff.reason, lang)), "good")
        self.taken.emit(handoff)
        self.refresh()

    def dismiss(self) -> None:
        handoff = self.selected()
        if handoff is None:
            return
        reason = str(self.dismiss_reason.currentData())
        lang = self.host.lang
        self.host.confirm(say("counter.dismiss_title", lang),
                          f"{handoff.kiosk_name or handoff.kiosk_id} · "
                          f"{staff_reason(handoff.reason, lang)}\n"
                          f"{say(f'counter.dismiss.{reason}', lang)}",
                          lambda _: self.host.run(
                              "dismiss", lambda: self.host.service.dismiss(
                                  handoff.handoff_id, DismissReason(reason)),
                              lambda closed: self._closed(closed, f"counter.dismiss.{reason}")))

    def resolve(self) -> None:
        handoff = self.selected()
        if handoff is None:
            return
        outcome = str(self.resolve_outcome.currentData())
        self.host.run("resolve", lambda: self.host.service.resolve(
            handoff.handoff_id, ResolveOutcome(outcome)),
            lambda closed: self._closed(closed, f"counter.resolve.{outcome}"))

    def _closed(self, handoff: object, what: str) -> None:
        assert isinstance(handoff, CounterHandoff)
        self.queue.closed(handoff)
        self._show()
        self.host.tell(say("counter.closed", self.host.lang,
                           what=say(what, self.host.lang)), "good")
