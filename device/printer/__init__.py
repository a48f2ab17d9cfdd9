"""Receipt printing: ESC/POS via python-escpos, PNG/PDF renderings, and a reprint spool."""

from __future__ import annotations

from device.printer.escpos_render import render_escpos
from device.printer.image_render import render_image, save_pdf, save_png
from device.printer.receipt import LayerShare, Receipt, ReceiptLine, format_fen
from device.printer.receipt_printer import PrintResult, ReceiptPrinter, printer_test_slip
from device.printer.status import PrinterStatus

__all__ = ["LayerShare", "PrintResult", "PrinterStatus", "Receipt", "ReceiptLine",
           "ReceiptPrinter", "format_fen", "printer_test_slip", "render_escpos",
           "render_image", "save_pdf", "save_png"]
