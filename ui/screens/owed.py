"""我的欠款: first how to identify (face, card or e-voucher: the bottom bar's tiles), then
what is owed — the masked name, the total, each charge's amount and due date, nothing more —
with the ways forward: repay everything (or one charge) by QR, done, or staff (bottom bar).
The charges are one list that scrolls with a finger, as the bill's lines do. When patients
authorised this person (亲情付), 为家人还款 (N) leads to them; a patient's statement chosen
there is titled "为 陈* 还款" and its 返回 goes back to the list."""

from __future__ import annotations

from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QWidget,
)

from kiosk.flow.machine import FlowView
from kiosk.flow.model import State
from kiosk.flow.owed import KioskOwedCharge
from kiosk.i18n import tr, yuan
from ui.port import KioskPort
from ui.screens.base import Screen, button, set_style_property, text_label
from ui.screens.result import day_text
from ui.screens.rows import RowList

NOTICES = frozenset({"owed.repay_failed", "owed.repay_timeout", "owed.repay_cancelled",
                     "owed.repay_unavailable", "family.withdrawn"})
QUIET = frozenset({"owed.list", "family.owed"})  # the list says it: a line only for news


class OwedScreen(Screen):
    def __init__(self, port: KioskPort, parent: QWidget | None = None) -> None:
        super().__init__(port, parent)
        self.title = text_label("title")
        self.guidance = text_label("guidance")
        self.total = text_label("money", wrap=False)
        self.root.addWidget(self.title)
        self.root.addWidget(self.guidance)
        self.root.addWidget(self.total)
        self.list = RowList("secondary", self._repay_row)
        self.rows = self.list.rows
        self.root.addWidget(self.list, 1)
        self.root.addStretch(0)  # takes the height the list does not (_show)
        self._spare = self.root.count() - 1
        self.family = button("secondary", "pay_for_family")
        self.family.clicked.connect(self.port.pay_for_family)
        self.family.setVisible(False)  # only on a statement of someone with family (render)
        self.root.addWidget(self.family)
        actions = QHBoxLayout()
        self.finish = button(name="finish")
        self.finish.clicked.connect(self._finish)
        self.repay_all = button("primary", "repay_all")
        self.repay_all.clicked.connect(lambda: self.port.repay(None))
        actions.addWidget(self.finish, 1)
        actions.addWidget(self.repay_all, 2)
        self.root.addLayout(actions)
        self._charges: list[str] = []
        self._for_family = False

    def _finish(self) -> None:
        """完成 ends the visit; on a family member's statement it is 返回, to the list."""
        if self._for_family:
            self.port.family_back()
        else:
            self.port.cancel()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """At least one charge stays in view whatever the text size."""
        self.list.keep_in_view(self.total)
        super().resizeEvent(event)

    def _repay_row(self, index: int) -> None:
        if index < len(self._charges):
            self.port.repay(self._charges[index])

    def render(self, view: FlowView) -> None:
        lang = self.lang
        statement = view.statement if view.state == State.OWED else None
        self._for_family = statement is not None and view.paying_for is not None
        self.family.setVisible(statement is not None and bool(view.family))
        self.family.setText(tr("family.pay_for", lang, n=len(view.family)))
        if statement is None:  # how to identify: the tiles below
            self.title.setText(tr("ui.owed", lang))
            self._put_guidance("owed.identify", warn=False)
            self.finish.setText(tr("way.start", lang))
            self._show([], can_repay=False, outstanding=None)
            return
        self.title.setText(tr("family.paying_for", lang, name=view.paying_for.name_masked)
                           if view.paying_for is not None
                           else tr("owed.title", lang, name=statement.patient.name_masked))
        key = view.guidance
        if key in QUIET:
            key = "" if statement.can_repay else "owed.no_repay"
        self._put_guidance(key, warn=view.guidance in NOTICES)
        self.finish.setText(tr("family.back" if self._for_family else "ui.finish", lang))
        self._show(list(statement.charges),
                   can_repay=statement.can_repay and statement.outstanding_fen > 0,
                   outstanding=statement.outstanding_fen if statement.charges else None)

    def _put_guidance(self, key: str, *, warn: bool) -> None:
        self.guidance.setText(tr(key, self.lang) if key else "")
        self.guidance.setVisible(bool(key))
        set_style_property(self.guidance, "tone", "warn" if warn else "")

    def _show(self, charges: list[KioskOwedCharge], *, can_repay: bool,
              outstanding: int | None) -> None:
        lang = self.lang
        self.total.setVisible(outstanding is not None)
        self.total.setText(tr("owed.total", lang, amount=yuan(outstanding, lang))
                           if outstanding is not None else "")
        self.list.setVisible(bool(charges))
        self.root.setStretch(self._spare, 0 if charges else 1)
        self._charges = [c.settlement_id for c in charges]
        for i, charge in enumerate(charges):
            _, label, repay_one = self.list.row(i)
            key = "owed.charge_overdue" if charge.overdue else "owed.charge"
            label.setText(tr(key, lang, receipt=charge.receipt_no,
                             amount=yuan(charge.owed_fen, lang),
                             date=day_text(charge.due_date, lang)))
            set_style_property(label, "tone", "warn" if charge.overdue else "")
            repay_one.setText(tr("owed.repay_one", lang))
            repay_one.setVisible(can_repay and len(charges) > 1)
        self.list.show_rows(len(charges))
        self.repay_all.setVisible(can_repay)
        if can_repay and outstanding is not None:
            self.repay_all.setText(tr("owed.repay_all", lang, amount=yuan(outstanding, lang)))

    def clear(self) -> None:
        self._charges = []
        self._for_family = False
        self.title.setText("")
        self.family.setText("")
        self.family.setVisible(False)
        self.total.setText("")
        self.list.clear()
