"""The kiosk's full-screen window: one screen per flow state, with the same frame around all
of them - the hospital's name, a countdown back to the start, the language and large-text
switches at the top, and the three ways to pay plus "call a cashier" at the bottom.

The window only renders ``FlowView`` snapshots and sends commands; the flow decides. Views
and camera frames arrive from the runtime's threads through ``RuntimeBridge``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeyEvent, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QGridLayout,
    QHBoxLayout,
    QLayout,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from common.errors import ErrorCode
from device.scanner.wedge import WedgeScanner
from kiosk.config import QualityConfig
from kiosk.flow.machine import FlowView
from kiosk.flow.model import State
from kiosk.flow.ways import Way
from kiosk.i18n import DEFAULT_LANG, tr
from kiosk.protocol.schemas import PaymentMethod
from kiosk.protocol.voucher import EVoucherError, parse_evoucher
from ui.bridge import RuntimeBridge
from ui.port import KioskPort
from ui.screens.attract import AttractScreen
from ui.screens.base import Screen, TileButton, button, text_label
from ui.screens.bill_review import BillReviewScreen
from ui.screens.error import ErrorScreen
from ui.screens.fallback import FallbackScreen
from ui.screens.family import FamilyScreen
from ui.screens.keypad import KeypadScreen
from ui.screens.liveness import LivenessScreen
from ui.screens.owed import OwedScreen
from ui.screens.repay_qr import RepayQrScreen
from ui.screens.result import ResultScreen
from ui.screens.scan import ScanScreen
from ui.screens.settling import SettlingScreen
from ui.theme import Theme, theme_for

log = logging.getLogger(__name__)

NOTICE_S = 15  # how long a hint or a scan problem stays on screen
# Fallback reasons where only face pay failed: the patient can go on with card or QR here.
FACE_ONLY = (ErrorCode.families("face", "liveness", "second_factor")
             | {ErrorCode.PATIENT_REQUESTED_CASHIER})
# States in which the flow accepts each way to pay (see CheckoutFlow._start_lookup).
LOOKUP_BLOCKED = frozenset({State.SETTLING, State.DONE, State.LOOKING_UP, State.BILL_REVIEW,
                            State.OWED, State.REPAY_QR, State.REPAY_CLOSING, State.REPAID,
                            State.FAMILY})
ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
FRAME_FRESH_S = 1.0  # a camera frame older than this is not shown as "live"


def screen_name(view: FlowView) -> str:
    """Which screen shows ``view``."""
    if view.state == State.FALLBACK:
        return "fallback" if view.reason in FACE_ONLY else "error"
    return {
        State.IDLE: "attract",
        State.SEARCHING: "scan",
        State.LIVENESS: "liveness",
        State.SECOND_FACTOR: "keypad",
        State.LOOKING_UP: "looking_up",
        State.BILL_REVIEW: "bill_review",
        State.SETTLING: "settling",
        State.DONE: "result",
        State.OWED_IDENTIFY: "owed",
        State.OWED: "owed",
        State.REPAY_QR: "repay",
        State.REPAY_CLOSING: "repay",
        State.REPAID: "repay",
        State.FAMILY: "family",
    }.get(view.state, "error")


class KioskWindow(QWidget):
    rendered = Signal(str, object)  # screen name, FlowView: after every render
    scan_arrived = Signal(str)  # any thread may emit a scanned payload here

    def __init__(self, port: KioskPort, *, hospital: str = "",
                 quality: QualityConfig | None = None,
                 wedge: WedgeScanner | None = None, on_card: Callable[[], None] | None = None,
                 initial: FlowView | None = None,  # the runtime's view now, if it runs
                 clock: Callable[[], float] = time.monotonic,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("kiosk")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.port = port
        self.clock = clock
        self.on_card = on_card  # e.g. KioskApp.pay_by_card: start reading the card reader
        self.lang = DEFAULT_LANG
        self.elderly = False
        self.theme: Theme | None = None
        self.view = initial or FlowView(state=State.IDLE, guidance="idle.welcome")
        self._deadline: float | None = None
        self._last_frame: tuple[QImage, QRectF | None, float] | None = None
        self._notice_key = ""
        self._active: str | None = None  # the payment tile in use
        self.hospital = hospital

        layout = QVBoxLayout(self)
        # The screen's size is given (full screen): adapt to it, never grow past it.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._top_bar())
        self.notice = text_label("body", tone="warn")
        self.notice.setVisible(False)
        layout.addWidget(self.notice)
        self.stack = QStackedWidget()
        self.screens: dict[str, Screen] = {
            "attract": AttractScreen(port),
            "scan": ScanScreen(port, quality),
            "liveness": LivenessScreen(port, quality),
            "keypad": KeypadScreen(port),
            "settling": SettlingScreen(port),
            "bill_review": BillReviewScreen(port),
            "result": ResultScreen(port),
            "fallback": FallbackScreen(port),
            "error": ErrorScreen(port),
            "owed": OwedScreen(port),
            "repay": RepayQrScreen(port),
            "family": FamilyScreen(port),
        }
        for name in ("fallback", "error"):
            way_screen = self.screens[name]
            assert isinstance(way_screen, FallbackScreen)
            way_screen.way_chosen.connect(self._way_chosen)
        self.screens["looking_up"] = self.screens["settling"]  # one "please wait" screen
        for screen in dict.fromkeys(self.screens.values()):
            self.stack.addWidget(screen)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self._bottom_bar())

        self._notice_timer = QTimer(self, singleShot=True, interval=NOTICE_S * 1000)
        self._notice_timer.timeout.connect(self.hide_notice)
        self._countdown_timer = QTimer(self, interval=1000)
        self._countdown_timer.timeout.connect(self._show_countdown)
        self._countdown_timer.start()

        self.wedge = wedge
        if wedge is not None:
            app = QApplication.instance()
            if app is not None:
                app.installEventFilter(self)
        self.scan_arrived.connect(self.scan_received)
        self.bridge = RuntimeBridge(port, self)
        self.bridge.view_changed.connect(self.render)
        self.bridge.frame_ready.connect(self._frame)
        self.bridge.start()
        self.apply_theme()
        self.render(self.view)

    # ------------------------------------------------------------------ frame
    def _top_bar(self) -> QWidget:
        bar = QWidget()
        row = self._top_row = QHBoxLayout(bar)
        row.setContentsMargins(16, 8, 16, 8)
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        # One row whatever the size and language: what does not fit gives way (_fit_top_bar)
        self.hospital_label = text_label("small", align=left, wrap=False)
        self.countdown = text_label("small", tone="muted", wrap=False)
        self.lang_button = button("chrome", "lang")
        self.lang_button.clicked.connect(self.toggle_language)
        self.elderly_button = button("chrome", "elderly")
        self.elderly_button.clicked.connect(lambda: self.set_elderly(not self.elderly))
        self.replay_button = button("chrome", "replay")  # 再听一遍: the spoken prompt again
        self.replay_button.clicked.connect(self.port.replay_prompt)
        row.addWidget(self.hospital_label, 1)
        row.addWidget(self.countdown)
        row.addSpacing(12)
        row.addWidget(self.replay_button)
        row.addWidget(self.elderly_button)
        row.addWidget(self.lang_button)
        return bar

    def _bottom_bar(self) -> QWidget:
        bar = QWidget()
        # one row of four in landscape, two by two (and taller) in portrait: _place_tiles
        self._tile_grid = QGridLayout(bar)
        self._tile_grid.setContentsMargins(16, 4, 16, 12)
        self._landscape = True
        self.tiles: dict[str, TileButton] = {}
        for name, action in (("face", self._face_chosen),
                             ("card", self._card_chosen),
                             ("voucher", lambda: self.show_notice("ui.voucher_hint"))):
            tile = TileButton(f"tile_{name}")
            tile.clicked.connect(action)
            self.tiles[name] = tile
        self.cashier_button = TileButton("call_cashier")
        self.cashier_button.clicked.connect(self.port.call_cashier)
        self._place_tiles()
        return bar

    def _all_tiles(self) -> list[TileButton]:
        return [*self.tiles.values(), self.cashier_button]

    def _place_tiles(self) -> None:
        grid = self._tile_grid
        columns = 4 if self._landscape else 2
        for i, tile in enumerate(self._all_tiles()):
            grid.removeWidget(tile)
            grid.addWidget(tile, i // columns, i % columns)
        for column in range(4):
            grid.setColumnStretch(column, 1 if column < columns else 0)
        self._size_tiles()

    def _size_tiles(self) -> None:
        """Landscape: each tile as wide as its caption needs (a long caption wraps less);
        portrait: equal tiles, taller the taller the screen (a totem has height to spare)."""
        if self.theme is None:
            return
        height = self.theme.touch_px
        if not self._landscape:
            ratio = self.height() / max(1, self.width())
            height = round(height * min(1.5, max(1.0, ratio - 0.3)))
        for name in ("fallback", "error"):  # the ways forward: as large as the bar's tiles
            way_screen = self.screens[name]
            assert isinstance(way_screen, FallbackScreen)
            for way_tile in way_screen.buttons.values():
                way_tile.setMinimumHeight(height)
        for i, tile in enumerate(self._all_tiles()):
            tile.setMinimumHeight(height)
            if self._landscape:
                caption = tile.caption
                caption.ensurePolished()
                need = caption.fontMetrics().horizontalAdvance(caption.text())
                self._tile_grid.setColumnStretch(i, max(1, need + 2 * self.theme.body_px))

    def _retranslate_frame(self) -> None:
        lang = self.lang
        self.hospital_label.setText(self.hospital or tr("ui.kiosk_name", lang))
        self.lang_button.setText(tr("ui.lang_switch", lang))
        self.replay_button.setText(tr("ui.replay", lang))
        self.elderly_button.setText(tr("ui.elderly_off" if self.elderly else "ui.elderly_on",
                                       lang))
        captions = {"face": tr("ui.pay_face", lang) if self.view.face_available
                    else tr("ui.face_unavailable", lang),
                    "card": tr("ui.pay_card", lang), "voucher": tr("ui.pay_voucher", lang)}
        for name, caption in captions.items():
            self.tiles[name].set_caption(tr("ui.in_use", lang, method=caption)
                                         if name == self._active else caption)
        self.cashier_button.set_caption(tr("way.cashier_called" if self.view.cashier_called
                                           else "ui.call_cashier", lang))
        self._size_tiles()
        self._show_countdown()

    # ---------------------------------------------------------------- render
    def render(self, view: FlowView) -> None:
        if view.state == State.IDLE and self.view.state != State.IDLE:
            self._session_ended()
        self.view = view
        name = screen_name(view)
        screen = self.screens[name]
        for other in self.screens.values():
            if other is not screen:
                other.clear()
        screen.show_view(view, self.lang)
        if isinstance(screen, ScanScreen) and not screen.preview.has_image \
                and self._last_frame is not None \
                and self.clock() - self._last_frame[2] < FRAME_FRESH_S:
            screen.set_frame(*self._last_frame[:2])  # no blank preview until the next frame
        if view.state == State.IDLE:
            self._last_frame = None  # the camera sees passers-by: keep no image at idle
        self.stack.setCurrentWidget(screen)
        self._deadline = (self.clock() + view.seconds_left
                          if view.state != State.IDLE and view.seconds_left > 0 else None)
        lookup_ok = view.state not in LOOKUP_BLOCKED
        fallback = view.state == State.FALLBACK
        self.tiles["face"].setEnabled(view.face_available and (
            view.state in (State.IDLE, State.OWED_IDENTIFY)
            or (fallback and Way.FACE_AGAIN in view.ways)))
        self.tiles["card"].setEnabled(lookup_ok and (not fallback or Way.CARD in view.ways))
        self.tiles["voucher"].setEnabled(lookup_ok and (not fallback
                                                        or Way.VOUCHER in view.ways))
        self.cashier_button.setEnabled(not view.cashier_called)  # always there until called
        active = {PaymentMethod.FACE: "face", PaymentMethod.CARD: "card",
                  PaymentMethod.VOUCHER: "voucher"}.get(
            view.method) if view.state not in (State.IDLE, State.FALLBACK) else None
        self._active = active  # drawn "in use" (words and colour), never as unavailable
        for tile_name, tile in self.tiles.items():
            tile.set_active(tile_name == active)
        if view.state == State.IDLE:
            self.hide_notice()
        self._retranslate_frame()
        self.rendered.emit(name, view)

    @property
    def current(self) -> str:
        return screen_name(self.view)

    def _frame(self, image: QImage, box: QRectF | None) -> None:
        self._last_frame = (image, box, self.clock())
        screen = self.stack.currentWidget()
        if isinstance(screen, ScanScreen):
            screen.set_frame(image, box)
        self.bridge.frame_consumed()

    def _show_countdown(self) -> None:
        if self._deadline is None:
            self.countdown.setText("")
        else:
            seconds = max(0, round(self._deadline - self.clock()))
            self.countdown.setText(tr("ui.seconds_left", self.lang, seconds=seconds))
        self._fit_top_bar()

    def _fit_top_bar(self) -> None:
        """The top bar stays one row: the countdown says it shorter when the long words do
        not fit beside the switches, and the hospital's name shows only where there is room
        for all of it (always on the idle screen, which has no countdown)."""
        row = self._top_row
        margins = row.contentsMargins()
        spare = self.width() - margins.left() - margins.right() - 12
        for widget in (self.replay_button, self.elderly_button, self.lang_button):
            widget.ensurePolished()
            spare -= widget.sizeHint().width() + row.spacing()
        for label in (self.countdown, self.hospital_label):
            label.ensurePolished()
        metrics = self.countdown.fontMetrics()
        if self._deadline is not None:
            if metrics.horizontalAdvance(self.countdown.text()) > spare:
                seconds = max(0, round(self._deadline - self.clock()))
                self.countdown.setText(tr("ui.seconds_short", self.lang, seconds=seconds))
            spare -= metrics.horizontalAdvance(self.countdown.text()) + row.spacing()
        name = self.hospital_label
        name.setVisible(name.fontMetrics().horizontalAdvance(name.text()) <= spare)

    def _session_ended(self) -> None:
        """The next patient starts in Chinese with normal text, whatever the last one chose."""
        self.lang = DEFAULT_LANG
        if self.elderly:
            self.set_elderly(False)

    # -------------------------------------------------------------- switches
    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.port.set_language(lang)  # the spoken prompts follow
        self.render(self.view)
        if self.notice.isVisible():
            self.notice.setText(tr(self._notice_key, lang))

    def toggle_language(self) -> None:
        self.set_language("en" if self.lang == "zh" else "zh")

    def set_elderly(self, on: bool) -> None:
        """Larger type here; longer timeouts in the flow."""
        self.elderly = on
        self.port.set_elderly(on)
        self.apply_theme()
        self._retranslate_frame()

    def apply_theme(self) -> None:
        theme = theme_for(self.width(), self.height(), self.elderly)
        if theme != self.theme:
            self.theme = theme
            self.setStyleSheet(theme.stylesheet())
        self._size_tiles()

    def resizeEvent(self, event: QResizeEvent) -> None:
        landscape = event.size().width() > event.size().height()
        for screen in self.screens.values():
            screen.set_landscape(landscape)
        if landscape != self._landscape:
            self._landscape = landscape
            self._place_tiles()
        super().resizeEvent(event)
        self.apply_theme()
        self._show_countdown()

    def _way_chosen(self, way: str) -> None:
        if way == Way.CARD:
            self._card_chosen()
        elif way == Way.VOUCHER:
            self.show_notice("ui.voucher_hint")

    def _face_chosen(self) -> None:
        """Face pay, or the face to see what is owed (我的欠款 asked how to identify)."""
        if self.view.state == State.OWED_IDENTIFY:
            self.port.owed_face()
        else:
            self.port.start_face()

    def _card_chosen(self) -> None:
        self.show_notice("ui.card_hint")
        if self.on_card is not None:
            self.on_card()

    # ---------------------------------------------------------------- notices
    def show_notice(self, key: str) -> None:
        self._notice_key = key
        self.notice.setText(tr(key, self.lang))
        self.notice.setVisible(True)
        self._notice_timer.start()

    def hide_notice(self) -> None:
        self.notice.setVisible(False)
        self.notice.setText("")

    # ----------------------------------------------------------------- scans
    def scan_received(self, text: str) -> None:
        """A scanned code: e-vouchers go to the flow; anything else gets a plain notice."""
        try:
            voucher = parse_evoucher(text)
        except EVoucherError as exc:
            log.info("scan.rejected", extra={"code": exc.code})
            self.show_notice(exc.code)
            return
        self.hide_notice()
        self.port.voucher_scanned(voucher.payload)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Keyboard-wedge scanners type into whatever has focus: catch every key meant for
        this window and let the wedge decoder tell a scan from a person typing."""
        if (self.wedge is None or event.type() != QEvent.Type.KeyPress
                or not isinstance(watched, QWidget) or watched.window() is not self):
            return False
        assert isinstance(event, QKeyEvent)
        text = "\r" if event.key() in ENTER_KEYS else event.text()
        stamp = event.timestamp() * 1_000_000 or time.monotonic_ns()
        scan = self.wedge.feed_key(text, stamp)
        if scan is not None:
            self.scan_received(scan.text)
        return True
