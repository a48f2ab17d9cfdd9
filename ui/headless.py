"""Drive one whole checkout through the real window without a person: for ``make demo``
without a display, and for tests.

It acts only through the screens' own buttons (as a patient's finger would), writes a
screenshot of every screen it meets, measures the event loop's worst stall throughout (not
counting its own screenshot writing), and reports what happened in one screenful.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer

from device.printer.layout import receipt_rows
from kiosk.flow.machine import FlowView
from kiosk.flow.model import State
from kiosk.i18n import label, yuan
from ui.kiosk_window import KioskWindow
from ui.receipt_view import receipt_for
from ui.screens.scan import ScanScreen
from ui.screenshots import settled
from ui.stall import TARGET_MS, StallProbe

ACT_AFTER_MS = 400  # a patient reads before touching


@dataclass
class CheckoutReport:
    screens: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    outcome: str = "timeout"  # settled | queued | fallback | cancelled | timeout
    reason: str = ""
    patient: str = ""
    method: str = ""
    total_fen: int = 0
    layers: list[tuple[str, int]] = field(default_factory=list)
    self_pay_fen: int = 0
    settlement_id: str = ""
    receipt: list[str] = field(default_factory=list)
    max_stall_ms: float = 0.0
    stalls: int = 0
    frames_shown: int = 0
    frames_dropped: int = 0

    def summary(self) -> str:
        lines = [f"checkout: {self.outcome}" + (f" ({self.reason})" if self.reason else ""),
                 f"screens: {' → '.join(self.screens)}"]
        if self.patient:
            lines.append(f"recognised: {self.patient} (by {self.method})")
        if self.total_fen:
            split = ", ".join(f"{label('layer', name, 'en')} {yuan(fen, 'en')}"
                              for name, fen in self.layers)
            lines.append(f"bill {yuan(self.total_fen, 'en')} = {split}")
        if self.settlement_id:
            lines.append(f"settlement: {self.settlement_id}")
        if self.receipt:
            lines += ["receipt:", *(f"  {row}" for row in self.receipt)]
        lines.append(f"GUI event loop: worst stall {self.max_stall_ms:.0f} ms "
                     f"({self.stalls} over {TARGET_MS:.0f} ms); preview frames shown "
                     f"{self.frames_shown}, dropped {self.frames_dropped}")
        if self.screenshots:
            lines.append(f"screenshots: {self.screenshots[0].parent} ({len(self.screenshots)})")
        return "\n".join(lines)


class CheckoutDriver:
    def __init__(self, window: KioskWindow, out_dir: Path | None = None, *,
                 digits: str = "", start_face_after_s: float = 1.0) -> None:
        self.window = window
        self.out_dir = out_dir
        self.digits = digits
        self.start_face_after_s = start_face_after_s
        self.report = CheckoutReport()
        self.probe = StallProbe(parent=window)
        self._loop = QEventLoop()
        self._last = ""
        self._started = False
        self._digits_sent = 0
        self._captured: set[str] = set()
        self._tries = 0

    def run(self, timeout_s: float = 90.0) -> CheckoutReport:
        window = self.window
        window.rendered.connect(self._on_render)
        self.probe.start()
        QTimer.singleShot(round(self.start_face_after_s * 1000), self._nudge)
        QTimer.singleShot(round(timeout_s * 1000), self._loop.quit)
        self._on_render(window.current, window.view)
        self._loop.exec()
        window.rendered.disconnect(self._on_render)
        self.probe.stop()
        self.report.max_stall_ms = round(self.probe.max_stall_ms, 1)
        self.report.stalls = self.probe.stalls
        self.report.frames_shown = window.bridge.frames_shown
        self.report.frames_dropped = window.bridge.frames_dropped
        return self.report

    def _nudge(self) -> None:
        """The patient touches "pay by face" (a face in view alone never starts it)."""
        if not self._started and self.window.view.state == State.IDLE:
            self.window.tiles["face"].click()

    def _on_render(self, name: str, view: FlowView) -> None:
        if view.state != State.IDLE:
            self._started = True
        if name != self._last:
            self._last = name
            self.report.screens.append(name)
            QTimer.singleShot(50, lambda n=name: self._screenshot(n))
        if view.patient is not None:
            self.report.patient = view.patient.name_masked
        if view.method is not None:
            self.report.method = view.method.value
        if view.quote is not None:
            self.report.total_fen = view.quote.total_fen
            self.report.layers = list(view.quote.layers)
            self.report.self_pay_fen = view.quote.self_pay_fen
        if name == "keypad" and view.guidance in ("second_factor.enter_phone_digits",
                                                  "second_factor.wrong_digits"):
            QTimer.singleShot(ACT_AFTER_MS, self._type_digits)
        elif name == "bill_review":
            QTimer.singleShot(ACT_AFTER_MS, self.window.screens["bill_review"].confirm.click)
        elif name == "result" and view.result is not None:
            self._finish_with_result(view)
        elif name in ("fallback", "error"):
            self.report.outcome, self.report.reason = "fallback", view.reason
            QTimer.singleShot(ACT_AFTER_MS, self._loop.quit)
        elif name == "attract" and self._started and self.report.outcome == "timeout":
            self.report.outcome = "cancelled"
            self._loop.quit()

    def _type_digits(self) -> None:
        screen = self.window.screens["keypad"]
        if not self.digits or self._digits_sent >= 1 or not screen.ok.isVisible():
            screen.cancel.click()
            return
        self._digits_sent += 1
        for digit in self.digits:
            screen.keys[digit].click()
        screen.ok.click()

    def _finish_with_result(self, view: FlowView) -> None:
        result = view.result
        assert result is not None
        self.report.outcome = result.status
        self.report.settlement_id = result.settlement_id or str(
            result.receipt.get("settlement_id", ""))
        self.probe.pause()  # the report's receipt text is ours, not the kiosk's, work
        receipt = receipt_for(view)
        if receipt is not None:
            self.report.receipt = [f"{row.left}  {row.right}".strip()
                                   for row in receipt_rows(receipt)
                                   if row.kind not in ("rule", "qr")]
        self.probe.resume()
        self._when_settled(lambda: QTimer.singleShot(ACT_AFTER_MS, self._loop.quit))

    def _when_settled(self, then: Callable[[], None]) -> None:
        if settled(self.window):
            then()
        else:
            QTimer.singleShot(50, lambda: self._when_settled(then))

    def _waiting_for_camera(self, name: str) -> bool:
        """The scan screens are worth a picture only once the preview shows the camera."""
        screen = self.window.screens.get(name)
        return isinstance(screen, ScanScreen) and not screen.preview.has_image

    def _screenshot(self, name: str) -> None:
        if self.out_dir is None or name in self._captured or self.window.current != name:
            return  # already captured, or the screen moved on before it could be
        if not settled(self.window) or (self._waiting_for_camera(name) and self._tries < 30):
            self._tries += 1
            QTimer.singleShot(50, lambda: self._screenshot(name))
            return
        self._tries = 0
        self._captured.add(name)
        self.probe.pause()  # grabbing and encoding a PNG is ours, not the kiosk's, stall
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"{len(self._captured):02d}-{name}.png"
        self.window.grab().save(str(path))
        self.report.screenshots.append(path)
        self.probe.resume()


def drive_checkout(window: KioskWindow, out_dir: Path | None = None, *, digits: str = "",
                   timeout_s: float = 90.0, start_face_after_s: float = 1.0,
                   size: tuple[int, int] = (1024, 768)) -> CheckoutReport:
    """Show ``window`` (offscreen is fine) and run one checkout to its end."""
    window.resize(*size)
    window.show()
    driver = CheckoutDriver(window, out_dir, digits=digits,
                            start_face_after_s=start_face_after_s)
    return driver.run(timeout_s)
