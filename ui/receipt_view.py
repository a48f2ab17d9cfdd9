"""The receipt on the result screen: the same ``device.printer`` rendering as the paper slip,
made on a worker thread (font loading and drawing take longer than a frame)."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from device.errors import DeviceError
from device.printer import BillLine, LayerShare, Receipt, render_image
from kiosk.flow.machine import FlowView
from kiosk.flow.model import LAYER_LABELS, Method

log = logging.getLogger(__name__)

RECEIPT_METHOD = {Method.FACE: "face", Method.CARD: "card", Method.VOUCHER: "evoucher"}


def receipt_for(view: FlowView, hospital: str, kiosk_id: str, issued_at: datetime
                ) -> Receipt | None:
    """The slip for a finished checkout: the runtime's own receipt if it sent a complete one,
    else built from what the patient confirmed; None if neither adds up."""
    result, quote, patient = view.result, view.quote, view.patient
    if result is None:
        return None
    try:
        return Receipt.from_dict(result.receipt)
    except DeviceError:
        pass  # not a full receipt (the runtime sends settlement ids only): build it
    if quote is None or patient is None:
        return None
    reference = result.settlement_id or str(result.receipt.get("reference", ""))[:64]
    try:
        return Receipt(
            hospital=hospital, kiosk_id=kiosk_id, issued_at=issued_at,
            patient_name=patient.name_masked,
            lines=tuple(BillLine(line.description[:64], line.amount_fen) for line in quote.lines),
            shares=tuple(LayerShare(LAYER_LABELS.get(name, name), fen)
                         for name, fen in quote.layers if name != "self_pay"),
            self_pay_fen=quote.self_pay_fen,
            method=RECEIPT_METHOD.get(view.method or Method.FACE, "face"),
            settlement_id=reference, pending=result.status == "queued")
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
