"""Receipt -> image (PNG) or PDF, drawn from the same rows as the paper slip.

For the kiosk screen ("your receipt"), for patients who decline paper, and for tests that
check what a person would see. Width defaults to an 80 mm head at 203 dpi (576 dots), so the
image is the slip at its real size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from common.fonts import cjk_font
from device.printer.layout import Row, receipt_rows
from device.printer.receipt import Receipt

WIDTH_PX = 576
DPI = 203
MARGIN = 16
TEXT_PX = 22
TITLE_PX = 34
BIG_PX = 40  # the 凭条号
SMALL_PX = 16  # small print: the settlement id
LINE_GAP = 6
QR_MODULE_PX = 6
ROW_PX = {"title": TITLE_PX, "big": BIG_PX, "small": SMALL_PX}  # the rest: TEXT_PX


def _font(size: int) -> ImageFont.FreeTypeFont:
    return cjk_font().truetype(size)


def qr_image(text: str, module_px: int = QR_MODULE_PX) -> Image.Image:
    """The settlement QR, by zxing-cpp (the same library that decodes scans)."""
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
    return Image.fromarray(np.asarray(code.to_image(scale=module_px)), mode="L")


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont,
          width: float) -> list[str]:
    lines, current = [], ""
    for char in text:
        if current and draw.textlength(current + char, font=font) > width:
            lines.append(current)
            current = ""
        current += char
    return [*lines, current]


def render_image(receipt: Receipt, *, width_px: int = WIDTH_PX, reprint: bool = False
                 ) -> Image.Image:
    rows = receipt_rows(receipt, reprint=reprint)
    height = _draw_rows(Image.new("L", (width_px, 1), 255), rows)  # measure: clipped draw
    canvas = Image.new("L", (width_px, height), 255)
    _draw_rows(canvas, rows)
    return canvas


def _draw_rows(canvas: Image.Image, rows: list[Row]) -> int:
    draw = ImageDraw.Draw(canvas)
    y = MARGIN
    for row in rows:
        y = _draw_row(canvas, draw, row, y, canvas.width)
    return y + MARGIN


def _draw_row(canvas: Image.Image, draw: ImageDraw.ImageDraw, row: Row, y: int,
              width_px: int) -> int:
    usable = width_px - 2 * MARGIN
    font = _font(ROW_PX.get(row.kind, TEXT_PX))
    height = font.size + LINE_GAP
    if row.kind in ("title", "big", "center", "small"):
        for line in _wrap(draw, row.left, font, usable):
            x = (width_px - draw.textlength(line, font=font)) / 2
            draw.text((x, y), line, font=font, fill=0)
            y += height
        return y
    if row.kind == "rule":
        middle = y + height // 2
        draw.line((MARGIN, middle, width_px - MARGIN, middle), fill=0, width=2)
        return y + height
    if row.kind == "qr":
        code = qr_image(row.left)
        canvas.paste(code, ((width_px - code.width) // 2, y))
        return y + code.height + LINE_GAP
    right_w = draw.textlength(row.right, font=font)
    left_lines = _wrap(draw, row.left, font, usable)
    if draw.textlength(left_lines[-1], font=font) + right_w + font.size > usable:
        left_lines.append("")  # no room beside the last line: amount on a line of its own
    for line in left_lines[:-1]:
        draw.text((MARGIN, y), line, font=font, fill=0)
        y += height
    draw.text((MARGIN, y), left_lines[-1], font=font, fill=0)
    draw.text((width_px - MARGIN - right_w, y), row.right, font=font, fill=0)
    return y + height


def save_png(receipt: Receipt, path: str | Path, *, reprint: bool = False) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render_image(receipt, reprint=reprint).save(path, "PNG", dpi=(DPI, DPI))
    return path


def save_pdf(receipt: Receipt, path: str | Path, *, reprint: bool = False) -> Path:
    """A one-page PDF at the slip's real size (raster: exact same pixels as the PNG)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render_image(receipt, reprint=reprint).save(path, "PDF", resolution=DPI)
    return path
