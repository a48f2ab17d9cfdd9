"""Audit anchors outside the database: the head of every money reply, appended to a file.

The audit chain proves the database was not edited, but not that it was not *replaced*: a
copy restored from last night is a perfectly valid, shorter chain. So every head handed to a
device in a money reply is also appended here, after its transaction committed, and
``kiosk-server audit verify`` checks that each one is still in the chain with the same hash.
The file lives beside the database by default but is never part of a database backup or
restore, which is the point: restoring an earlier copy leaves anchors the chain lacks.

Format: JSON lines ``{"seq": N, "hash": "<64 hex>", "at": "<RFC 3339>"}``, in the order
written (several worker processes append to one file; ``O_APPEND`` keeps lines whole).
Appends are group-fsync'd: concurrent repliers share one ``fsync``. An append that fails
(a full disk) is logged and does not fail the reply: the settlement is committed, and the
device keeps the same head as an anchor of its own (``POST /v1/reconcile``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

from kiosk.protocol.schemas import AuditHead
from server_stub.audit import Anchor

log = logging.getLogger("server_stub.anchors")
_HASH = re.compile(r"^[0-9a-f]{64}$")


def line_of(head: AuditHead) -> bytes:
    at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return (json.dumps({"seq": head.seq, "hash": head.hash, "at": at},
                       separators=(",", ":")) + "\n").encode("ascii")


class AnchorFile:
    """Appends heads to the anchor file; one ``fsync`` covers every line queued meanwhile."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._cond = threading.Condition()
        self._pending: list[bytes] = []
        self._queued = 0  # lines handed to append() so far
        self._done = 0  # lines written (or given up on) so far
        self._writing = False
        self._fd: int | None = None

    def append(self, head: AuditHead) -> None:
        """Blocking (call it from a worker thread): returns once the line is on disk, or
        its write failed and was logged."""
        with self._cond:
            self._pending.append(line_of(head))
            self._queued += 1
            mine = self._queued
            while self._done < mine:
                if self._writing:
                    self._cond.wait()
                    continue
                batch, self._pending, upto = self._pending, [], self._queued
                self._writing = True
                self._cond.release()
                try:
                    self._write(b"".join(batch), len(batch))
                finally:
                    self._cond.acquire()
                    self._writing, self._done = False, upto
                    self._cond.notify_all()

    def _write(self, data: bytes, lines: int) -> None:
        try:
            if self._fd is None:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(f"short write: {written} of {len(data)} bytes")
            os.fsync(self._fd)
        except OSError as exc:
            log.error("audit anchor not written", extra={
                "path": self.path, "lines": lines, "error": f"{type(exc).__name__}: {exc}"})
            self.close()

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def read(path: str) -> tuple[list[Anchor], int]:
    """Every anchor in the file (none if it does not exist) and the number of lines that
    are not one (a line torn by a crash mid-write)."""
    anchors: list[Anchor] = []
    unreadable = 0
    for number, line in _lines(path):
        try:
            entry = json.loads(line)
            seq, digest = entry["seq"], entry["hash"]
        except (ValueError, KeyError, TypeError):
            unreadable += 1
            continue
        if type(seq) is not int or seq < 1 or not isinstance(digest, str) \
                or not _HASH.match(digest):
            unreadable += 1
            continue
        anchors.append(Anchor(seq, digest, f"anchor file line {number}"))
    return anchors, unreadable


def _lines(path: str) -> Iterator[tuple[int, str]]:
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            for number, line in enumerate(file, 1):
                if line.strip():
                    yield number, line
    except FileNotFoundError:
        return
