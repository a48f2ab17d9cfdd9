"""systemd readiness and watchdog for the Qt apps (``deploy/*.service``, ``Type=notify``).

READY=1 goes out from the event loop's first turn after the window was shown, so "started"
means the kiosk is on screen. WATCHDOG=1 is sent by a QTimer on that same loop at half of
``WATCHDOG_USEC``: a GUI thread that hangs stops pinging and systemd restarts the service.
Without ``NOTIFY_SOCKET`` (a terminal, the tests, ``make demo``) nothing is sent.

``WATCHDOG_PID`` is not checked: under ``xinit`` the service's main PID is xinit, not this
process, and the unit sets ``NotifyAccess=all`` so systemd accepts our messages anyway.
"""

from __future__ import annotations

import logging
import os

import sdnotify
from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)


def watchdog_interval_ms(environ: dict[str, str] | os._Environ[str] = os.environ) -> int | None:
    """Half of systemd's ``WATCHDOG_USEC`` in milliseconds (at least 1), or None if unset."""
    text = environ.get("WATCHDOG_USEC", "")
    if not text.isdigit() or int(text) == 0:
        return None
    return max(1, int(text) // 2000)


def notify_systemd(parent: QObject) -> QTimer | None:
    """Queue READY=1 for the event loop's first turn and start the WATCHDOG=1 timer, both
    owned by ``parent`` (the shown window). Returns the watchdog timer, if there is one."""
    if not os.environ.get("NOTIFY_SOCKET"):
        return None
    notifier = sdnotify.SystemdNotifier()
    QTimer.singleShot(0, parent, lambda: notifier.notify("READY=1"))
    interval = watchdog_interval_ms()
    log.info("ui.systemd_notify", extra={"watchdog_ms": interval})
    if interval is None:
        return None
    timer = QTimer(parent, interval=interval)
    timer.timeout.connect(lambda: notifier.notify("WATCHDOG=1"))
    timer.start()
    return timer
