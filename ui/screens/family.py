"""为家人还款 (亲情付): the patients who let the person at the kiosk pay for them — each one's
masked name, what the person is to them, and what they owe — one finger-scrolled list with
a button per patient who owes something; 返回 goes back to one's own statement, 完成 ends.
A withdrawal noticed meanwhile is said here in amber (the patient has left the list)."""

from __future__ import annotations

from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QWidget,
)

from kiosk.flow.family import FamilyMember
from kiosk.flow.machine import FlowView
from kiosk.i18n import tr, yuan
from ui.port import KioskPort
from ui.screens.base import Screen, button, set_style_property, text_label
from ui.screens.rows import RowList

NOTICES = frozenset({"family.withdrawn"})


def member_text(member: FamilyMember, lang: str) -> str:
    """One line of the list: "陈*　您是其子女　欠款 ¥280.00"."""
    relation = tr(f"relation.{member.relation}", lang)
    if lang == "en":
        relation = relation.lower()
    if not member.outstanding_fen:
        return tr("family.member_clear", lang, name=member.patient.name_masked,
                  relation=relation)
    return tr("family.member", lang, name=member.patient.name_masked, relation=relation,
              amount=yuan(member.outstanding_fen, lang))


class FamilyScreen(Screen):
    def __init__(self, port: KioskPort, parent: QWidget | None = None) -> None:
        super().__init__(port, parent)
        self.title = text_label("title")
        self.guidance = text_label("guidance")
        self.root.addWidget(self.title)
        self.root.addWidget(self.guidance)
        self.list = RowList("primary", self._choose, flip=self.flip, row_gap=8)
        self.rows = self.list.rows
        self.root.addWidget(self.list, 1)
        actions = QHBoxLayout()
        self.back = button(name="family_back")
        self.back.clicked.connect(self.port.family_back)
        self.finish = button(name="finish")
        self.finish.clicked.connect(self.port.cancel)
        actions.addWidget(self.back, 1)
        actions.addWidget(self.finish, 1)
        self.root.addLayout(actions)
        self._ids: list[str] = []

    def resizeEvent(self, event: QResizeEvent) -> None:
        """The list gives way to a notice, down to one line of it in view (it scrolls)."""
        self.list.keep_in_view(self.guidance)
        super().resizeEvent(event)

    def _choose(self, index: int) -> None:
        if index < len(self._ids):
            self.port.choose_dependant(self._ids[index])

    def render(self, view: FlowView) -> None:
        lang = self.lang
        self.title.setText(tr("family.title", lang))
        self.guidance.setText(tr(view.guidance, lang))
        set_style_property(self.guidance, "tone", "warn" if view.guidance in NOTICES else "")
        self.back.setText(tr("family.back", lang))
        self.finish.setText(tr("ui.finish", lang))
        members = list(view.family)
        self._ids = [m.patient.patient_id for m in members]
        for i, member in enumerate(members):
            _, label, choose = self.list.row(i)
            label.setText(member_text(member, lang))
            choose.setText(tr("family.choose_one", lang))
            choose.setVisible(member.outstanding_fen > 0)
        self.list.show_rows(len(members))

    def clear(self) -> None:
        self._ids = []
        self.list.clear()
