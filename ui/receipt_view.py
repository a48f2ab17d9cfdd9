"""The receipt on the result screen: the same ``device.printer`` rendering as the paper slip,
made on a worker thread (font loading and drawing take longer than a frame)."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from device.errors import DeviceError
from device.printer import Receipt, render_image
from kiosk.flow.machine import FlowView

log = logging.getLogger(__name__)

def receipt_for(view: FlowView) -> Receipt | None:
    """The slip of a finished checkout, exactly as the runtime printed it (None if none)."""
    if view.result is None:
        return None
    try:
        return Receipt.from_dict(view.result.receipt)
    except DeviceError as exc:
        log.warning("receipt.unavailable", extra={"code": exc.code})
        return None


def to_qimage(receipt: Receipt) -> QImage:
    image = render_image(receipt)  # PIL "L"
    data = image.tobytes()
    return QImage(data, image.width, image.height, image.width,
                  QImage.Format.Format_Grayscale8).copy()


class ReceiptRenderer(QObject):
    """``request(receipt)`` renders in the background; ``ready(ticket, image)`` follows on
    the GUI thread. Only the latest ticket matters: callers ignore older ones."""

    ready = Signal(int, QImage)
    failed = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ticket = 0

    def request(self, receipt: Receipt) -> int:
        self.ticket += 1
        ticket = self.ticket
        threading.Thread(target=self._render, args=(ticket, receipt), name="receipt-render",
                         daemon=True).start()
        return ticket

    def cancel(self) -> None:
        self.ticket += 1

    def _render(self, ticket: int, receipt: Receipt) -> None:
        try:
            image = to_qimage(receipt)
        except (DeviceError, OSError, ValueError) as exc:
            log.warning("receipt.render_failed", extra={"error": type(exc).__name__})
            self._emit(self.failed, ticket)
            return
        self._emit(self.ready, ticket, image)

    @staticmethod
    def _emit(signal: Signal, *args: object) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the screen was closed meanwhile
            log.debug("receipt dropped: renderer deleted")
