"""Hands flow snapshots and camera frames from the kiosk's threads to the GUI thread.

The runtime calls its listeners on the flow thread and the recognition thread; widgets may
only be touched on the GUI thread. Emitting a signal of an object that lives in the GUI
thread from another thread queues the call, so the slots run later on the GUI thread. Camera
frames are converted and shrunk on the recognition thread, and a new frame is dropped while
the GUI has not yet shown the previous one, so a busy GUI never builds a backlog.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QRectF, Signal
from PySide6.QtGui import QImage

from kiosk.flow.machine import FlowView
from ui.port import KioskPort

log = logging.getLogger(__name__)

PREVIEW_MAX_PX = 720  # longest side of the preview image sent to the GUI


def to_qimage(bgr: np.ndarray, max_px: int = PREVIEW_MAX_PX) -> tuple[QImage, float]:
    """A shrunk, GUI-owned copy of a BGR frame, and the scale applied to it."""
    height, width = bgr.shape[:2]
    frame = np.ascontiguousarray(bgr if bgr.ndim == 3 else np.repeat(bgr[..., None], 3, 2))
    image = QImage(frame.data, width, height, frame.strides[0], QImage.Format.Format_BGR888)
    scale = min(1.0, max_px / max(width, height))
    if scale < 1.0:
        image = image.scaledToWidth(round(width * scale))
        return image, image.width() / width
    return image.copy(), 1.0  # copy: the QImage must not point into the caller's array


class RuntimeBridge(QObject):
    view_changed = Signal(object)  # FlowView
    frame_ready = Signal(QImage, object)  # preview image, face box (QRectF in its pixels)|None

    def __init__(self, port: KioskPort, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.port = port
        self._frame_pending = threading.Event()
        self.frames_shown = 0
        self.frames_dropped = 0

    def start(self) -> None:
        """Subscribe, once the slots are connected: the runtime sends the present view at
        once, and a view emitted before anything listens would be lost."""
        self.port.subscribe(self._on_view)
        self.port.subscribe_preview(self._on_preview)

    def _on_view(self, view: FlowView) -> None:
        try:
            self.view_changed.emit(view)
        except RuntimeError:  # the window is gone; the runtime's thread must carry on
            log.debug("view dropped: bridge deleted")

    def _on_preview(self, image: np.ndarray, face: Any) -> None:
        if self._frame_pending.is_set():
            self.frames_dropped += 1
            return
        try:
            qimage, scale = to_qimage(image)
            box = None
            if face is not None:
                x1, y1, x2, y2 = (float(v) * scale for v in face.box)
                box = QRectF(x1, y1, x2 - x1, y2 - y1)
            self._frame_pending.set()
            self.frame_ready.emit(qimage, box)
        except RuntimeError:
            log.debug("frame dropped: bridge deleted")
        except (ValueError, TypeError, AttributeError) as exc:  # a malformed frame: skip it
            self._frame_pending.clear()
            log.warning("preview.bad_frame", extra={"error": type(exc).__name__})

    def frame_consumed(self) -> None:
        """The GUI has shown the last frame: the next one may be sent."""
        self.frames_shown += 1
        self._frame_pending.clear()
