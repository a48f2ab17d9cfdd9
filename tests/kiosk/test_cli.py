"""The ``kiosk`` command line starts quickly: registering its commands imports none of the
heavy libraries only some commands need (onnx for model install, insightface's photos for
the benchmarks), so `kiosk --help`, `kiosk tls show` or `kiosk outbox list` answer at once."""

from __future__ import annotations

import subprocess
import sys


def test_the_kiosk_command_line_starts_without_onnx_or_insightface():
    probe = ("import sys\nfrom kiosk.cli import build_parser\nbuild_parser()\n"
             "print(sorted(m for m in ('onnx', 'insightface') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
