"""Device error types with stable dotted codes.

Mirrors ``kiosk.errors`` (which this layer may not import): every error carries a ``code``
that never changes meaning once released and a ``context`` of safe, loggable details (no PII).
Families whose members differ only by cause (e-voucher rejections, card frame faults) take the
code as an argument, like ``kiosk.errors.ImageError``.
"""

from __future__ import annotations

from typing import Any


class DeviceError(Exception):
    """Base of all device errors."""

    code = "device.error"

    def __init__(self, message: str, *, code: str | None = None, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.context = context

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.context}


class DeviceConfigError(DeviceError):
    """A device named in the config cannot be built (unknown driver, missing path...)."""

    code = "device.config_invalid"


# Cameras


class CameraError(DeviceError):
    code = "camera.error"


class CameraUnavailable(CameraError):
    """The source cannot be opened (unplugged, wrong index, missing file, bad URL)."""

    code = "camera.unavailable"


class CameraDisconnected(CameraError):
    """An open source stopped giving frames; the frame source reconnects."""

    code = "camera.disconnected"


class CameraEnded(CameraError):
    """A finite source (file, folder) reached its end and is not looping."""

    code = "camera.ended"


# Scanners and e-vouchers


class ScannerError(DeviceError):
    code = "scanner.error"


class ScannerUnavailable(ScannerError):
    code = "scanner.unavailable"


class EVoucherError(DeviceError):
    """A scanned payload that is not a usable e-voucher; ``code`` says why (see docs/evoucher.md).

    Messages never repeat the scanned text: it may be anything, including someone's data.
    """

    code = "evoucher.invalid"


# Card readers


class CardReaderError(DeviceError):
    code = "card.error"


class CardReaderUnavailable(CardReaderError):
    """The reader cannot be opened or stopped answering (unplugged, wrong port)."""

    code = "card.reader_unavailable"


class CardTimeout(CardReaderError):
    """The reader is connected but sent no answer in time."""

    code = "card.timeout"


class NoCard(CardReaderError):
    code = "card.no_card"


class CardDataError(CardReaderError):
    """Bytes from the reader that are not a valid answer; ``code`` names the fault."""

    code = "card.frame_garbled"


# Printers and receipts


class PrinterError(DeviceError):
    code = "printer.error"


class PrinterOffline(PrinterError):
    """Cannot reach the printer, or it vanished mid-job; the receipt stays spooled."""

    code = "printer.offline"


class PrinterOutOfPaper(PrinterError):
    code = "printer.out_of_paper"


class ReceiptError(DeviceError):
    code = "receipt.invalid"


class ReceiptNotFound(ReceiptError):
    code = "receipt.not_found"
