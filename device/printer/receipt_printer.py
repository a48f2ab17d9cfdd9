"""The kiosk's receipt printer: spool first, then print, then confirm.

Order matters for "nothing lost": the receipt is written to the spool before any byte goes to
the printer; it is marked printed only after the job was written and (where the link can
answer) the printer still reports itself online. Any failure leaves it in ``unprinted()`` for
the cashier console to reprint.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from escpos.constants import RT_STATUS_ONLINE, RT_STATUS_PAPER
from escpos.escpos import Escpos
from escpos.exceptions import Error as EscposError

from common.errors import ErrorCode
from device.config import PrinterConfig
from device.errors import PrinterError, PrinterOffline, PrinterOutOfPaper
from device.health import DeviceHealth, HealthState, not_configured
from device.printer.escpos_render import memory_printer, render_escpos
from device.printer.receipt import LayerShare, Receipt, ReceiptLine
from device.printer.spool import ReceiptSpool
from device.printer.status import (
    UNKNOWN,
    PrinterStatus,
    online_from_reply,
    paper_from_reply,
)
from device.printer.transport import (
    can_read_status,
    check_spool_folder,
    describe,
    job_target,
    open_link,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrintResult:
    settlement_id: str
    bytes_sent: int
    destination: str
    status: PrinterStatus


def printer_test_slip(now: datetime, kiosk_id: str = "KIOSK") -> Receipt:
    """A slip exercising everything a receipt uses (Chinese, amounts, QR) that says it is a
    test; never spooled, so it cannot be mistaken for a settlement."""
    return Receipt(
        hospital="打印测试 Printer test", kiosk_id=kiosk_id, issued_at=now,
        patient_name="测试", lines=(ReceiptLine("检查费 Examination", 12000),
                                    ReceiptLine("西药费 Western medicine", 3450)),
        shares=(LayerShare("基本医疗保险", 9000), LayerShare("大病保险", 1450)),
        self_pay_fen=5000, method="cash",
        settlement_id=f"TEST-{now.strftime('%Y%m%d%H%M%S')}",
        extra=("打印机测试单 不作收费凭证", "Printer test - not a receipt"))


class ReceiptPrinter:
    device = "printer"

    def __init__(self, config: PrinterConfig) -> None:
        self.config = config
        memory_printer(config.profile)  # fail at start-up, not at the first patient's slip
        self.spool = ReceiptSpool(config.spool_dir, keep=config.keep_receipts)
        self._lock = threading.Lock()
        self._health = (not_configured("printer") if config.driver == "none" else
                        DeviceHealth("printer", HealthState.DEGRADED, ErrorCode.PRINTER_UNCHECKED,
                                     f"printer {describe(config)} not used yet"))

    def render(self, receipt: Receipt, *, reprint: bool = False) -> bytes:
        return render_escpos(receipt, profile=self.config.profile, columns=self.config.columns,
                             reprint=reprint)

    def print_receipt(self, receipt: Receipt) -> PrintResult:
        self.spool.save(receipt)
        return self._print_spooled(receipt, reprint=False)

    def reprint(self, settlement_id: str) -> PrintResult:
        """Print a kept receipt again (cashier console), marked REPRINT on the slip."""
        return self._print_spooled(self.spool.load(settlement_id), reprint=True)

    def print_test_slip(self, now: datetime, kiosk_id: str = "KIOSK") -> PrintResult:
        slip = printer_test_slip(now, kiosk_id)
        return self._send(self.render(slip), slip.settlement_id)

    def check(self) -> DeviceHealth:
        """Reach the printer now and ask its status where the link can answer."""
        if self.config.driver == "none":
            return self._health
        with self._lock:
            try:
                if check_spool_folder(self.config):
                    self._health = DeviceHealth("printer", HealthState.OK,
                                                ErrorCode.PRINTER_STATUS_UNKNOWN,
                                                "jobs are written to a folder")
                    return self._health
                printer = open_link(self.config, "status-check")
            except PrinterError as exc:
                return self._failed(exc)
            try:
                self._ready(printer)
            except PrinterError as exc:
                return self._failed(exc)
            except (OSError, EscposError) as exc:
                return self._failed(self._lost(exc))
            finally:
                _close(printer)
            return self._health

    def health(self) -> DeviceHealth:
        return self._health

    def _print_spooled(self, receipt: Receipt, *, reprint: bool) -> PrintResult:
        job = f"{receipt.settlement_id}-reprint" if reprint else receipt.settlement_id
        try:
            result = self._send(self.render(receipt, reprint=reprint), job)
        except PrinterError as exc:
            self.spool.mark(receipt.settlement_id, printed=False, error=exc.code)
            raise
        self.spool.mark(receipt.settlement_id, printed=True)
        return result

    def _send(self, data: bytes, job: str) -> PrintResult:
        with self._lock:
            try:
                printer = open_link(self.config, job)
            except PrinterError as exc:
                self._failed(exc)
                raise
            try:
                self._ready(printer)
                printer._raw(data)
                status = self._ready(printer)  # still there after the job?
            except PrinterError as exc:
                self._failed(exc)
                raise
            except (OSError, EscposError) as exc:
                error = self._lost(exc)
                self._failed(error)
                raise error from exc
            finally:
                _close(printer)
        destination = (str(job_target(self.config, job)) if self.config.driver == "file"
                       else describe(self.config))
        log.info("printed", extra={"device": "printer", "job": job, "bytes": len(data)})
        return PrintResult(job, len(data), destination, status)

    def _ready(self, printer: Escpos) -> PrinterStatus:
        """Query status (where possible) and refuse to go on if the printer cannot print."""
        if not (self.config.status_query and can_read_status(printer)):
            self._health = DeviceHealth("printer", HealthState.OK, ErrorCode.PRINTER_STATUS_UNKNOWN,
                                        "this link does not report printer status")
            return UNKNOWN
        online_reply = printer.query_status(RT_STATUS_ONLINE)
        if not online_from_reply(online_reply):
            raise PrinterOffline(f"printer {describe(self.config)} did not answer as online",
                                 printer=describe(self.config))
        status = PrinterStatus(True, paper_from_reply(printer.query_status(RT_STATUS_PAPER)))
        if status.paper == "out":
            raise PrinterOutOfPaper(f"printer {describe(self.config)} is out of paper",
                                    printer=describe(self.config))
        self._health = (DeviceHealth("printer", HealthState.DEGRADED, ErrorCode.PRINTER_PAPER_LOW,
                                     "paper is running out") if status.paper == "low"
                        else DeviceHealth("printer", HealthState.OK))
        return status

    def _lost(self, exc: BaseException) -> PrinterOffline:
        return PrinterOffline(f"printer {describe(self.config)} vanished mid-job: "
                              f"{type(exc).__name__}: {exc}", printer=describe(self.config))

    def _failed(self, exc: PrinterError) -> DeviceHealth:
        self._health = DeviceHealth("printer", HealthState.FAILED, exc.code, exc.message)
        log.warning("printer failed", extra={"device": "printer", "error": exc.code})
        return self._health


def _close(printer: Escpos) -> None:
    try:
        printer.close()
    except (OSError, EscposError):
        log.warning("printer close failed", extra={"device": "printer"})
