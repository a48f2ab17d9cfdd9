"""Result: paid (or recorded offline), the patient's part, the settlement number, and the
receipt as printed while the printer is printing it."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QVBoxLayout, QWidget

from kiosk.flow.machine import FlowView
from ui.i18n import tr, yuan
from ui.port import KioskPort
from ui.receipt_view import ReceiptRenderer, receipt_for
from ui.screens.base import Screen, button, set_style_property, text_label


class FitImage(QWidget):
    """An image scaled to fit, aspect kept, on a white card (like the paper)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 160)

    def sizeHint(self) -> QSize:
        return QSize(300, 480)

    def set_image(self, image: QImage | None) -> None:
        self.image = image
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.image is None or self.image.isNull():
            return
        scale = min(self.width() / self.image.width(), self.height() / self.image.height())
        w, h = self.image.width() * scale, self.image.height() * scale
        target = QRectF((self.width() - w) / 2, 0, w, h)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(target, QColor("#FFFFFF"))
        painter.drawImage(target, self.image)
        painter.end()


class ResultScreen(Screen):
    def __init__(self, port: KioskPort, parent: QWidget | None = None) -> None:
        super().__init__(port, parent)
        self.renderer = ReceiptRenderer(self)
        self.renderer.ready.connect(self._receipt_ready)
        self.renderer.failed.connect(self._receipt_failed)
        self._ticket = -1
        self._rendered_for: tuple[object, ...] | None = None
        body = self.flip(QHBoxLayout())
        info = QVBoxLayout()
        self.title = text_label("title")
        self.amount = text_label("body")
        self.reference = text_label("body", tone="muted")
        self.printing = text_label("body")
        self.receipt_note = text_label("small", tone="muted")
        info.addStretch(1)
        for widget in (self.title, self.amount, self.reference, self.printing,
                       self.receipt_note):
            info.addWidget(widget)
            info.addSpacing(8)
        info.addStretch(1)
        self.finish = button("primary", "finish")
        self.finish.clicked.connect(self.port.cancel)
        info.addWidget(self.finish)
        body.addLayout(info, 3)
        self.receipt = FitImage()
        body.addWidget(self.receipt, 2)
        self.root.addLayout(body, 1)

    def render(self, view: FlowView) -> None:
        lang = self.lang
        result = view.result
        settled_all = result is not None and result.status == "settled"
        self.title.setText(tr(view.guidance, lang))
        set_style_property(self.title, "tone", "good" if settled_all else "warn")
        self.amount.setText(tr("done.self_pay", lang, amount=yuan(result.self_pay_fen, lang))
                            if result else "")
        if result and result.settlement_id:
            self.reference.setText(tr("done.settlement_no", lang, id=result.settlement_id))
        elif result:
            self.reference.setText(tr("done.reference", lang,
                                      id=str(result.receipt.get("settlement_id", ""))))
        self.printing.setText(tr("done.printing", lang))
        self.finish.setText(tr("ui.finish", lang))
        key = (result, view.quote, view.patient)
        if key != self._rendered_for:
            self._rendered_for = key
            self.receipt.set_image(None)
            self.receipt_note.setText("")
            receipt = receipt_for(view)
            if receipt is None:
                self.receipt_note.setText(tr("done.receipt_unavailable", lang))
            else:
                self._ticket = self.renderer.request(receipt)

    def _receipt_ready(self, ticket: int, image: QImage) -> None:
        if ticket == self._ticket:
            self.receipt.set_image(image)

    def _receipt_failed(self, ticket: int) -> None:
        if ticket == self._ticket:
            self.receipt_note.setText(tr("done.receipt_unavailable", self.lang))

    def clear(self) -> None:
        self.renderer.cancel()
        self._ticket = -1
        self._rendered_for = None
        self.receipt.set_image(None)
        for widget in (self.amount, self.reference, self.receipt_note):
            widget.setText("")

