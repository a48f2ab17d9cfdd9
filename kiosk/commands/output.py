"""Shared CLI output: JSON lines for machines, short lines for people, stable exit codes."""

from __future__ import annotations

import json
import sys
from typing import Any

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_SETUP = 3  # models not installed, config invalid: IT must act


def emit_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n")
    sys.stdout.flush()


def fail(message: str) -> None:
    """One line on stderr, the reason a person needs to fix the input."""
    sys.stderr.write(f"kiosk: error: {message.splitlines()[0] if message else 'failed'}\n")
