"""QR / barcode decoding from camera frames with zxing-cpp.

Decoding takes a few milliseconds per 640x480 frame (more for HD), so the scanner decodes only
the newest frame at ``decode_fps`` and leaves the CPU to the recogniser. It shares the kiosk's
``FrameSource``: one camera cannot be opened twice.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import zxingcpp

from device.camera.source import FrameSource
from device.errors import DeviceConfigError
from device.health import DeviceHealth
from device.scanner.base import Scan, Scanner

log = logging.getLogger(__name__)


def parse_formats(names: str) -> zxingcpp.BarcodeFormats:
    """"QRCode,Code128" -> zxing-cpp formats; a clear error for unknown names."""
    try:
        return zxingcpp.barcode_formats_from_str(names)
    except (ValueError, RuntimeError) as exc:
        raise DeviceConfigError(f"unknown barcode format in {names!r}: {exc}",
                                formats=names) from exc


def decode_codes(image: np.ndarray, formats: zxingcpp.BarcodeFormats) -> list[Scan]:
    """Every valid code in a BGR or grey image, in zxing-cpp's order."""
    found = zxingcpp.read_barcodes(image, formats=formats)
    return [Scan(code.text, "camera", symbology=str(code.format)) for code in found
            if code.valid and code.text]


class CameraScanner(Scanner):
    def __init__(self, source: FrameSource, *, formats: str = "QRCode",
                 decode_fps: float = 10.0, owns_source: bool = False) -> None:
        self.source = source
        self.formats = parse_formats(formats)
        self.interval_s = 1.0 / decode_fps
        self.owns_source = owns_source

    def start(self) -> CameraScanner:
        self.source.start()
        return self

    def read(self, timeout: float | None = None) -> Scan | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            started = time.monotonic()
            frame = self.source.latest(remaining)
            if frame is None:
                if not self.source.running:
                    return None
                continue
            codes = decode_codes(frame.image, self.formats)
            if codes:
                log.info("scan", extra={"device": "scanner", "source": "camera",
                                        "length": len(codes[0].text)})
                return codes[0]
            pause = self.interval_s - (time.monotonic() - started)
            if deadline is not None:
                pause = min(pause, deadline - time.monotonic())
            if pause > 0:
                time.sleep(pause)

    def health(self) -> DeviceHealth:
        camera = self.source.health()
        return DeviceHealth("scanner", camera.state, camera.reason, camera.message)

    def close(self) -> None:
        if self.owns_source:
            self.source.stop()
