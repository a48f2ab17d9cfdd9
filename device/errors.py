"""Device error types: ``CodedError`` subclasses whose ``code`` is a registry member
(``common.errors.ErrorCode``), with a ``context`` of safe, loggable details (no PII).
Families whose members differ only by cause (e-voucher rejections, card frame faults) take the
code as an argument (``code=ErrorCode...``).
"""

from __future__ import annotations

from common.errors import CodedError, ErrorCode


class DeviceError(CodedError):
    """Base of all device errors."""

    code = ErrorCode.DEVICE_ERROR


class DeviceConfigError(DeviceError):
    """A device named in the config cannot be built (unknown driver, missing path...)."""

    code = ErrorCode.DEVICE_CONFIG_INVALID


# Cameras


class CameraError(DeviceError):
    code = ErrorCode.CAMERA_ERROR


class CameraUnavailable(CameraError):
    """The source cannot be opened (unplugged, wrong index, missing file, bad URL)."""

    code = ErrorCode.CAMERA_UNAVAILABLE


class CameraDisconnected(CameraError):
    """An open source stopped giving frames; the frame source reconnects."""

    code = ErrorCode.CAMERA_DISCONNECTED


class CameraEnded(CameraError):
    """A finite source (file, folder) reached its end and is not looping."""

    code = ErrorCode.CAMERA_ENDED


# Scanners and e-vouchers


class ScannerError(DeviceError):
    code = ErrorCode.SCANNER_ERROR


class ScannerUnavailable(ScannerError):
    code = ErrorCode.SCANNER_UNAVAILABLE


# Card readers


class CardReaderError(DeviceError):
    code = ErrorCode.CARD_ERROR


class CardReaderUnavailable(CardReaderError):
    """The reader cannot be opened or stopped answering (unplugged, wrong port)."""

    code = ErrorCode.CARD_READER_UNAVAILABLE


class CardTimeout(CardReaderError):
    """The reader is connected but sent no answer in time."""

    code = ErrorCode.CARD_TIMEOUT


class NoCard(CardReaderError):
    code = ErrorCode.CARD_NO_CARD


class CardDataError(CardReaderError):
    """Bytes from the reader that are not a valid answer; ``code`` names the fault."""

    code = ErrorCode.CARD_FRAME_GARBLED


# Printers and receipts


class PrinterError(DeviceError):
    code = ErrorCode.PRINTER_ERROR


class PrinterOffline(PrinterError):
    """Cannot reach the printer, or it vanished mid-job; the receipt stays spooled."""

    code = ErrorCode.PRINTER_OFFLINE


class PrinterOutOfPaper(PrinterError):
    code = ErrorCode.PRINTER_OUT_OF_PAPER


class ReceiptError(DeviceError):
    code = ErrorCode.RECEIPT_INVALID


class ReceiptNotFound(ReceiptError):
    code = ErrorCode.RECEIPT_NOT_FOUND
