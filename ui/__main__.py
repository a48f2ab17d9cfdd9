"""``python -m ui kiosk|cashier|demo|check|screenshots|pin-hash``: the kiosk and the cashier
console, the demo, IT's checks, the screenshots.

``check`` prints one PASS/FAIL line per item (Qt platform, CJK font, and with ``--show`` a
real window drawn on the display) and exits 0, or 3 when something failed, like
``kiosk devices``. ``screenshots`` renders every screen at the chosen sizes.
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from common.config_loader import ConfigError
from common.paths import absolute_path
from kiosk.commands.output import fail
from kiosk.errors import KioskError

if TYPE_CHECKING:
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QImage

EXIT_OK, EXIT_BAD_INPUT, EXIT_SETUP = 0, 2, 3
DOCS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def _check(args: argparse.Namespace) -> int:
    import kiosk.runtime  # noqa: F401  (the production import order: OpenCV before Qt)
    from ui.app import create_app
    from ui.kiosk_window import KioskWindow
    from ui.preview_views import RecordingPort, sample_views
    from ui.screenshots import pump, wait_until

    app, checks = create_app()
    platform = app.platformName()
    for check in checks:
        print(check.line())
    ok = all(check.ok for check in checks)
    if args.show:
        window = KioskWindow(RecordingPort())
        window.resize(1024, 768)
        window.show()
        exposed = wait_until(window.isVisible, 5_000)
        window.render(sample_views()["07-bill-review"])
        pump(100)
        image = window.grab().toImage()
        colours = {image.pixel(x, y) for x in range(0, image.width(), 37)
                   for y in range(0, image.height(), 29)}
        drawn = exposed and len(colours) > 2
        print(f"{'PASS' if drawn else 'FAIL'} window: shown on {platform} "
              f"{image.width()}x{image.height()}, {len(colours)} colours sampled")
        ok = ok and drawn
        window.close()
    return EXIT_OK if ok else EXIT_SETUP


def _screenshots(args: argparse.Namespace) -> int:
    from ui.app import create_app
    from ui.kiosk_window import KioskWindow
    from ui.preview_views import RecordingPort, sample_views
    from ui.screenshots import SIZES, variant_suffix, write_gallery

    _app, checks = create_app()
    failed = [check for check in checks if not check.ok]
    for check in failed:
        print(check.line(), file=sys.stderr)
    if failed:
        return EXIT_SETUP
    if args.cashier:
        from ui.cashier.gallery import SIZES as CASHIER_SIZES
        from ui.cashier.gallery import write_cashier_gallery

        sizes = args.sizes or list(CASHIER_SIZES)
        bad = [s for s in sizes if s not in CASHIER_SIZES]
        if bad:
            print(f"unknown sizes: {', '.join(bad)} (have: {', '.join(CASHIER_SIZES)})",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        out = args.out if args.out != DOCS else DOCS / "cashier"
        for path in write_cashier_gallery(out, sizes):
            print(path)
        return EXIT_OK
    views = sample_views()
    if args.views:
        unknown = [v for v in args.views if v not in views]
        if unknown:
            print(f"unknown views: {', '.join(unknown)} (have: {', '.join(views)})",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        views = {name: views[name] for name in args.views}
    sizes = args.sizes or (list(SIZES) if args.every else ["1024x768"])
    bad = [s for s in sizes if s not in SIZES]
    if bad:
        print(f"unknown sizes: {', '.join(bad)} (have: {', '.join(SIZES)})", file=sys.stderr)
        return EXIT_BAD_INPUT
    window = KioskWindow(RecordingPort())
    frame = _demo_frame() if not args.no_camera else None
    variants = ([(lang, elderly) for lang in ("zh", "en") for elderly in (False, True)]
                if args.every else [(args.lang, args.elderly)])
    for lang, elderly in variants:
        for path in write_gallery(window, views, args.out, sizes,
                                  suffix=variant_suffix(lang, elderly), frame=frame,
                                  lang=lang, elderly=elderly):
            print(path)
    return EXIT_OK


def _demo_frame() -> tuple[QImage, QRectF | None]:
    """A real face for the preview (scikit-image's astronaut), boxed by the real detector."""
    import numpy as np
    from PySide6.QtCore import QRectF
    from skimage import data

    from kiosk.config import KioskConfig
    from kiosk.errors import ModelError
    from kiosk.recognition.engine import FaceEngine
    from ui.bridge import to_qimage

    bgr = np.ascontiguousarray(data.astronaut()[..., ::-1])
    image, scale = to_qimage(bgr)
    try:
        faces = FaceEngine.from_config(KioskConfig()).detect(bgr)
    except ModelError:
        return image, None
    if not faces:
        return image, None
    x1, y1, x2, y2 = (float(v) * scale for v in faces[0].box)
    return image, QRectF(x1, y1, x2 - x1, y2 - y1)


def _pin_hash(args: argparse.Namespace) -> int:
    from kiosk.counter.pin import PinError, hash_pin

    pin = sys.stdin.readline().strip() if args.stdin else getpass.getpass("staff PIN: ")
    try:
        print(hash_pin(pin))
    except PinError as exc:
        print(f"ui: error: {exc.code}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    """``make demo``: the demo hospital (kiosk.demo) through the real window. With a display,
    the interactive kiosk; without one, one checkout driven offscreen, a screenshot of every
    screen, and a one-screen summary."""
    from kiosk.config import LoggingConfig
    from kiosk.demo.scenario import Demo, voice_summary
    from ui.app import demo_checkout

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run finally:
    print(f"setting up the demo hospital in {args.workdir} ...", flush=True)
    demo = Demo(args.workdir, log_level=LoggingConfig().level)  # the demo has no config
    counter = None
    try:
        print(f"platform on {demo.platform.url}; {demo.app.runtime.gallery.person_count} faces "
              f"enrolled; {demo.fed['created']} bills fed by the simulated hospital system; "
              "the demo patient walks up ...", flush=True)
        print(f"payment provider (simulated) on {demo.payments.url}: 我的欠款 → 扫码还款 "
              "shows its QR; the payer's phone is `curl -X POST <the QR's link>`", flush=True)
        if args.counter:
            from ui.app import create_app
            from ui.cashier.launch import DEMO_PIN, WINDOW_SIZE, start_demo_counter

            create_app()
            counter = start_demo_counter(demo.platform, args.workdir)
            counter.console.resize(*WINDOW_SIZE)
            counter.console.show()
            print(f"counter console open: staff PIN {DEMO_PIN}", flush=True)
        demo.app.start()
        report = demo_checkout(demo.app.runtime, demo.config, args.workdir / "screens",
                               on_card=demo.app.pay_by_card)
    finally:
        if counter is not None:
            counter.stop()
        demo.app.stop()
        demo.close()
    if report is None:
        return EXIT_OK  # the interactive window was closed
    print(report.summary())
    print("\n".join(voice_summary(demo.voice_files())))
    return EXIT_OK if report.outcome == "settled" else EXIT_SETUP


def _kiosk(args: argparse.Namespace) -> int:
    """The production kiosk: devices, recognition, the platform, full screen."""
    from common.logs import setup_logging
    from kiosk.app import KioskApp
    from kiosk.config import load_config
    from ui.app import run_kiosk

    config = load_config(args.config)
    setup_logging(config.logging.level, config.paths.log_path(), "kiosk")
    app = KioskApp(config).start()
    try:
        return run_kiosk(app.runtime, config, fullscreen=not args.windowed,
                         on_card=app.pay_by_card)
    finally:
        app.stop()


def _cashier(args: argparse.Namespace) -> int:
    """The cashier console on a counter device (staff PIN from [cashier] pin_hash)."""
    from common.logs import setup_logging
    from kiosk.config import load_config, require_real_devices
    from ui.app import create_app, fill_screen, quit_on_signals
    from ui.cashier.launch import WINDOW_SIZE, start_counter
    from ui.watchdog import notify_systemd

    config = load_config(args.config)
    setup_logging(config.logging.level, config.paths.log_path(), "cashier")
    require_real_devices(config)  # enrolling a simulator's photo would enrol nobody real
    app, _ = create_app()
    counter = start_counter(config)
    try:
        if args.fullscreen:
            fill_screen(counter.console)  # deploy/hospital-counter.service: no window manager
        else:
            counter.console.resize(*WINDOW_SIZE)
            counter.console.show()
        notify_systemd(counter.console)
        quit_on_signals(app)
        return app.exec()
    finally:
        counter.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="Qt platform and CJK font checks")
    p.add_argument("--show", action="store_true", help="also draw a real window")
    p.set_defaults(func=_check)
    p = sub.add_parser("screenshots", help="render every screen to PNG")
    p.add_argument("--out", type=absolute_path, default=DOCS)
    p.add_argument("--sizes", nargs="*", help="1024x768 768x1024 1920x1080 1080x1920")
    p.add_argument("--views", nargs="*", help="names from ui.preview_views (default: all)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--elderly", action="store_true")
    p.add_argument("--every", action="store_true",
                   help="every size (unless --sizes), zh and en, normal and large text")
    p.add_argument("--no-camera", action="store_true", help="no face image in the preview")
    p.add_argument("--cashier", action="store_true",
                   help="the counter console's tabs instead (docs/screenshots/cashier, against "
                   "a demo platform; sizes 1280x1024 1920x1080)")
    p.set_defaults(func=_screenshots)
    p = sub.add_parser("kiosk", help="run the kiosk (full screen)")
    p.add_argument("--config", type=absolute_path, help="default: $KIOSK_CONFIG")
    p.add_argument("--windowed", action="store_true")
    p.set_defaults(func=_kiosk)
    p = sub.add_parser("cashier", help="run the cashier console on a counter device")
    p.add_argument("--config", type=absolute_path, help="default: $KIOSK_CONFIG")
    p.add_argument("--fullscreen", action="store_true", help="fill the screen (no window manager)")
    p.set_defaults(func=_cashier)
    p = sub.add_parser("demo", help="the whole checkout on a local demo hospital")
    p.add_argument("--workdir", type=absolute_path, default=absolute_path("var/demo"),
                   help="wiped and recreated (default: var/demo)")
    p.add_argument("--counter", action="store_true",
                   help="also open the counter's cashier console (its PIN is printed)")
    p.set_defaults(func=_demo)
    p = sub.add_parser("pin-hash", help="hash a staff PIN for the cashier console config")
    p.add_argument("--stdin", action="store_true", help="read the PIN from standard input")
    p.set_defaults(func=_pin_hash)
    args = parser.parse_args(argv)
    if args.func in (_check, _kiosk, _cashier, _screenshots):
        from ui.checks import display_check

        missing = display_check(os.environ)
        if missing is not None:
            print(missing.line(), file=sys.stderr if args.func is not _check else sys.stdout)
            return EXIT_SETUP
    try:
        return args.func(args)
    except (ConfigError, KioskError) as exc:  # config invalid, not provisioned, models missing
        fail(f"{exc.code}: {exc.message}")
        return EXIT_SETUP


if __name__ == "__main__":
    sys.exit(main())
