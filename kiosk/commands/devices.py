"""``kiosk devices list|test|reprint``: IT's checks of a terminal's hardware.

Every check prints one line starting PASS or FAIL (then details), or one JSON object with
``--json``; the exit code is 0 when everything checked passed and 3 (set-up problem) when
something failed, so the commands script well in a provisioning run.
"""

from __future__ import annotations

import argparse
import dataclasses
import select
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from common.opencv import cv2
from common.paths import absolute_path
from device.camera import FrameSource, camera_from_config
from device.card import card_reader_from_config
from device.config import DevicesConfig
from device.errors import DeviceError, ReceiptError
from device.health import DeviceHealth, HealthState
from device.inventory import attached_devices
from device.printer import ReceiptPrinter, save_png
from device.printer.receipt_printer import printer_test_slip
from device.printer.transport import describe
from device.scanner import Scan, scanner_from_config
from device.speaker import Speaker, wav_seconds
from kiosk.commands.output import EXIT_BAD_INPUT, EXIT_OK, EXIT_SETUP, emit_json
from kiosk.config import KioskConfig
from kiosk.protocol.voucher import EVoucherError, parse_evoucher

OUT_DIR = Path("var/devices")
FPS_WINDOW_S = 1.0


def register(sub: argparse._SubParsersAction) -> None:
    devices = sub.add_parser("devices", help="list and test the terminal's hardware")
    dsub = devices.add_subparsers(dest="devices_command", required=True)
    p = dsub.add_parser("list", help="attached hardware and the health of configured devices")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait per device")
    p.add_argument("--json", action="store_true", help="one JSON line per device")
    p.set_defaults(func=cmd_list)
    p = dsub.add_parser("test", help="exercise one configured device")
    p.add_argument("which", choices=("camera", "scanner", "card", "printer", "speaker"))
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds to wait (camera 5, scanner 30, card 10)")
    p.add_argument("--out", type=absolute_path, default=None,
                   help="where the camera frame / printer slip image / speaker WAVs go")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_test)
    p = dsub.add_parser("reprint", help="print a kept receipt again (marked REPRINT)")
    p.add_argument("settlement_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_reprint)


def _report(args: argparse.Namespace, device: str, passed: bool, summary: str,
            **details: Any) -> int:
    if args.json:
        emit_json({"device": device, "pass": passed, "summary": summary, **details})
    else:
        print(f"{'PASS' if passed else 'FAIL'} {device}: {summary}")
    return EXIT_OK if passed else EXIT_SETUP


def _health_line(health: DeviceHealth) -> str:
    text = str(health.state)
    if health.reason != "ok":
        text += f" ({health.reason}{': ' + health.message if health.message else ''})"
    return text


# list


def cmd_list(args: argparse.Namespace, config: KioskConfig) -> int:
    attached = attached_devices()
    if args.json:
        for item in attached:
            emit_json({"attached": item.to_dict()})
    else:
        print("attached:" if attached else "attached: nothing detected")
        for item in attached:
            print(f"  {item.kind:8s} {item.path:24s} {item.description}")
    status = EXIT_OK
    for device, health, summary in _probe_all(config.devices, args.timeout):
        code = _report(args, device, health.usable, f"{summary}: {_health_line(health)}",
                       health=health.to_dict())
        status = max(status, code)
    return status


def _probe_all(devices: DevicesConfig, timeout: float) -> list[tuple[str, DeviceHealth, str]]:
    camera = camera_from_config(devices.camera).start()
    try:
        camera_health = _camera_health(camera, timeout)
        scanner = scanner_from_config(devices.scanner, camera=camera).start()
        try:
            scanner_health = _settled(scanner.health, timeout)
        finally:
            scanner.close()
    finally:
        camera.stop()
    card = card_reader_from_config(devices.card)
    try:
        card_health = card.check()
    finally:
        card.close()
    printer = ReceiptPrinter(devices.printer)
    unprinted = len(printer.spool.unprinted())
    speaker = Speaker(devices.speaker)
    try:
        speaker_health = speaker.check()
    finally:
        speaker.close()
    return [
        ("camera", camera_health, f"{devices.camera.driver} {camera.grabber.name}"),
        ("scanner", scanner_health, f"{devices.scanner.driver} {devices.scanner.port}".strip()),
        ("card", card_health, f"{devices.card.driver} {devices.card.port}".strip()),
        ("printer", printer.check(), f"{devices.printer.driver} {describe(devices.printer)}"
                                     f", {unprinted} unprinted receipt(s)"),
        ("speaker", speaker_health, f"{devices.speaker.driver} {devices.speaker.device}"
                                    if devices.speaker.driver == "aplay"
                                    else devices.speaker.driver),
    ]


def _not_up(health: DeviceHealth, timeout: float) -> DeviceHealth:
    """A device still starting when the check's time ran out has failed the check."""
    return DeviceHealth(health.device, HealthState.FAILED, health.reason,
                        f"not up within {timeout:.1f} s; {health.message}")


def _settled(health: Callable[[], DeviceHealth], timeout: float) -> DeviceHealth:
    """Wait for a threaded device to come up or give up."""
    deadline = time.monotonic() + timeout
    current = health()
    while current.reason.endswith(".starting") and time.monotonic() < deadline:
        time.sleep(0.05)
        current = health()
    return _not_up(current, timeout) if current.reason.endswith(".starting") else current


def _camera_health(camera: FrameSource, timeout: float) -> DeviceHealth:
    if camera.get(timeout) is not None:
        return camera.health()
    health = camera.health()
    return _not_up(health, timeout) if health.usable else health


# test


def cmd_test(args: argparse.Namespace, config: KioskConfig) -> int:
    tests = {"camera": _test_camera, "scanner": _test_scanner, "card": _test_card,
             "printer": _test_printer, "speaker": _test_speaker}
    try:
        return tests[args.which](args, config.devices)
    except DeviceError as exc:
        return _report(args, args.which, False, f"{exc.code}: {exc.message}", error=exc.code)


def _test_camera(args: argparse.Namespace, devices: DevicesConfig) -> int:
    timeout = args.timeout if args.timeout is not None else 5.0
    out = args.out or OUT_DIR / "camera.png"
    with camera_from_config(devices.camera) as camera:
        first = camera.get(timeout)
        if first is None:
            health = _camera_health(camera, 0)
            return _report(args, "camera", False,
                           f"{camera.grabber.name}: no frame within {timeout:.1f} s "
                           f"({health.reason}: {health.message})", health=health.to_dict())
        last, count = first, 1
        deadline = time.monotonic() + FPS_WINDOW_S
        while time.monotonic() < deadline:
            frame = camera.get(max(0.0, deadline - time.monotonic()))
            if frame is not None:
                last, count = frame, count + 1
        span_s = (last.timestamp_ns - first.timestamp_ns) / 1e9
        fps = (count - 1) / span_s if span_s > 0 else 0.0
        out.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(out), last.image):
            return _report(args, "camera", False, f"frame captured but {out} not writable")
        return _report(args, "camera", True,
                       f"{camera.grabber.name} {last.width}x{last.height}, {fps:.1f} fps "
                       f"measured; frame saved to {out}", width=last.width,
                       height=last.height, fps=round(fps, 1), saved=str(out),
                       dropped=camera.dropped)


def _test_scanner(args: argparse.Namespace, devices: DevicesConfig) -> int:
    timeout = args.timeout if args.timeout is not None else 30.0
    driver = devices.scanner.driver
    hint = " (a keyboard-wedge scanner types into this terminal)" if driver == "wedge" else ""
    sys.stderr.write(f"scan a code within {timeout:.0f} s{hint}...\n")
    if driver == "wedge":
        scan, health = _stdin_scan(timeout), None
    else:
        scan, health = _device_scan(devices, timeout)
    if scan is None:
        detail = f" ({_health_line(health)})" if health else ""
        return _report(args, "scanner", False, f"{driver}: no scan within {timeout:.0f} s"
                       f"{detail}", health=health.to_dict() if health else None)
    return _report(args, "scanner", True, f"{driver}: {_describe_scan(scan)}",
                   length=len(scan.text), source=scan.source, symbology=scan.symbology,
                   evoucher=_evoucher_verdict(scan))


def _device_scan(devices: DevicesConfig, timeout: float) -> tuple[Scan | None, DeviceHealth]:
    camera = (camera_from_config(devices.camera).start()
              if devices.scanner.driver == "camera" else None)
    scanner = scanner_from_config(devices.scanner, camera=camera).start()
    try:
        return scanner.read(timeout), scanner.health()
    finally:
        scanner.close()
        if camera is not None:
            camera.stop()


def _stdin_scan(timeout: float) -> Scan | None:
    ready, _, _ = select.select([sys.stdin], [], [], timeout)
    if not ready:
        return None
    line = sys.stdin.readline().strip()
    return Scan(line, "wedge") if line else None


def _evoucher_verdict(scan: Scan) -> str:
    try:
        return f"valid {parse_evoucher(scan.text).masked()}"
    except EVoucherError as exc:
        return exc.code


def _describe_scan(scan: Scan) -> str:
    kind = f" {scan.symbology}" if scan.symbology else ""
    return f"got a{kind} scan of {len(scan.text)} characters; e-voucher: {_evoucher_verdict(scan)}"


def _test_card(args: argparse.Namespace, devices: DevicesConfig) -> int:
    timeout = args.timeout if args.timeout is not None else 10.0
    reader = card_reader_from_config(devices.card)
    try:
        card = reader.read_card(timeout)
    finally:
        reader.close()
    masked = card.masked()
    return _report(args, "card", True, f"{devices.card.driver}: card {masked['card_no']} "
                   f"{masked['name']}", card=masked)


def _test_printer(args: argparse.Namespace, devices: DevicesConfig) -> int:
    printer = ReceiptPrinter(devices.printer)
    now = datetime.now().astimezone()
    image = save_png(printer_test_slip(now), args.out or OUT_DIR / "printer-test.png")
    result = printer.print_test_slip(now)
    status = result.status
    state = ("status not reported by this link" if status.online is None
             else f"online, paper {status.paper}")
    return _report(args, "printer", True, f"{devices.printer.driver}: test slip, "
                   f"{result.bytes_sent} bytes to {result.destination} ({state}); "
                   f"image {image}", bytes=result.bytes_sent, destination=result.destination,
                   status=status.to_dict(), image=str(image))


SPEAKER_TEST = {"zh": "语音测试：请到人工窗口缴费。",
                "en": "Voice test: please pay at the cashier."}


def _test_speaker(args: argparse.Namespace, devices: DevicesConfig) -> int:
    """Check the engine, voices and audio device, then say one phrase in each language
    (kept as WAVs in --out; played too on a real device)."""
    out = args.out or OUT_DIR / "speaker"
    config = devices.speaker
    if config.driver != "none":
        config = dataclasses.replace(config, driver="wav-dir", path=str(out), pace=False)
    keeper = Speaker(config)
    health = keeper.check()
    if health.reason != "ok":
        return _report(args, "speaker", False, f"{devices.speaker.driver}: "
                       f"{_health_line(health)}", health=health.to_dict())
    player = Speaker(devices.speaker)
    try:
        timings = {}
        for lang, text in SPEAKER_TEST.items():
            kept = keeper.say(text, lang, volume=80, name="devices.test")
            played = player.say(text, lang, volume=80, name="devices.test")
            if kept is None or kept.wav is None or (played is None
                                                     and devices.speaker.driver == "aplay"):
                return _report(args, "speaker", False, f"{devices.speaker.driver}: "
                               f"{_health_line(player.health())}",
                               health=player.health().to_dict())
            timings[lang] = {"wav": str(kept.wav), "synth_ms": round(kept.synth_ms, 1),
                             "seconds": round(wav_seconds(kept.wav), 2)}
    finally:
        player.close()
    said = ", ".join(f"{lang} {t['seconds']:.1f} s of speech in {t['synth_ms']:.0f} ms"
                     for lang, t in timings.items())
    return _report(args, "speaker", True, f"{devices.speaker.driver}: {said}; WAVs in {out}",
                   prompts=timings)


# reprint


def cmd_reprint(args: argparse.Namespace, config: KioskConfig) -> int:
    printer = ReceiptPrinter(config.devices.printer)
    try:
        result = printer.reprint(args.settlement_id)
    except ReceiptError as exc:
        _report(args, "printer", False, f"{exc.code}: {exc.message}", error=exc.code)
        return EXIT_BAD_INPUT
    except DeviceError as exc:
        return _report(args, "printer", False, f"{exc.code}: {exc.message}", error=exc.code)
    return _report(args, "printer", True, f"reprinted {result.settlement_id}, "
                   f"{result.bytes_sent} bytes to {result.destination}",
                   bytes=result.bytes_sent, destination=result.destination)
