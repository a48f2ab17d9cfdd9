"""Fallback: the checkout could not finish here (face not recognised, a head turn missed, a
card not opened for credit pay, credit refused, the platform unreachable...) or there is
simply nothing to pay. Says why in plain words, and offers as real buttons only the ways
forward that work for that reason (``kiosk.flow.ways``): try the face again, the card, the
e-voucher, call staff (the hand-off tells them which kiosk), back to the start."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from kiosk.flow.machine import FlowView
from kiosk.flow.ways import NOTICES, Way
from kiosk.i18n import tr
from ui.port import KioskPort
from ui.screens.base import Screen, TileButton, text_label


class FallbackScreen(Screen):
    title_key = "fallback.title"
    way_chosen = Signal(str)  # a Way value: the window carries out card / voucher hints

    def __init__(self, port: KioskPort, parent: QWidget | None = None) -> None:
        super().__init__(port, parent)
        self.title = text_label("title")
        self.message = text_label("guidance")
        self.next_step = text_label("body", tone="muted")
        self.code = text_label("small", tone="muted")
        self.root.addStretch(1)
        for widget in (self.title, self.message, self.next_step):
            self.root.addWidget(widget)
        self.root.addSpacing(12)
        self.grid = QGridLayout()
        self.columns = 3  # landscape; two on a portrait screen
        self.buttons: dict[Way, TileButton] = {}
        for way in Way:
            tile = TileButton(f"way_{way.value}")
            tile.clicked.connect(lambda _=False, w=way: self._chosen(w))
            tile.setVisible(False)  # only the ways of the reason on screen take room
            self.buttons[way] = tile
        self.root.addLayout(self.grid)
        self.root.addStretch(1)
        self.root.addWidget(self.code)
        self._called = False

    def set_landscape(self, landscape: bool) -> None:
        super().set_landscape(landscape)
        self.columns = 3 if landscape else 2
        self._place([w for w, b in self.buttons.items() if not b.isHidden()])

    def _place(self, ways: list[Way]) -> None:
        """The ways on screen, in order, as a grid (never one long row or column)."""
        for tile in self.buttons.values():
            self.grid.removeWidget(tile)
        for i, way in enumerate(ways):
            self.grid.addWidget(self.buttons[way], i // self.columns, i % self.columns)

    def _chosen(self, way: Way) -> None:
        if way is Way.FACE_AGAIN:
            self.port.start_face()
        elif way is Way.CASHIER:
            self.port.call_cashier()
        elif way is Way.START:
            self.port.cancel()
        self.way_chosen.emit(way.value)

    def render(self, view: FlowView) -> None:
        notice = view.reason in NOTICES
        self.title.setText(tr("notice.title" if notice else self.title_key, self.lang))
        self.message.setText(tr(view.reason or view.guidance, self.lang))
        # once called, the staff button itself says so: one sentence less on the screen
        said_by_button = view.cashier_called and Way.CASHIER in view.ways
        self.next_step.setText("" if said_by_button else tr(view.guidance, self.lang))
        self.next_step.setVisible(not said_by_button)
        self._place(list(view.ways))
        for way, tile in self.buttons.items():
            tile.setVisible(way in view.ways)
            called = way is Way.CASHIER and view.cashier_called
            tile.set_caption(tr("way.cashier_called" if called else f"way.{way.value}",
                                self.lang))
            tile.setEnabled(not called)
        self.code.setText(tr("ui.code", self.lang, code=view.reason) if view.reason else "")

    def clear(self) -> None:
        for tile in self.buttons.values():
            tile.setVisible(False)
