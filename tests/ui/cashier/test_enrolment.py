"""Assisted enrolment in the console: consent acknowledged and recorded with its version and
today's date, a live preview with the quality gate's words, capture of several real frames
from a replayed camera (in demo mode), a template made here and uploaded to the real platform
through the counter's client (and synced back to a kiosk); refusal with a reason, and of a
simulated camera outside demo mode. The capture's rules are tested without Qt in
tests/counter."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import closing

import numpy as np
import pytest

from common.opencv import cv2
from device.camera import FrameSource
from device.camera.grabbers import ImageFolderGrabber
from device.config import CameraConfig, DevicesConfig
from kiosk.config import DemoConfig, KioskConfig
from kiosk.counter.enrolment import CONSENT_VERSION, camera_refusal
from kiosk.counter.platform_service import PlatformCashierService
from kiosk.i18n import tr
from kiosk.recognition.template import Template
from kiosk.settlement.outbox import Outbox
from tests.ui.helpers import P1004, P1006, padded
from ui.cashier.enrolment import EnrolmentPanel
from ui.cashier.words import say
from ui.worker import Worker

REPLAY = CameraConfig(driver="folder", path="/var/replay")  # what camera_of replays

WAIT_MS = 20_000


def variants(image: np.ndarray) -> list[np.ndarray]:
    """The same person over a few moments: the light changes and the sensor is noisy."""
    framed = padded(image).astype(np.int16)
    rng = np.random.default_rng(7)
    out = []
    for alpha in (1.0, 0.9, 1.1, 0.95, 1.05, 1.0):
        noisy = framed + rng.integers(-6, 7, framed.shape, dtype=np.int16)
        out.append(cv2.convertScaleAbs(np.clip(noisy, 0, 255).astype(np.uint8), alpha=alpha))
    return out


@pytest.fixture
def camera_of(tmp_path) -> Iterator:
    sources: list[FrameSource] = []

    def make(frames: list[np.ndarray]) -> FrameSource:
        folder = tmp_path / f"cam{len(sources)}"
        folder.mkdir()
        for i, frame in enumerate(frames):
            cv2.imwrite(str(folder / f"{i:02d}.png"), frame)
        source = FrameSource(ImageFolderGrabber(folder, fps=8)).start()
        sources.append(source)
        return source

    yield make
    for source in sources:
        source.stop()


def gallery_of(kiosk_client) -> dict[str, Template]:
    """What a kiosk of the site would sync: every face enrolled with consent."""
    cursor, faces = 0, {}
    while True:
        page = kiosk_client.sync_gallery(cursor)
        faces.update(page.upserts)
        for patient_id in page.deletions:
            faces.pop(patient_id, None)
        cursor = page.cursor
        if not page.more:
            return faces


def consent_on_record(platform, patient_id: str) -> tuple[str | None, int | None]:
    """The consent version and time the platform stored (read from its SQLite file)."""
    with closing(sqlite3.connect(f"file:{platform.root / 'server.db'}?mode=ro", uri=True)) as db:
        return db.execute("SELECT consent_version, consent_ms FROM users WHERE patient_id = ?",
                          (patient_id,)).fetchone()


@pytest.fixture
def panel_for(qtbot, counter, engine, tmp_path):
    def make(camera, *, demo: bool = True, **kwargs) -> EnrolmentPanel:
        """The panel as the console builds it from a config whose camera replays files:
        allowed on a demo terminal only."""
        config = dataclasses.replace(KioskConfig(), devices=DevicesConfig(camera=REPLAY),
                                     demo=DemoConfig(simulated_devices=demo))
        service = PlatformCashierService(counter, Outbox(tmp_path / "counter-outbox.db"))
        panel = EnrolmentPanel(service, Worker(), engine, camera,
                               camera_refusal=camera_refusal(config), **kwargs)
        qtbot.addWidget(panel)
        panel.show()
        return panel

    return make


def test_enrolment_needs_consent_then_uploads_the_template(panel_for, camera_of, platform,
                                                           counter, kiosk_client, astronaut,
                                                           enrolled, qtbot):
    assert not counter.patient(P1004.patient_id).face_consent
    panel = panel_for(camera_of(variants(astronaut)))
    assert CONSENT_VERSION in panel.consent_title.text()
    assert "撤回" in panel.consent_text.toPlainText()  # withdrawal is explained
    assert not panel.start_button.isEnabled()  # no patient yet
    panel.set_patient(P1004.patient_id, f"{P1004.name_masked} {P1004.id_masked}")
    assert not panel.start_button.isEnabled()  # consent not acknowledged
    qtbot.waitUntil(lambda: panel.preview.has_image, timeout=WAIT_MS)  # live, before consent
    qtbot.waitUntil(lambda: panel.status.text() == say("enrol.face_ok"), timeout=WAIT_MS)
    panel.start()
    assert panel.status.text() == tr("enrol.need_ack") and not panel.capturing
    assert panel.consent_date.text() == ""
    panel.ack.setChecked(True)
    assert panel.start_button.isEnabled()
    assert dt.date.today().isoformat()[:7] in panel.consent_date.text()  # today, site zone
    acknowledged = dt.datetime.now(dt.UTC)
    with qtbot.waitSignal(panel.finished, timeout=WAIT_MS) as outcome:
        panel.start_button.click()
        assert panel.capturing and panel.cancel_button.isEnabled()
    assert outcome.args == ["done", ""]
    qtbot.waitUntil(lambda: panel.status.text() == tr("enrol.done"), timeout=WAIT_MS)
    assert panel.progress.value() == panel.needed == 5  # one status, and it says done
    assert counter.patient(P1004.patient_id).face_consent
    version, consented_ms = consent_on_record(platform, P1004.patient_id)
    assert version == CONSENT_VERSION  # the text the patient was shown
    assert abs(consented_ms / 1000 - acknowledged.timestamp()) < 5
    uploaded = gallery_of(kiosk_client)[P1004.patient_id]  # what kiosks will recognise
    assert uploaded.similarity(dict(enrolled)["astronaut"]) > 0.5
    assert not panel.preview.has_image  # no face picture left on screen


def test_enrolment_refused_when_the_light_is_too_poor(panel_for, camera_of, counter,
                                                      kiosk_client, astronaut, qtbot):
    dark = [cv2.convertScaleAbs(f, alpha=0.15) for f in variants(astronaut)]
    panel = panel_for(camera_of(dark), max_frames=6)
    panel.set_patient(P1006.patient_id, P1006.name_masked)
    panel.ack.setChecked(True)
    with qtbot.waitSignal(panel.finished, timeout=WAIT_MS) as outcome:
        panel.start_button.click()
    assert outcome.args == ["refused", "enrol.quality_poor"]
    assert tr("quality.too_dark") in panel.status.text()
    assert not counter.patient(P1006.patient_id).face_consent
    assert P1006.patient_id not in gallery_of(kiosk_client)


def test_enrolment_without_a_camera_says_so(panel_for, counter, kiosk_client, qtbot):
    panel = panel_for(None)
    panel.set_patient(P1006.patient_id, P1006.name_masked)
    panel.ack.setChecked(True)
    panel.start_button.click()
    assert tr("enrol.camera_failed") in panel.status.text()
    qtbot.wait(200)  # nothing is on its way to the platform either
    assert not counter.patient(P1006.patient_id).face_consent
    assert P1006.patient_id not in gallery_of(kiosk_client)


def test_a_simulated_camera_outside_demo_mode_enrols_nobody(panel_for, camera_of, counter,
                                                            kiosk_client, astronaut, qtbot):
    panel = panel_for(camera_of(variants(astronaut)), demo=False)
    panel.set_patient(P1006.patient_id, P1006.name_masked)
    panel.ack.setChecked(True)
    with qtbot.waitSignal(panel.finished, timeout=WAIT_MS) as outcome:
        panel.start_button.click()
    assert outcome.args == ["refused", "enrol.simulated_camera"]
    assert say("enrol.simulated_camera") in panel.status.text()
    assert not panel.preview.has_image and not panel.capturing
    qtbot.wait(300)
    assert not counter.patient(P1006.patient_id).face_consent
    assert P1006.patient_id not in gallery_of(kiosk_client)
