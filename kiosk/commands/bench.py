"""``kiosk bench recognition|liveness|platform``: the benchmarks behind the README's tables
(benchmarks/recognition.py, benchmarks/liveness/, benchmarks/server_load.py)."""

from __future__ import annotations

import argparse

from benchmarks import recognition, server_load
from benchmarks.liveness import cli as liveness
from kiosk.config import KioskConfig


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmarks (print a table, write JSON)")
    bsub = bench.add_subparsers(dest="bench_command", required=True)
    p = bsub.add_parser("recognition", help="detect/align/embed per frame and 1:N search")
    recognition.add_arguments(p)
    p.set_defaults(func=cmd_recognition)
    p = bsub.add_parser("liveness", help="APCER/BPCER of the liveness check")
    liveness.add_arguments(p)
    p.set_defaults(func=lambda args, _config: liveness.run(args))
    p = bsub.add_parser("platform", help="settlements/s and latency of the platform")
    server_load.add_arguments(p)
    p.set_defaults(func=lambda args, _config: server_load.run(args))


def cmd_recognition(args: argparse.Namespace, config: KioskConfig) -> int:
    return recognition.run(args, config)
