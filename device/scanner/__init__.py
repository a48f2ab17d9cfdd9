"""QR / barcode scanners (keyboard wedge, serial, camera): each delivers the raw text it read;
what an e-voucher payload means is ``kiosk.protocol.voucher``'s."""

from __future__ import annotations

from device.camera.source import FrameSource
from device.config import ScannerConfig
from device.errors import DeviceConfigError
from device.health import EventSink
from device.scanner.base import Scan, Scanner
from device.scanner.camera_scanner import CameraScanner
from device.scanner.serial_scanner import SerialScanner
from device.scanner.wedge import WedgeScanner

__all__ = ["Scan", "Scanner", "scanner_from_config"]


def scanner_from_config(config: ScannerConfig, *, camera: FrameSource | None = None,
                        on_event: EventSink | None = None) -> Scanner:
    """The configured scanner (not started). The camera driver decodes frames from the
    kiosk's own ``camera`` source, since one camera cannot be opened twice."""
    if config.driver == "none":
        from device.unconfigured import UnconfiguredScanner

        return UnconfiguredScanner()
    if config.driver == "wedge":
        return WedgeScanner(max_key_interval_ms=config.max_key_interval_ms,
                            min_length=config.min_length, max_length=config.max_length)
    if config.driver == "serial":
        return SerialScanner(config.port, baudrate=config.baudrate,
                             min_length=config.min_length, max_length=config.max_length,
                             reconnect_initial_s=config.reconnect_initial_s,
                             reconnect_max_s=config.reconnect_max_s,
                             failed_after_s=config.failed_after_s, on_event=on_event)
    if config.driver == "camera":
        if camera is None:
            raise DeviceConfigError("the camera scanner needs the kiosk's camera frame source")
        return CameraScanner(camera, formats=config.formats, decode_fps=config.decode_fps)
    raise DeviceConfigError(f"unknown scanner driver {config.driver!r}", driver=config.driver)
