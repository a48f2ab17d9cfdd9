"""UI test fixtures: offscreen Qt with the CJK font; the real platform (``server_stub`` as a
subprocess on loopback with a fresh SQLite, seeded demo hospital) per test module; kiosk
runtimes with the real engine, a real SQLite outbox and the signed client of a provisioned
kiosk; the counter's signed client for the cashier console."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any QApplication exists

import dataclasses
import datetime as dt
import json
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from common.opencv import cv2
from device.camera import FrameSource
from device.camera.grabbers import ImageFolderGrabber
from device.config import PrinterConfig
from device.printer import Receipt
from device.printer.receipt_printer import ReceiptPrinter
from kiosk.client import PlatformClient
from kiosk.config import FlowConfig, KioskConfig
from kiosk.demo.local_platform import LocalPlatform, make_platform
from kiosk.i18n import yuan
from kiosk.protocol.schemas import PaymentMethod, Quote, QuoteRequest
from kiosk.provisioning import connect
from kiosk.recognition.engine import FaceEngine
from kiosk.recognition.gallery import Gallery
from kiosk.recognition.template import Template
from kiosk.runtime import KioskRuntime
from kiosk.settlement.outbox import Outbox
from tests.ui.helpers import (
    ASTRO_NAME,
    ASTRO_NATIONAL_ID,
    ASTRO_PHONE,
    BILL_ITEMS,
    CONSENT,
    P1003,
    Person,
    padded,
)
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
             ) -> list[tuple[str, Template]]:
    """Gallery templates from *other* pictures than the camera shows: the astronaut mirrored
    and darker, Tom Hanks framed like a camera would."""
    enrol_astro = cv2.convertScaleAbs(np.ascontiguousarray(astronaut[:, ::-1]), alpha=0.8)
    return [("astronaut", engine.template_for(enrol_astro, strict=False)),
            ("hanks", engine.template_for(padded(hanks, (480, 480)), strict=False))]


@pytest.fixture(scope="module")
def platform(tmp_path_factory) -> Iterator[LocalPlatform]:
    """The real platform for this module's tests (each test uses its own patients)."""
    started = make_platform(tmp_path_factory.mktemp("platform"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def counter(platform: LocalPlatform, enrolled) -> PlatformClient:
    """The cashier counter's signed client. It enrolled Tom Hanks's face for P1003, with
    consent, so every kiosk gallery holds someone besides the patient in front of it."""
    client = connect(platform.device("counter", "counter"))
    client.enrol(P1003.patient_id, dict(enrolled)["hanks"], CONSENT, dt.datetime.now(dt.UTC))
    return client


@pytest.fixture(scope="module")
def kiosk_config(platform: LocalPlatform) -> KioskConfig:
    return platform.device("kiosk", "kiosk")


@pytest.fixture(scope="module")
def kiosk_client(kiosk_config: KioskConfig) -> PlatformClient:
    return connect(kiosk_config)


@pytest.fixture(scope="module")
def server_day(counter: PlatformClient) -> dt.date:
    """The platform's "today" (its time zone decides, not this machine's)."""
    return dt.date.fromisoformat(counter.settlements_today().date)


def register_astronaut(platform: LocalPlatform, counter: PlatformClient, template: Template
                       ) -> Person:
    """A new credit user whose face is the astronaut's, with one pending bill of
    ``BILL_ITEMS``: registered as the hospital's systems would (admin CLI), face enrolled
    at the counter with consent."""
    patient_id = f"PA{uuid.uuid4().hex[:10].upper()}"
    card_no = f"CA{uuid.uuid4().hex[:14].upper()}"
    platform.admin("user", "enrol", "--patient-id", patient_id, "--name", ASTRO_NAME,
                   "--national-id", ASTRO_NATIONAL_ID, "--phone", ASTRO_PHONE,
                   "--category", "employee", "--card-no", card_no, "--consent-version", CONSENT)
    items = [f"{kind}:{text}:1:{fen}" for text, kind, fen in BILL_ITEMS]
    bill = json.loads(platform.admin("bill", "create", "--site", platform.seed["site_id"],
                                     "--patient", patient_id, "--visit", f"V{patient_id}",
                                     *(arg for item in items for arg in ("--item", item))))
    counter.enrol(patient_id, template, CONSENT, dt.datetime.now(dt.UTC))
    quote = counter.request("POST", "/v1/quotes", QuoteRequest(
        bill_id=bill["bill_id"], patient_id=patient_id, method=PaymentMethod.CARD), model=Quote)
    return Person(patient_id, "王*芳", "3301**********1234", ASTRO_PHONE[-4:], card_no,
                  bill["bill_id"], yuan(sum(fen for *_, fen in BILL_ITEMS)),
                  yuan(quote.layers.self_pay_fen), ("头孢克肟", "血常规", "胸部"))


@pytest.fixture
def astro(platform: LocalPlatform, counter: PlatformClient, enrolled) -> Iterator[Person]:
    """The patient in front of the camera (a fresh one per test, so a face maps to one
    bill); consent withdrawn afterwards, so no later gallery holds her face twice."""
    person = register_astronaut(platform, counter, dict(enrolled)["astronaut"])
    yield person
    counter.withdraw_consent(person.patient_id, "test finished")


@pytest.fixture
def make_runtime(tmp_path: Path, engine: FaceEngine, kiosk_config: KioskConfig,
                 counter: PlatformClient) -> Iterator[Callable[..., KioskRuntime]]:
    """Runtimes of the provisioned kiosk, each with its gallery synced from the platform
    first (Tom Hanks's face, and the astronaut's when a test registered her)."""
    started: list[KioskRuntime] = []

    def make(flow: FlowConfig | None = None, clock: Callable[[], float] = time.monotonic,
             camera: FrameSource | None = None,
             printer: ReceiptPrinter | None = None) -> KioskRuntime:
        config = dataclasses.replace(kiosk_config, flow=flow or FlowConfig())
        gallery = Gallery(engine.pack, engine.manifest.embedding_dim)
        prints = None if printer is None else (
            lambda receipt: printer.print_receipt(Receipt.from_dict(receipt)))
        runtime = KioskRuntime(config, engine, gallery, connect(config),
                               Outbox(tmp_path / f"outbox{len(started)}.sqlite"),
                               printer=prints, clock=clock)
        runtime.sync_once()
        started.append(runtime)
        return runtime.start(camera=camera, sync=False)

    yield make
    for runtime in started:
        runtime.stop()
        runtime.outbox.close()


@pytest.fixture
def receipt_printer(tmp_path: Path) -> ReceiptPrinter:
    """The kiosk's receipt printer writing ESC/POS jobs to a folder, spooling every slip."""
    return ReceiptPrinter(PrinterConfig(driver="file", path=str(tmp_path / "printer"),
                                        spool_dir=str(tmp_path / "receipts")))


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


@pytest.fixture
def xvfb() -> Iterator[str]:
    """A real X server (Xvfb, 1280x1024, no window manager); yields its DISPLAY."""
    binary = shutil.which("Xvfb")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("Xvfb is missing: CI must install Debian's xvfb (see docs/ui.md)")
        pytest.skip("Xvfb not installed (apt-get install xvfb)")
    read, write = os.pipe()
    proc = subprocess.Popen([binary, "-displayfd", str(write), "-screen", "0", "1280x1024x24",
                             "-nolisten", "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()  # Xvfb writes its display number once it is ready
    try:
        assert number.isdigit(), "Xvfb did not start"
        yield f":{number}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
