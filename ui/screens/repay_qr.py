"""The payment QR for a repayment: the amount, the QR (drawn by zxing-cpp, as the receipt's),
"scan with your phone", and a way back that closes it; then the outcome: checking, repaid
(what was paid and what is still owed). The top bar counts down the code's validity. Paying
for a family member (亲情付), the screen says whose debt it is first: "为 陈* 还款"."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QProgressBar, QSizePolicy, QWidget

from device.printer.image_render import qr_image
from kiosk.flow.machine import FlowView
from kiosk.flow.model import State
from kiosk.i18n import tr, yuan
from ui.port import KioskPort
from ui.screens.base import Screen, button, set_style_property, text_label


class QrView(QWidget):
    """A QR drawn as large as it fits, modules kept square and sharp (no smoothing)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.text = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 160)

    def sizeHint(self) -> QSize:
        return QSize(360, 360)

    def set_text(self, text: str) -> None:
        if text == self.text:
            return
        self.text = text
        self.image = None
        if text:
            code = qr_image(text, module_px=1)
            self.image = QImage(code.tobytes(), code.width, code.height, code.width,
                                QImage.Format.Format_Grayscale8).copy()
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.image is None:
            return
        modules = self.image.width()  # zxing-cpp's image has the quiet zone phones expect
        module = max(1, min(self.width(), self.height()) // modules)
        size = module * modules  # whole pixels per module: sharp edges
        x, y = (self.width() - size) // 2, (self.height() - size) // 2
        painter = QPainter(self)
        painter.drawImage(QRectF(x, y, size, size), self.image)
        painter.end()


class RepayQrScreen(Screen):
    def __init__(self, port: KioskPort, parent: QWidget | None = None) -> None:
        super().__init__(port, parent)
        self.payee = text_label("body")  # 亲情付: whose debt this is
        self.payee.setVisible(False)
        self.title = text_label("title")
        self.amount = text_label("hero")
        self.qr = QrView()
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.note = text_label("body", tone="muted")
        self.root.addWidget(self.payee)
        self.root.addWidget(self.title)
        self.root.addWidget(self.amount)
        self.root.addWidget(self.qr, 1)
        self.root.addWidget(self.busy)
        self.root.addWidget(self.note)
        self.back = button(name="repay_back")
        self.back.clicked.connect(self.port.cancel)
        self.root.addWidget(self.back)

    def render(self, view: FlowView) -> None:
        lang = self.lang
        order = view.repay_order
        self.payee.setText(tr("family.paying_for", lang, name=view.paying_for.name_masked)
                           if view.paying_for is not None else "")
        self.payee.setVisible(view.paying_for is not None)
        self.title.setText(tr(view.guidance, lang))
        paid = view.state == State.REPAID
        set_style_property(self.title, "tone", "good" if paid else "")
        amount_key = "repay.paid_amount" if paid else "repay.amount"
        self.amount.setText(tr(amount_key, lang, amount=yuan(order.amount_fen, lang))
                            if order else "")
        showing = view.state == State.REPAY_QR and order is not None and order.state == "open"
        self.qr.set_text(order.code_url if showing and order else "")
        self.qr.setVisible(showing)
        self.busy.setVisible(not showing and not paid)
        left = order.outstanding_fen if order and paid else None
        self.note.setText(tr("repay.left", lang, amount=yuan(left, lang))
                          if left is not None else "")
        self.note.setVisible(bool(self.note.text()))
        self.back.setText(tr("ui.finish" if paid else "repay.back", lang))
        self.back.setVisible(view.state != State.REPAY_CLOSING)

    def clear(self) -> None:
        self.payee.setText("")
        self.payee.setVisible(False)
        self.qr.set_text("")
        self.amount.setText("")
        self.note.setText("")
