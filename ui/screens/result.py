"""Result: paid (or recorded offline), the 凭条号 large (what the counter looks a payment up
by), the patient's part, what went on credit and when it is due, what is owed in all, what is
still to pay after a partial checkout; the settlement id in small print; and the receipt as
printed while the printer is printing it. Every figure is the printed slip's."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from device.printer import Receipt
from kiosk.flow.machine import FlowView
from kiosk.i18n import tr, yuan
from ui.port import KioskPort
from ui.receipt_view import ReceiptRenderer, receipt_for
from ui.screens.base import Screen, button, set_style_property, text_label

RECEIPT_ASPECT = 0.5  # a slip is about twice as long as it is wide (until its image is made)
QWIDGETSIZE_MAX = (1 << 24) - 1


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
        self._slip: Receipt | None = None  # the result's receipt, parsed once per result
        body = self.flip(QHBoxLayout())
        info = QVBoxLayout()
        self.title = text_label("title")
        self.receipt_caption = text_label("body", tone="muted", wrap=False)
        self.receipt_no = text_label("hero", wrap=False)  # short: a line of its own each
        number = QHBoxLayout()  # caption beside the number: one line, not two
        number.addStretch(1)
        number.addWidget(self.receipt_caption)
        number.addWidget(self.receipt_no)
        number.addStretch(1)
        self.amount = text_label("body")
        self.credit = text_label("body")
        self.owed = text_label("body")
        self.repay_hint = text_label("small", tone="muted")
        self.unpaid = text_label("body", tone="warn")
        self.printing = text_label("body")
        self.reference = text_label("small", tone="muted")
        self.receipt_note = text_label("small", tone="muted")
        info.setSpacing(6)  # between visible lines only: most credit lines are often hidden
        info.addStretch(1)
        info.addWidget(self.title)
        info.addLayout(number)
        for widget in (self.amount, self.credit, self.owed, self.repay_hint, self.unpaid,
                       self.printing, self.receipt_note):
            info.addWidget(widget)
        info.addStretch(1)
        self.finish = button("primary", "finish")
        self.finish.clicked.connect(self.port.cancel)
        self._closing = QHBoxLayout()  # the small print beside Done: no line of its own
        self._closing.addWidget(self.reference, 2)
        self._closing.addWidget(self.finish, 1)
        self._info = info  # Done closes the words beside the slip, the screen under it
        body.addLayout(info, 1)
        self.receipt = FitImage()
        body.addWidget(self.receipt)
        self._body = body
        self.root.addLayout(body, 1)
        self.set_landscape(True)

    def set_landscape(self, landscape: bool) -> None:
        """Landscape: the words beside the slip, the slip only as wide as its paper at the
        screen's height. Portrait: the words above, the slip as large as the height left."""
        super().set_landscape(landscape)
        self._info.removeItem(self._closing)
        self.root.removeItem(self._closing)
        (self._info if landscape else self.root).addLayout(self._closing)
        self._body.setStretch(0, 1 if landscape else 0)
        self._body.setStretch(1, 0 if landscape else 1)
        self._fit_receipt()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_receipt()

    def _fit_receipt(self) -> None:
        """Beside the words, the slip is as wide as its paper at this height, and shown only
        if the words still fit beside it (large text on a landscape screen: the words win,
        the paper is in the patient's hand)."""
        image = self.receipt.image
        aspect = image.width() / image.height() if image is not None and image.height() \
            else RECEIPT_ASPECT
        margins = self.root.contentsMargins()
        width = self.width() - margins.left() - margins.right()
        height = self.height() - margins.top() - margins.bottom()
        if self._body.direction() != QBoxLayout.Direction.LeftToRight:
            self.receipt.setMaximumWidth(QWIDGETSIZE_MAX)
            words = (self._info.totalHeightForWidth(width)
                     + self._closing.totalHeightForWidth(width) + 2 * self.root.spacing())
            self.receipt.setVisible(height - words >= height // 4)
            return
        slip = max(self.receipt.minimumWidth(), round(height * aspect))
        self.receipt.setMaximumWidth(slip)
        words = self._info.totalHeightForWidth(width - slip - self._body.spacing())
        self.receipt.setVisible(words <= height)

    def render(self, view: FlowView) -> None:
        lang = self.lang
        result = view.result
        settled_all = result is not None and result.status == "settled"
        self.title.setText(tr(view.guidance, lang))
        set_style_property(self.title, "tone", "good" if settled_all else "warn")
        self._put(self.amount, tr("done.self_pay", lang, amount=yuan(result.self_pay_fen, lang))
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
            self._slip = receipt_for(view)
            if self._slip is None:
                self.receipt_note.setText(tr("done.receipt_unavailable", lang))
            else:
                self._ticket = self.renderer.request(self._slip)
        self._show_terms(self._slip, lang)
        self.receipt_note.setVisible(bool(self.receipt_note.text()))
        if self._slip is not None:  # issued_at is in the site's zone ([site] timezone)
            self.reference.setText(
                f"{self.reference.text()}  {self._slip.issued_at:%Y-%m-%d %H:%M}")

    def _show_terms(self, receipt: Receipt | None, lang: str) -> None:
        """The slip's receipt numbers and credit terms, in the screen's language."""
        for widget in (self.receipt_caption, self.receipt_no, self.credit, self.owed,
                       self.repay_hint, self.unpaid):
            widget.setText("")
            widget.setVisible(False)
        if receipt is None:
            return
        if receipt.receipt_nos:  # none while queued: the slip says pending
            self._put(self.receipt_caption, tr("done.receipt_no", lang))
            self._put(self.receipt_no, "\n".join(receipt.receipt_nos))
        if receipt.credit_fen:
            if receipt.credit_fen == receipt.self_pay_fen:  # the credit line says it all
                self._put(self.amount, "")
            amount = yuan(receipt.credit_fen, lang)
            due = receipt.credit_due_date
            self._put(self.credit, tr("done.credit_due", lang, amount=amount,
                                      date=day_text(due, lang)) if due else
                      tr("done.credit_due_pending", lang, amount=amount))
            hint = receipt.repay_hint
            self._put(self.repay_hint, hint[1 if lang == "en" else 0] if len(hint) == 2 else "")
        if receipt.credit_outstanding_fen is not None:
            self._put(self.owed, tr("done.credit_owed", lang,
                                    amount=yuan(receipt.credit_outstanding_fen, lang)))
        if receipt.unpaid_fen:
            self._put(self.unpaid, tr("done.unpaid", lang, amount=yuan(receipt.unpaid_fen, lang)))

    @staticmethod
    def _put(widget: QLabel, text: str) -> None:
        widget.setText(text)
        widget.setVisible(bool(text))

    def _receipt_ready(self, ticket: int, image: QImage) -> None:
        if ticket == self._ticket:
            self.receipt.set_image(image)
            self._fit_receipt()

    def _receipt_failed(self, ticket: int) -> None:
        if ticket == self._ticket:
            self.receipt_note.setText(tr("done.receipt_unavailable", self.lang))
            self.receipt_note.setVisible(True)

    def clear(self) -> None:
        self.renderer.cancel()
        self._ticket = -1
        self._rendered_for = None
        self._slip = None
        self.receipt.set_image(None)
        for widget in (self.amount, self.reference, self.receipt_note, self.receipt_caption,
                       self.receipt_no,
                       self.credit, self.owed, self.repay_hint, self.unpaid):
            widget.setText("")


def day_text(day: dt.date, lang: str) -> str:
    """A due date as a patient reads it: 2024年7月1日 / 2024-07-01."""
    return tr("done.date", lang, year=day.year, month=day.month, day=day.day,
              iso=day.isoformat())
