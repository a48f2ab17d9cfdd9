"""Stand-ins for devices the config does not name (``driver = "none"``, the default).

A terminal with no ``[devices.camera]`` must not quietly scan a bundled photo: it gets a
camera that delivers nothing and reports ``camera.not_configured`` as failed health, so the
kiosk offers no face pay, ``kiosk doctor`` FAILs it by name, and the cashier is the way on.
"""

from __future__ import annotations

import time

import numpy as np

from common.errors import ErrorCode
from device.camera.source import FrameSource
from device.card.base import CardData, CardReader
from device.errors import CardReaderUnavailable, DeviceError
from device.health import DeviceHealth, not_configured
from device.scanner.base import Scan, Scanner


class _NoGrabber:
    name = "none"

    def open(self) -> None:
        raise DeviceError("no camera configured", code=ErrorCode.CAMERA_NOT_CONFIGURED)

    def read(self) -> np.ndarray:
        raise DeviceError("no camera configured", code=ErrorCode.CAMERA_NOT_CONFIGURED)

    def close(self) -> None:
        return None

    def pace_fps(self) -> float:
        return 0.0


class UnconfiguredCamera(FrameSource):
    """Never opens anything; ``latest`` waits out its timeout and returns no frame."""

    def __init__(self) -> None:
        super().__init__(_NoGrabber())

    def start(self) -> UnconfiguredCamera:
        return self

    def stop(self, timeout: float = 5.0) -> None:
        return None

    def latest(self, timeout: float | None = None) -> None:
        time.sleep(timeout or 0)

    def health(self) -> DeviceHealth:
        return not_configured("camera")


class UnconfiguredScanner(Scanner):
    def read(self, timeout: float | None = None) -> Scan | None:
        time.sleep(timeout or 0)
        return None

    def health(self) -> DeviceHealth:
        return not_configured("scanner")

    def close(self) -> None:
        return None


class UnconfiguredCardReader(CardReader):
    def read_card(self, timeout: float | None = None) -> CardData:
        raise CardReaderUnavailable("no card reader configured", code=ErrorCode.CARD_NOT_CONFIGURED)

    def health(self) -> DeviceHealth:
        return not_configured("card")

    def check(self) -> DeviceHealth:
        return self.health()

    def close(self) -> None:
        return None
