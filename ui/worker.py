"""Run slow calls (the platform over the network, template making) off the GUI thread and
get the outcome back on it. One small pool: a console does one thing at a time, and a
second click while a call is in flight must not start a second call of the same kind."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class Worker(QObject):
    _finished = Signal(int, bool, object)  # ticket, ok, result or exception

    def __init__(self, parent: QObject | None = None, max_workers: int = 2) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ui-work")
        self._callbacks: dict[int, tuple[Callable[[Any], None],
                                         Callable[[BaseException], None]]] = {}
        self._busy: dict[str, int] = {}
        self._next = 0
        self._finished.connect(self._deliver)

    def busy(self, kind: str) -> bool:
        return kind in self._busy

    def submit(self, kind: str, call: Callable[[], Any], on_ok: Callable[[Any], None],
               on_error: Callable[[BaseException], None]) -> bool:
        """Run ``call()`` on the pool; ``on_ok(result)`` or ``on_error(exc)`` later runs on
        the GUI thread. Returns False (and runs nothing) while a call of ``kind`` is busy."""
        if kind in self._busy:
            return False
        self._next += 1
        ticket = self._next
        self._busy[kind] = ticket
        self._callbacks[ticket] = (on_ok, on_error)
        self._pool.submit(self._run, ticket, call)
        return True

    def _run(self, ticket: int, call: Callable[[], Any]) -> None:
        try:
            result, ok = call(), True
        except Exception as exc:  # handed to on_error: the GUI decides what to say
            result, ok = exc, False
        try:
            self._finished.emit(ticket, ok, result)
        except RuntimeError:
            log.debug("result dropped: worker deleted")

    def _deliver(self, ticket: int, ok: bool, result: object) -> None:
        self._busy = {kind: t for kind, t in self._busy.items() if t != ticket}
        callbacks = self._callbacks.pop(ticket, None)
        if callbacks is None:
            return
        on_ok, on_error = callbacks
        if ok:
            on_ok(result)
        else:
            assert isinstance(result, BaseException)
            on_error(result)

    def forget(self) -> None:
        """Drop the callbacks of calls in flight (their results would show stale data)."""
        self._callbacks.clear()
        self._busy.clear()

    def shutdown(self) -> None:
        self.forget()
        self._pool.shutdown(wait=False, cancel_futures=True)
