"""UI test fixtures: offscreen Qt with the CJK font, a real kiosk runtime (real engine, real
SQLite outbox, real recognition of bundled face images) against an in-memory platform."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any QApplication exists

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from device.camera import FrameSource
from device.camera.grabbers import ImageFolderGrabber
from device.opencv import cv2
from kiosk.config import FlowConfig, KioskConfig
from kiosk.outbox import Outbox
from kiosk.recognition.engine import FaceEngine
from kiosk.recognition.gallery import Gallery
from kiosk.runtime import KioskRuntime
from tests.ui.helpers import ASTRO, BILL_ITEMS, HANKS, padded
from tests.ui.platform_double import BillRecord, PlatformDouble
from ui.app import create_app
from ui.kiosk_window import KioskWindow
from ui.port import KioskPort


@pytest.fixture(scope="session", autouse=True)
def ui_app(qapp):
    _, checks = create_app()
    assert all(check.ok for check in checks), [c.line() for c in checks]
    return qapp


@pytest.fixture(scope="session")
def enrolled(engine: FaceEngine, astronaut: np.ndarray, hanks: np.ndarray
             ) -> list[tuple[str, object]]:
    """Gallery templates from *other* pictures than the camera shows: the astronaut mirrored
    and darker, Tom Hanks framed like a camera would."""
    enrol_astro = cv2.convertScaleAbs(np.ascontiguousarray(astronaut[:, ::-1]), alpha=0.8)
    return [("P-ASTRO", engine.template_for(enrol_astro, strict=False)),
            ("P-HANKS", engine.template_for(padded(hanks, (480, 480)), strict=False))]


@pytest.fixture
def platform() -> PlatformDouble:
    double = PlatformDouble()
    for person in (ASTRO, HANKS):
        double.persons[person.patient_id] = replace(person)
    double.bills["B1"] = BillRecord("B1", "P-ASTRO", list(BILL_ITEMS), basic_pct=70,
                                    critical_fen=3_000)
    double.bills["B9"] = BillRecord("B9", "P-HANKS", [("门诊诊查费", "treatment", 2_000)])
    return double


@pytest.fixture
def make_runtime(tmp_path: Path, engine: FaceEngine, platform: PlatformDouble,
                 enrolled) -> Iterator[Callable[..., KioskRuntime]]:
    started: list[KioskRuntime] = []

    def make(flow: FlowConfig | None = None, clock: Callable[[], float] = time.monotonic,
             camera: FrameSource | None = None) -> KioskRuntime:
        config = KioskConfig(flow=flow or FlowConfig())
        gallery = Gallery(engine.pack, engine.manifest.embedding_dim)
        for person_id, template in enrolled:
            gallery.add(person_id, template)
        runtime = KioskRuntime(config, engine, gallery, platform,
                               Outbox(tmp_path / f"outbox{len(started)}.sqlite"), clock=clock)
        started.append(runtime)
        return runtime.start(camera=camera, sync=False)

    yield make
    for runtime in started:
        runtime.stop()
        runtime.outbox.close()


@pytest.fixture
def replay_camera(tmp_path: Path, astronaut: np.ndarray) -> Iterator[FrameSource]:
    """A camera replaying the astronaut standing in front of the kiosk."""
    folder = tmp_path / "camera"
    folder.mkdir()
    cv2.imwrite(str(folder / "frame.png"), padded(astronaut))
    source = FrameSource(ImageFolderGrabber(folder, fps=6)).start()
    yield source
    source.stop()


@pytest.fixture
def make_window(qtbot) -> Callable[..., KioskWindow]:
    def make(port: KioskPort, size: tuple[int, int] = (1024, 768), **kwargs) -> KioskWindow:
        window = KioskWindow(port, **kwargs)
        qtbot.addWidget(window)
        window.resize(*size)
        window.show()
        return window

    return make

