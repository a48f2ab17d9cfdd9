"""Doctor-style checks of the UI's platform: one PASS/FAIL line each, with a stable code."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import PySide6
from PySide6.QtCore import QObject, qVersion

from common.errors import ErrorCode

PROBE_CALLS = 1_000


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""
    code: ErrorCode | Literal["ok"] = "ok"  # a registry code when not ok

    def line(self) -> str:
        if self.ok:
            return f"PASS {self.name}: {self.detail}"
        return f"FAIL {self.name}: {self.code}: {self.detail}"


def display_check(env: Mapping[str, str]) -> Check | None:
    """Qt's xcb plugin aborts the process (SIGABRT) when it finds no display; say so first.
    None when a platform was chosen or a display is there."""
    if env.get("QT_QPA_PLATFORM") or env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return Check("qt platform", False,
                 "no display (DISPLAY and WAYLAND_DISPLAY unset): start under the kiosk's X "
                 "session, or set QT_QPA_PLATFORM=offscreen for a headless check",
                 ErrorCode.QT_NO_DISPLAY)


def binding_check() -> Check:
    """PySide6 6.12.0 on CPython 3.11 drops a reference to ``None`` on every call of a method
    that returns nothing; after some hundred thousand calls the interpreter aborts
    ("none_dealloc"), i.e. a kiosk dies after a few hours. Measured, not guessed from versions
    (``None`` is immortal from Python 3.12, where the bug is harmless)."""
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(PROBE_CALLS):
        probe.setObjectName("probe")
    lost = before - sys.getrefcount(None)
    version = f"PySide6 {PySide6.__version__}, Qt {qVersion()}"
    if lost > PROBE_CALLS // 2:
        return Check("qt binding", False,
                     f"{version} loses a reference to None on every call and will abort "
                     "the kiosk: install PySide6-Essentials<6.12 (or run on Python 3.12+)",
                     ErrorCode.QT_REFCOUNT_BUG)
    return Check("qt binding", True, version)
