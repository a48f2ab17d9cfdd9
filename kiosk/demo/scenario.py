"""The whole story on one machine: a hospital platform on loopback, credit users enrolled
from bundled real face photos with consent, a provisioned kiosk with a replay camera of the
demo patient, and one checkout from the first frame to the printed receipt, every prompt
spoken into a WAV file under ``voice/``."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.logs import setup_logging
from common.opencv import cv2
from common.package_data import package_file
from common.paths import absolute_path
from kiosk.app import KioskApp
from kiosk.config import KioskConfig
from kiosk.demo.local_platform import LocalPlatform, make_platform
from kiosk.demo.payments import start_payment_simulator
from kiosk.flow.machine import FlowView
from kiosk.flow.model import State
from kiosk.provisioning import connect
from kiosk.recognition.engine import FaceEngine
from kiosk.recognition.geometry import align_face
from kiosk.recognition.images import read_image_file

CONSENT_VERSION = "credit-face-v1"
DEMO_PATIENT = "P1001"


def demo_faces(engine: FaceEngine) -> dict[str, np.ndarray]:
    """Patient id -> a real face photo: the astronaut (the demo patient at the kiosk), Tom
    Hanks, and four people of insightface's group photo t1.jpg."""
    from skimage import data

    images = package_file("insightface", "data", "images")
    faces = {DEMO_PATIENT: np.ascontiguousarray(data.astronaut()[..., ::-1]),
             "P1002": read_image_file(images / "Tom_Hanks_54745.png")}
    group = read_image_file(images / "t1.jpg")
    people = sorted(engine.detect(group), key=lambda d: d.box[0])[:4]
    for number, det in enumerate(people, start=3):
        faces[f"P100{number}"] = align_face(group, det.landmarks, size=224)
    return faces


@dataclass
class DemoResult:
    views: list[FlowView] = field(default_factory=list)
    recognised: str = ""
    settlement_id: str = ""
    receipt_files: list[Path] = field(default_factory=list)
    voice_files: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def final(self) -> FlowView:
        return self.views[-1]


class Demo:
    """Set up everything under ``workdir`` (wiped first); ``run_checkout`` drives one patient."""

    def __init__(self, workdir: Path, engine: FaceEngine | None = None,
                 log_level: str | None = None) -> None:
        """``log_level``: this process logs to ``workdir/logs`` (set up after the wipe, so
        provisioning and the first sync are in it); the platform to its own var/logs."""
        workdir = absolute_path(workdir)
        if workdir.exists():
            shutil.rmtree(workdir)
        self.workdir = workdir
        if log_level is not None:
            setup_logging(log_level, workdir / "logs", "kiosk")
        # repayments by QR (我的欠款, 为家人还款) go through the simulated payment provider
        self.payments = start_payment_simulator(workdir / "payments")
        self.platform: LocalPlatform = make_platform(workdir / "platform", scope="open_bills",
                                                payments=self.payments)
        # the other patients' bills of the day arrive from the simulated hospital system
        self.fed = self.platform.feed_bills(10, 20.0, [
            p["patient_id"] for p in self.platform.seed["patients"]
            if p["patient_id"] != DEMO_PATIENT])
        engine = engine or FaceEngine.from_config(KioskConfig())
        faces = demo_faces(engine)
        counter = connect(self.platform.device("counter", "counter"))
        now = dt.datetime.now(dt.UTC)
        for patient_id, image in faces.items():
            counter.enrol(patient_id, engine.template_for(image, strict=False),
                          CONSENT_VERSION, now)
        self.counter = counter
        camera_still = workdir / "camera" / "demo-patient.png"
        camera_still.parent.mkdir(parents=True)
        cv2.imwrite(str(camera_still), faces[DEMO_PATIENT])
        self.config = self.platform.device("kiosk", "kiosk", (
            '[demo]\nsimulated_devices = true\n'
            '[liveness]\npolicy = "off"  # a replayed photo cannot turn its head\n'
            f'[devices.camera]\ndriver = "synthetic"\npath = "{camera_still}"\n'
            f'[devices.printer]\ndriver = "file"\npath = "{workdir / "printer"}"\n'
            f'spool_dir = "{workdir / "receipts"}"\n'
            f'[devices.speaker]\ndriver = "wav-dir"\npath = "{workdir / "voice"}"\n'))
        self.app = KioskApp(self.config, engine=engine)
        self.app.runtime.sync_once()

    def run_checkout(self, on_view: Callable[[FlowView], None] | None = None,
                     timeout_s: float = 60.0) -> DemoResult:
        result = DemoResult()
        runtime = self.app.runtime
        seen: list[FlowView] = []
        runtime.subscribe(seen.append)
        started = time.monotonic()
        self.app.start()
        runtime.start_face()  # the patient touches 刷脸支付: a face in view alone never starts
        confirmed = False
        try:
            while time.monotonic() - started < timeout_s:
                while seen:
                    view = seen.pop(0)
                    result.views.append(view)
                    if on_view is not None:
                        on_view(view)
                    if view.state == State.BILL_REVIEW and not confirmed:
                        result.recognised = view.patient.name_masked if view.patient else ""
                        confirmed = True
                        runtime.confirm()  # the patient checks the bill and confirms
                    if view.state in (State.DONE, State.FALLBACK):
                        result.seconds = time.monotonic() - started
                        if view.result is not None:
                            result.settlement_id = view.result.settlement_id or ""
                        self._await_receipt(result)
                        return result
                time.sleep(0.02)
            raise TimeoutError(f"no checkout within {timeout_s} s; last: {runtime.last_view}")
        finally:
            self.app.stop()
            result.voice_files = self.voice_files()  # once the voice is quiet: all of it

    def _await_receipt(self, result: DemoResult, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        folder = self.workdir / "printer"
        while time.monotonic() < deadline and result.settlement_id:
            files = sorted(folder.glob(f"*{result.settlement_id}*")) if folder.exists() else []
            if files:
                result.receipt_files = files
                return
            time.sleep(0.1)

    def voice_files(self) -> list[Path]:
        """Every prompt spoken so far, in order (the wav-dir speaker numbers them)."""
        return sorted((self.workdir / "voice").glob("*.wav"))

    def close(self) -> None:
        self.platform.stop()
        self.payments.stop()


def voice_summary(files: list[Path]) -> list[str]:
    """The summary's lines for the spoken prompts: how many, where, and each file."""
    if not files:
        return ["voice:       nothing spoken (see kiosk devices test speaker)"]
    return [f"voice:       {len(files)} prompts spoken, WAVs in {files[0].parent}",
            *(f"  {path.name}" for path in files)]
