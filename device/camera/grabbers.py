"""Grabbers: the blocking, single-threaded side of each camera kind.

A grabber only opens, reads one image and closes; it raises ``CameraUnavailable`` /
``CameraDisconnected`` / ``CameraEnded`` and knows nothing of threads, queues or retries, which
``FrameSource`` adds uniformly. That keeps each backend small and testable on its own.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from common.opencv import cv2
from device.errors import CameraDisconnected, CameraEnded, CameraUnavailable

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp")


class Grabber(Protocol):
    name: str  # safe to log: URL passwords are masked

    def open(self) -> None: ...

    def read(self) -> np.ndarray: ...

    def close(self) -> None: ...

    def pace_fps(self) -> float:
        """Frames per second the source thread should pace reads at; 0 when ``read`` itself
        blocks at the device's rate (a live camera)."""
        ...


def safe_source_name(device: str) -> str:
    """rtsp://user:secret@cam/stream -> rtsp://user:***@cam/stream (names end up in logs)."""
    parts = urlsplit(device)
    if parts.scheme and parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
    return device


def capture_target(device: str) -> tuple[int | str, int, bool]:
    """(what VideoCapture opens, API preference, is a network stream) for a config value."""
    is_linux = sys.platform.startswith("linux")
    if device.isdigit():
        return int(device), cv2.CAP_V4L2 if is_linux else cv2.CAP_ANY, False
    if device.startswith("/dev/video"):
        return device, cv2.CAP_V4L2 if is_linux else cv2.CAP_ANY, False
    if urlsplit(device).scheme in STREAM_SCHEMES:
        return device, cv2.CAP_FFMPEG, True
    return device, cv2.CAP_ANY, False


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Cameras with CONVERT_RGB unsupported may hand out grey or BGRA images."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class OpenCVGrabber:
    """A USB/built-in camera (index or /dev/videoN) or a network stream, via VideoCapture."""

    def __init__(self, device: str, *, width: int, height: int, fps: float, fourcc: str = "",
                 open_timeout_s: float = 5.0) -> None:
        self.device = device
        self.name = safe_source_name(device)
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self.open_timeout_s = open_timeout_s
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        target, api, stream = capture_target(self.device)
        timeout_ms = int(self.open_timeout_s * 1000)
        # only FFmpeg takes timeouts; other backends refuse unknown parameters
        params = ([cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms,
                   cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms] if stream else [])
        try:
            cap = cv2.VideoCapture(target, api, params)
        except cv2.error as exc:
            raise CameraUnavailable(f"cannot open camera {self.name}: {exc}",
                                    source=self.name) from exc
        if not cap.isOpened():
            cap.release()
            raise CameraUnavailable(f"cannot open camera {self.name}", source=self.name)
        if self.fourcc:  # before the size: V4L2 picks sizes per pixel format
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*self.fourcc))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # where supported: no stale frames in the driver
        self._cap = cap

    def read(self) -> np.ndarray:
        if self._cap is None:
            raise CameraDisconnected(f"camera {self.name} is not open", source=self.name)
        try:
            ok, image = self._cap.read()
        except cv2.error as exc:  # some backends raise instead of returning False
            raise CameraDisconnected(f"camera {self.name} read failed: {exc}",
                                     source=self.name) from exc
        if not ok or image is None or image.size == 0:
            raise CameraDisconnected(f"camera {self.name} stopped delivering frames",
                                     source=self.name)
        return as_bgr(image)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def pace_fps(self) -> float:
        return 0.0


class VideoFileGrabber:
    """A recorded video replayed at its own (or a configured) rate, for demos and tests.

    Each loop reopens the file from disk, so replacing or removing it behaves like swapping or
    unplugging a camera.
    """

    def __init__(self, path: str | Path, *, fps: float = 0.0, loop: bool = True) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self.fps, self.loop = fps, loop
        self._cap: cv2.VideoCapture | None = None
        self._native_fps = 0.0

    def open(self) -> None:
        if not self.path.is_file():
            raise CameraUnavailable(f"video file {self.name} not found", source=self.name)
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_ANY)
        if not cap.isOpened():
            cap.release()
            raise CameraUnavailable(f"{self.name} is not a readable video", source=self.name)
        self._native_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._cap = cap

    def read(self) -> np.ndarray:
        if self._cap is None:
            raise CameraDisconnected(f"video {self.name} is not open", source=self.name)
        ok, image = self._cap.read()
        if ok and image is not None:
            return as_bgr(image)
        if not self.loop:
            raise CameraEnded(f"video {self.name} ended", source=self.name)
        self.close()
        try:
            self.open()
        except CameraUnavailable as exc:
            raise CameraDisconnected(exc.message, source=self.name) from exc
        assert self._cap is not None
        ok, image = self._cap.read()
        if not ok or image is None:
            raise CameraDisconnected(f"video {self.name} has no frames", source=self.name)
        return as_bgr(image)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def pace_fps(self) -> float:
        return self.fps or self._native_fps or 25.0


class ImageFolderGrabber:
    """Every image in a folder in name order, as frames; unreadable files are skipped."""

    def __init__(self, folder: str | Path, *, fps: float, loop: bool = True) -> None:
        self.folder = Path(folder)
        self.name = str(self.folder)
        self.fps, self.loop = fps, loop
        self._files: list[Path] = []
        self._index = 0

    def open(self) -> None:
        if not self.folder.is_dir():
            raise CameraUnavailable(f"image folder {self.name} not found", source=self.name)
        files = sorted(p for p in self.folder.iterdir()
                       if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise CameraUnavailable(f"no images in {self.name}", source=self.name)
        self._files, self._index = files, 0

    def read(self) -> np.ndarray:
        if not self._files:
            raise CameraDisconnected(f"image folder {self.name} is not open", source=self.name)
        for _ in range(len(self._files)):
            if self._index >= len(self._files):
                if not self.loop:
                    raise CameraEnded(f"image folder {self.name} ended", source=self.name)
                self._rescan()
            path = self._files[self._index]
            self._index += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                return image
            log.warning("unreadable image skipped", extra={"device": "camera",
                                                           "file": path.name})
        raise CameraDisconnected(f"no readable images left in {self.name}", source=self.name)

    def _rescan(self) -> None:
        try:
            self.open()
        except CameraUnavailable as exc:
            self._files = []
            raise CameraDisconnected(exc.message, source=self.name) from exc

    def close(self) -> None:
        self._files, self._index = [], 0

    def pace_fps(self) -> float:
        return self.fps
