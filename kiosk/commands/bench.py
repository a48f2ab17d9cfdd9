"""``kiosk bench recognition``: the speed benchmark (see benchmarks/recognition.py)."""

from __future__ import annotations

import argparse

from benchmarks import recognition
from kiosk.config import KioskConfig


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmarks (print a table, write JSON)")
    bsub = bench.add_subparsers(dest="bench_command", required=True)
    p = bsub.add_parser("recognition", help="detect/align/embed per frame and 1:N search")
    recognition.add_arguments(p)
    p.set_defaults(func=cmd_recognition)


def cmd_recognition(args: argparse.Namespace, config: KioskConfig) -> int:
    return recognition.run(args, config)
