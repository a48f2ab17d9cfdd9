"""Scanners: keyboard-wedge timing, a serial scanner on a real pty
(including unplug/replug), and QR decoding from images with zxing-cpp."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import zxingcpp

from common.opencv import cv2
from device.camera import FrameSource
from device.camera.grabbers import ImageFolderGrabber
from device.config import ScannerConfig
from device.errors import DeviceConfigError
from device.health import DeviceEvent, HealthState
from device.scanner import scanner_from_config
from device.scanner.camera_scanner import CameraScanner, decode_codes, parse_formats
from device.scanner.serial_scanner import LineSplitter, SerialScanner, decode_line
from device.scanner.wedge import KeyboardWedgeDecoder, WedgeScanner, keystrokes
from kiosk.protocol.voucher import format_payload, parse_evoucher

TOKEN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # 26 chars of the alphabet
# sha256("ABCDEFGHIJKLMNOPQRSTUVWXYZ") starts d6ec6898...: check = "D6EC"
GOOD = f"CHSEV1-{TOKEN}-D6EC"


# keyboard wedge


def _feed(decoder: KeyboardWedgeDecoder, events) -> list[str]:
    return [p for text, ts in events if (p := decoder.feed(text, ts)) is not None]


def test_wedge_fast_burst_is_a_scan() -> None:
    decoder = KeyboardWedgeDecoder(max_key_interval_ms=50)
    assert _feed(decoder, keystrokes(GOOD, 1_000_000_000, interval_ms=8)) == [GOOD]


def test_wedge_human_typing_is_ignored() -> None:
    decoder = KeyboardWedgeDecoder(max_key_interval_ms=50)
    assert _feed(decoder, keystrokes("123456", 0, interval_ms=180)) == []
    assert decoder.discarded == 6  # each slow key ends a one-character "burst"


def test_wedge_scan_after_stray_keys_and_bounds() -> None:
    decoder = KeyboardWedgeDecoder(max_key_interval_ms=50, min_length=4, max_length=40)
    stray = [("x", 0), ("y", 400_000_000)]  # a person pokes the keyboard
    scan = list(keystrokes(GOOD, 2_000_000_000))
    assert _feed(decoder, [*stray, *scan]) == [GOOD]
    assert _feed(decoder, keystrokes("ab", 5_000_000_000)) == []  # too short
    assert _feed(decoder, keystrokes("Z" * 41, 6_000_000_000)) == []  # too long
    assert _feed(decoder, [("", 7_000_000_000)]) == []  # shift and friends type nothing
    assert _feed(decoder, keystrokes(GOOD, 8_000_000_000)) == [GOOD]  # and it recovers


def test_wedge_scanner_queues_scans() -> None:
    scanner = WedgeScanner(max_key_interval_ms=50)
    for text, ts in keystrokes(GOOD, time.monotonic_ns()):
        scanner.feed_key(text, ts)
    scan = scanner.read(0.1)
    assert scan is not None and scan.text == GOOD and scan.source == "wedge"
    assert scanner.read(0.01) is None
    assert scanner.health().state is HealthState.OK


# serial scanner on a pty


def test_line_splitter_and_decoding() -> None:
    splitter = LineSplitter(max_length=10)
    assert splitter.feed(b"ABC") == []
    assert splitter.feed(b"D\r\nEF\rGH\n\n") == [b"ABCD", b"EF", b"GH"]
    assert splitter.feed(b"0123456789XYZ") == []  # over-long: dropped whole...
    assert splitter.feed(b"MORE\rOK\r") == [b"OK"]  # ...including its tail
    assert splitter.dropped == 1
    assert decode_line("你好".encode("gb18030")) == "你好"
    assert decode_line("你好".encode()) == "你好"


def test_serial_scanner_reads_lines_and_rejects_garbage(pty_port) -> None:
    port = pty_port()
    scanner = SerialScanner(port.path, reconnect_initial_s=0.02, reconnect_max_s=0.1).start()
    try:
        deadline = time.monotonic() + 5
        while scanner.health().state is not HealthState.OK and time.monotonic() < deadline:
            time.sleep(0.01)
        port.write(b"\x00\x01\xff\r")  # noise
        port.write(GOOD.encode()[:10])
        port.write(GOOD.encode()[10:] + b"\r\n")
        port.write("条码内容".encode("gb18030") + b"\n")
        first, second = scanner.read(3), scanner.read(3)
    finally:
        scanner.close()
    assert first is not None and first.text == GOOD and first.source == "serial"
    assert second is not None and second.text == "条码内容"
    assert scanner.rejected == 1


def test_serial_scanner_survives_unplug_and_replug(pty_port, tmp_path: Path) -> None:
    link = tmp_path / "ttyScanner"  # like /dev/serial/by-id/...: stable across replugs
    first = pty_port()
    link.symlink_to(first.path)
    events: list[DeviceEvent] = []
    flags = {"connected": threading.Event(), "reconnected": threading.Event()}

    def sink(event: DeviceEvent) -> None:
        events.append(event)
        if event.kind in flags:
            flags[event.kind].set()

    scanner = SerialScanner(str(link), reconnect_initial_s=0.02, reconnect_max_s=0.1,
                            failed_after_s=0.2, on_event=sink).start()
    try:
        assert flags["connected"].wait(5)  # opening a port flushes what arrived before
        first.write(b"BEFORE-UNPLUG\r")
        assert scanner.read(3).text == "BEFORE-UNPLUG"
        first.unplug()
        link.unlink()
        time.sleep(0.4)
        health = scanner.health()
        assert health.state is HealthState.FAILED
        assert health.reason in ("scanner.unavailable", "scanner.disconnected")
        second = pty_port()
        link.symlink_to(second.path)
        assert flags["reconnected"].wait(5)
        second.write(b"AFTER-REPLUG\r")
        scan = scanner.read(3)
    finally:
        scanner.close()
    assert scan is not None and scan.text == "AFTER-REPLUG"
    kinds = [e.kind for e in events]
    assert kinds[0] == "connected" and "disconnected" in kinds and "retrying" in kinds
    assert scanner.health().reason == "scanner.stopped"


def test_serial_scanner_on_missing_port_fails_cleanly() -> None:
    scanner = SerialScanner("/dev/nonexistent-scanner", reconnect_initial_s=0.02,
                            reconnect_max_s=0.05, failed_after_s=0.1).start()
    try:
        assert scanner.read(0.3) is None
        assert scanner.health().state is HealthState.FAILED
    finally:
        scanner.close()


# decoding from camera frames


def _qr_frame(text: str, *, size: tuple[int, int] = (480, 360), at: tuple[int, int] = (40, 30),
              scale: int = 5) -> np.ndarray:
    code = np.asarray(zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
                      .to_image(scale=scale))
    frame = np.full((size[1], size[0], 3), 90, np.uint8)  # a grey room
    h, w = code.shape
    frame[at[1]:at[1] + h, at[0]:at[0] + w] = code[..., None]
    return frame


def test_decode_qr_from_frame_including_a_tilted_blurred_phone() -> None:
    payload = format_payload()
    scans = decode_codes(_qr_frame(payload), parse_formats("QRCode"))
    assert [s.text for s in scans] == [payload] and scans[0].symbology == "QR Code"
    tilted = _qr_frame(payload, at=(150, 80))
    matrix = cv2.getRotationMatrix2D((240, 180), 17, 1.0)
    tilted = cv2.GaussianBlur(cv2.warpAffine(tilted, matrix, (480, 360),
                                             borderValue=(90, 90, 90)), (3, 3), 0)
    assert [s.text for s in decode_codes(tilted, parse_formats("QRCode"))] == [payload]
    assert decode_codes(np.full((120, 160, 3), 128, np.uint8), parse_formats("QRCode")) == []


def test_unknown_format_is_a_config_error() -> None:
    with pytest.raises(DeviceConfigError):
        parse_formats("QRCode,NoSuchCode")


def test_camera_scanner_reads_a_qr_held_to_the_camera(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    payload = format_payload()
    cv2.imwrite(str(folder / "0-empty.png"), np.full((360, 480, 3), 90, np.uint8))
    cv2.imwrite(str(folder / "1-qr.png"), _qr_frame(payload))
    source = FrameSource(ImageFolderGrabber(folder, fps=20), reconnect_initial_s=0.02,
                         reconnect_max_s=0.1)
    scanner = CameraScanner(source, decode_fps=20, owns_source=True).start()
    try:
        scan = scanner.read(5)
        assert scanner.health().state is HealthState.OK
    finally:
        scanner.close()
    assert scan is not None and scan.text == payload and scan.source == "camera"
    assert parse_evoucher(scan.text).token
    assert not source.running


def test_camera_scanner_times_out_on_empty_scene(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "empty.png"), np.full((120, 160, 3), 90, np.uint8))
    source = FrameSource(ImageFolderGrabber(folder, fps=30))
    with source:
        started = time.monotonic()
        assert CameraScanner(source, decode_fps=10).read(0.5) is None
        assert 0.45 <= time.monotonic() - started < 2.0


def test_scanner_factory() -> None:
    assert scanner_from_config(ScannerConfig()).health().reason == "scanner.not_configured"
    assert isinstance(scanner_from_config(ScannerConfig(driver="wedge")), WedgeScanner)
    assert isinstance(scanner_from_config(ScannerConfig(driver="serial", port=os.devnull)),
                      SerialScanner)
    with pytest.raises(DeviceConfigError):
        scanner_from_config(ScannerConfig(driver="camera"))


def test_factory_scanners_scan_with_the_configured_settings(pty_port, tmp_path: Path) -> None:
    """Each driver the factory builds really reads, and obeys the config's own numbers (not
    the classes' defaults): the wedge its key interval and minimum length, the serial scanner
    its port and maximum length, the camera scanner the kiosk's frame source."""
    unconfigured = scanner_from_config(ScannerConfig())
    assert unconfigured.read(0.01) is None

    wedge = scanner_from_config(ScannerConfig(driver="wedge", max_key_interval_ms=20,
                                              min_length=len(GOOD)))
    now = time.monotonic_ns()
    for text, ts in [*keystrokes(GOOD, now, interval_ms=30),  # slower than 20 ms: typing
                     *keystrokes(GOOD[:-1], now + 10**9, interval_ms=5),  # one key short
                     *keystrokes(GOOD, now + 2 * 10**9, interval_ms=5)]:
        wedge.feed_key(text, ts)
    assert wedge.read(0.1).text == GOOD
    assert wedge.read(0.01) is None

    port = pty_port()
    serial = scanner_from_config(ScannerConfig(
        driver="serial", port=port.path, max_length=len(GOOD) - 1,
        reconnect_initial_s=0.02, reconnect_max_s=0.1)).start()
    try:
        deadline = time.monotonic() + 5
        while serial.health().state is not HealthState.OK and time.monotonic() < deadline:
            time.sleep(0.01)
        port.write(GOOD.encode() + b"\r" + TOKEN.encode() + b"\r")
        scan = serial.read(3)
    finally:
        serial.close()
    assert scan is not None and (scan.text, scan.source) == (TOKEN, "serial")
    assert serial.rejected == 1  # GOOD is one character over the configured maximum

    folder = tmp_path / "frames"
    folder.mkdir()
    payload = format_payload()
    cv2.imwrite(str(folder / "qr.png"), _qr_frame(payload))
    camera = FrameSource(ImageFolderGrabber(folder, fps=20))
    with camera:
        scanner = scanner_from_config(ScannerConfig(driver="camera", decode_fps=20),
                                      camera=camera)
        scan = scanner.read(5)
    assert scan is not None and (scan.text, scan.source) == (payload, "camera")
