"""Receipt -> ESC/POS bytes, built with python-escpos against its in-memory ``Dummy`` printer.

Rendering is a pure function of the receipt, so a reprint sends exactly the bytes the first
print did (plus a REPRINT line) and tests can compare output byte for byte.

Chinese text: the printer is put in Kanji mode (``FS &``) once and every text line is sent as
GB18030 bytes. python-escpos's own ``text()`` only switches to GB18030 for lines containing
characters in U+4E00-U+9FA5 and otherwise hunts single-byte code pages, which turns lines like
"￥" or "（）" alone into "?"; so text goes out through one explicit encoder here, while sizes,
alignment, QR codes and the cut use the library's commands. Printers whose firmware only has a
GBK font will print rare characters outside GBK as blanks.
"""

from __future__ import annotations

from escpos.printer import Dummy

from device.errors import DeviceConfigError
from device.printer.layout import Row, pair_lines, receipt_rows, wrap
from device.printer.receipt import Receipt

KANJI_MODE_ON = b"\x1c\x26"  # FS &: two-byte (GB18030/GBK) characters from here on
QR_MODULE_DOTS = 6  # about 3 cm wide for a settlement id on a 203 dpi head


def memory_printer(profile: str) -> Dummy:
    """An in-memory python-escpos printer; ``DeviceConfigError`` for an unknown profile."""
    try:
        return Dummy(profile=profile)
    except KeyError as exc:
        raise DeviceConfigError(f"unknown printer profile {profile!r} (see python-escpos "
                                "capability profiles)", profile=profile) from exc


def render_escpos(receipt: Receipt, *, profile: str = "default", columns: int = 0,
                  reprint: bool = False) -> bytes:
    printer = memory_printer(profile)
    width = columns or int(printer.profile.get_columns("a"))
    printer.hw("INIT")
    printer._raw(KANJI_MODE_ON)
    for row in receipt_rows(receipt, reprint=reprint):
        _row(printer, row, width)
    printer.cut()
    return printer.output


def _line(printer: Dummy, text: str) -> None:
    printer._raw(text.encode("gb18030") + b"\n")


def _row(printer: Dummy, row: Row, width: int) -> None:
    if row.kind in ("title", "big"):  # double width and height
        printer.set(align="center", bold=True, custom_size=True, width=2, height=2)
        for part in wrap(row.left, width // 2):
            _line(printer, part)
        printer.set(align="left", bold=False, custom_size=True, width=1, height=1)
    elif row.kind == "small":  # font B where the printer has one (narrower than font A)
        font_b = "1" in printer.profile.fonts
        printer.set(align="center", **({"font": "b"} if font_b else {}))
        for part in wrap(row.left, width):
            _line(printer, part)
        printer.set(align="left", **({"font": "a"} if font_b else {}))
    elif row.kind == "center":
        printer.set(align="center")
        for part in wrap(row.left, width):
            _line(printer, part)
        printer.set(align="left")
    elif row.kind == "pair":
        for part in pair_lines(row.left, row.right, width):
            _line(printer, part)
    elif row.kind == "rule":
        _line(printer, "-" * width)
    elif row.kind == "qr":
        native = printer.profile.supports("qrCode")
        if native:  # printer-side rendering: a few bytes instead of a raster image
            printer.set(align="center")
        printer.qr(row.left, size=QR_MODULE_DOTS, native=native, center=not native)
        if native:
            printer.set(align="left")
