"""argparse value types the kiosk's, the platform's and the benchmarks' command lines share,
so a wrong number is one clear usage line (exit 2), not a traceback deep in the work."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """A whole number of at least 1 (a count of frames, bills, queries, templates)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)
