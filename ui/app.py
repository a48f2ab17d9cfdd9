"""Start-up: the QApplication with Chinese fonts, and the kiosk window wired to a runtime.

``kiosk.runtime`` (through the recognition engine) imports OpenCV via ``common.opencv``, which
keeps opencv-python's Qt5 plugin path out of the environment; import order does not matter.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from device.scanner.wedge import WedgeScanner
from kiosk.config import KioskConfig
from ui.checks import Check, binding_check
from ui.fonts import register_cjk_font
from ui.headless import CheckoutReport, drive_checkout
from ui.kiosk_window import KioskWindow
from ui.port import KioskPort
from ui.watchdog import notify_systemd

log = logging.getLogger(__name__)

HEADLESS_PLATFORMS = ("offscreen", "minimal")


def create_app(argv: list[str] | None = None) -> tuple[QApplication, list[Check]]:
    """The one QApplication (created once), with the CJK font registered, and the checks of
    the platform it runs on (logged when one fails: the kiosk still starts)."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(
        argv if argv is not None else sys.argv[:1])
    checks = [Check("qt platform", True, app.platformName()), binding_check(),
              register_cjk_font(app)]
    for check in checks:
        if not check.ok:
            log.error("ui.check_failed", extra={"check": check.name, "code": check.code})
    return app, checks


def wedge_for(config: KioskConfig) -> WedgeScanner | None:
    """A keyboard-wedge decoder when that is the configured scanner (its keys reach us)."""
    scanner = config.devices.scanner
    if scanner.driver != "wedge":
        return None
    return WedgeScanner(max_key_interval_ms=scanner.max_key_interval_ms,
                        min_length=scanner.min_length, max_length=scanner.max_length)


def build_kiosk_window(port: KioskPort, config: KioskConfig, *,
                       on_card: Callable[[], None] | None = None) -> KioskWindow:
    return KioskWindow(port, hospital=config.site.name,
                       quality=config.recognition.quality,
                       wedge=wedge_for(config), on_card=on_card,
                       initial=getattr(port, "last_view", None))


def has_display(app: QApplication) -> bool:
    return app.platformName() not in HEADLESS_PLATFORMS


def run_kiosk(port: KioskPort, config: KioskConfig, *, fullscreen: bool = True,
              on_card: Callable[[], None] | None = None) -> int:
    """The interactive kiosk until the window closes (the runtime is the caller's)."""
    app, _ = create_app()
    window = build_kiosk_window(port, config, on_card=on_card)
    if fullscreen:
        fill_screen(window)
    else:
        window.resize(1024, 768)
        window.show()
    notify_systemd(window)
    quit_on_signals(app)
    return app.exec()


def quit_on_signals(app: QApplication) -> None:
    """Ctrl+C and systemd's SIGTERM end the event loop, so the caller's ``finally`` stops
    the devices (and the demo's platform). Python runs signal handlers only between
    bytecodes, never inside ``exec()``: a short timer hands control back to it."""
    def stop(signum: int, _frame: object) -> None:
        log.info("ui.signal", extra={"signal": signal.Signals(signum).name})
        app.quit()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    ticker = QTimer(app, interval=200)
    ticker.timeout.connect(lambda: None)
    ticker.start()


def fill_screen(window: QWidget) -> None:
    """Full screen also on a bare X server (deploy/: no window manager to honour
    showFullScreen()): frameless, with the whole screen's geometry set explicitly."""
    window.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
    window.setGeometry(window.screen().geometry())
    window.showFullScreen()


def demo_checkout(port: KioskPort, config: KioskConfig, out_dir: Path, *, digits: str = "",
                  on_card: Callable[[], None] | None = None) -> CheckoutReport | None:
    """``make demo``: on a display, the interactive window (returns None when closed);
    without one, one whole checkout driven offscreen with a screenshot of every screen."""
    app, checks = create_app()
    if has_display(app):
        run_kiosk(port, config, fullscreen=False, on_card=on_card)
        return None
    window = build_kiosk_window(port, config, on_card=on_card)
    report = drive_checkout(window, out_dir, digits=digits)
    window.close()
    for check in checks:
        if not check.ok:
            log.warning("demo.check_failed", extra={"check": check.name, "code": check.code})
    return report
