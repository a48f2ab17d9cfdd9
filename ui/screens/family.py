"""为家人还款 (亲情付): the patients who let the person at the kiosk pay for them — each one's
masked name, what the person is to them, and what they owe — one finger-scrolled list with
a button per patient who owes something; 返回 goes back to one's own statement, 完成 ends.
A withdrawal noticed meanwhile is said here in amber (the patient has left the list)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QScroller,
    QVBoxLayout,
    QWidget,
)

from kiosk.flow.family import FamilyMember
from kiosk.flow.machine import FlowView
from kiosk.i18n import tr, yuan
from ui.port import KioskPort
from ui.screens.base import Screen, button, set_style_property, text_label

LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
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
        self.lines = QWidget()
        self._list = QVBoxLayout(self.lines)
        self._list.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.lines)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        QScroller.grabGesture(self.scroll.viewport(),
                              QScroller.ScrollerGestureType.LeftMouseButtonGesture)
        self.root.addWidget(self.scroll, 1)
        self.rows: list[tuple[QWidget, QLabel, QPushButton]] = []
        actions = QHBoxLayout()
        self.back = button(name="family_back")
        self.back.clicked.connect(self.port.family_back)
        self.finish = button(name="finish")
        self.finish.clicked.connect(self.port.cancel)
        actions.addWidget(self.back, 1)
        actions.addWidget(self.finish, 1)
        self.root.addLayout(actions)
        self._ids: list[str] = []
        self._landscape = True

    def resizeEvent(self, event: QResizeEvent) -> None:
        """The list gives way to a notice, down to one line of it in view (it scrolls)."""
        self.scroll.setMinimumHeight(self.guidance.fontMetrics().lineSpacing() * 2 + 8)
        super().resizeEvent(event)

    def set_landscape(self, landscape: bool) -> None:
        self._landscape = landscape  # rows made later take the same direction
        super().set_landscape(landscape)

    def _row(self, index: int) -> tuple[QWidget, QLabel, QPushButton]:
        while len(self.rows) <= index:
            row = QWidget()
            line = self.flip(QHBoxLayout(row))  # portrait: the button under its words
            line.setContentsMargins(0, 0, 0, 8)
            if not self._landscape:
                line.setDirection(QBoxLayout.Direction.TopToBottom)
            label = text_label("body", align=LEFT)
            choose = button("primary")
            position = len(self.rows)
            choose.clicked.connect(lambda _=False, i=position: self._choose(i))
            line.addWidget(label, 3)
            line.addWidget(choose, 1)
            self._list.insertWidget(len(self.rows), row)
            self.rows.append((row, label, choose))
        return self.rows[index]

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
            _, label, choose = self._row(i)
            label.setText(member_text(member, lang))
            choose.setText(tr("family.choose_one", lang))
            choose.setVisible(member.outstanding_fen > 0)
        for i, (row, _, _) in enumerate(self.rows):
            row.setVisible(i < len(members))

    def clear(self) -> None:
        self._ids = []
        for _, label, _ in self.rows:
            label.setText("")
