"""``kiosk demo``: the main job on embedded defaults — a local platform on loopback with a
fresh SQLite, a demo hospital with credit users enrolled from bundled real face photos, a
provisioned kiosk with a replay camera of the demo patient, and one whole checkout."""

from __future__ import annotations

import argparse
from pathlib import Path

from common.paths import absolute_path
from device.printer.image_render import save_png
from device.printer.receipt import Receipt
from kiosk.commands.output import EXIT_INTERNAL, EXIT_OK
from kiosk.config import KioskConfig
from kiosk.demo.scenario import Demo, DemoResult, voice_summary
from kiosk.flow.model import LAYER_LABELS, State


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the whole checkout on a local platform (headless)")
    p.add_argument("--workdir", type=absolute_path, default=absolute_path("var/demo"),
                   help="wiped and recreated (default: var/demo)")
    p.set_defaults(func=cmd_demo)


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def summary(result: DemoResult, receipt_png: Path | None) -> str:
    view = result.final
    lines = [f"states:      {' → '.join(dict.fromkeys(v.state.value for v in result.views))}"]
    if view.state != State.DONE or view.quote is None or view.result is None:
        lines.append(f"result:      {view.state.value} ({view.reason or view.guidance})")
        return "\n".join([*lines, *voice_summary(result.voice_files)])
    q = view.quote
    lines += [
        f"recognised:  {result.recognised} ({view.patient.id_masked if view.patient else ''})"
        f" in {result.seconds:.1f} s",
        f"bill:        {yuan(q.total_fen)} yuan, {len(q.lines)} lines",
        *(f"  {LAYER_LABELS.get(name, name):32s} {yuan(fen):>10s}" for name, fen in q.layers),
        f"settlement:  {result.settlement_id} (self-pay {yuan(q.self_pay_fen)} yuan on credit)",
        f"receipt:     {', '.join(str(p) for p in result.receipt_files) or 'not printed'}",
    ]
    if receipt_png is not None:
        lines.append(f"             {receipt_png}")
    return "\n".join([*lines, *voice_summary(result.voice_files)])


def cmd_demo(args: argparse.Namespace, config: KioskConfig) -> int:
    print(f"setting up the demo hospital in {args.workdir} ...", flush=True)
    demo = Demo(args.workdir, log_level=config.logging.level)
    try:
        print(f"platform on {demo.platform.url}; "
              f"{demo.app.runtime.gallery.person_count} faces enrolled; checking out ...",
              flush=True)
        result = demo.run_checkout()
    finally:
        demo.close()
    png = None
    if result.final.result is not None:
        png = save_png(Receipt.from_dict(result.final.result.receipt),
                       args.workdir / "receipt.png")
    print(summary(result, png))
    return EXIT_OK if result.final.state == State.DONE else EXIT_INTERNAL
