"""Assisted enrolment: consent acknowledged and recorded with its version, quality-guided
capture of several real frames, a template made here and uploaded to the real platform
through the counter's client (and synced back to a kiosk); refusal with a reason."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import closing

import numpy as np
import pytest

from device.camera import FrameSource
from device.camera.grabbers import ImageFolderGrabber
from device.opencv import cv2
from kiosk.protocol.templates import parse_template
from kiosk.recognition.template import Template
from kiosk.settlement.outbox import Outbox
from tests.ui.helpers import P1004, P1006, padded
from ui.cashier.platform import PlatformCashierService
from ui.enrolment import CONSENT_VERSION, DONE, REFUSED, EnrolmentCapture, EnrolmentPanel
from ui.i18n import tr
from ui.worker import Worker

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


def capture_for(engine) -> EnrolmentCapture:
    return EnrolmentCapture(engine.pack, engine.manifest.embedding_dim,
                            engine.policy.threshold)


def feed(capture: EnrolmentCapture, engine, frames, step_s: float = 0.3):
    status = capture.status
    for i, frame in enumerate(frames):
        analysis = engine.analyse(frame)
        status = capture.feed(analysis.quality.reasons, analysis.template, i * step_s)
        if status.state != "capturing":
            break
    return status


def test_good_frames_make_one_template_of_that_person(engine, astronaut, hanks, enrolled):
    capture = capture_for(engine)
    status = feed(capture, engine, variants(astronaut))
    assert status.state == DONE and status.accepted == 5
    template = capture.template()
    astro_gallery, hanks_gallery = dict(enrolled)["astronaut"], dict(enrolled)["hanks"]
    assert template.similarity(astro_gallery) > engine.policy.threshold
    assert template.similarity(hanks_gallery) < engine.policy.candidate_threshold
    wire = parse_template(template.to_dict())  # what the platform will accept
    assert wire.dim == engine.manifest.embedding_dim


def test_frames_in_one_burst_count_once(engine, astronaut):
    capture = capture_for(engine)
    status = feed(capture, engine, variants(astronaut), step_s=0.05)
    assert status.state == "capturing" and status.accepted == 2  # 0.0 and 0.25 s


def test_poor_pictures_are_refused_with_the_reason(engine, astronaut):
    dark = [cv2.convertScaleAbs(f, alpha=0.15) for f in variants(astronaut)]
    capture = EnrolmentCapture(engine.pack, engine.manifest.embedding_dim,
                               engine.policy.threshold, max_frames=6)
    status = feed(capture, engine, dark)
    assert status.state == REFUSED and status.reason == "enrol.quality_poor"
    assert status.detail == "too_dark" and status.accepted == 0  # the problem in every frame
    assert status.guidance.startswith("quality.")  # the last frame's first problem


def test_two_people_in_turn_are_refused(engine, astronaut, hanks):
    mixed = [f for pair in zip(variants(astronaut), variants(padded(hanks, (320, 320))),
                               strict=True) for f in pair]
    capture = capture_for(engine)
    status = feed(capture, engine, mixed)
    assert status.state == REFUSED and status.reason == "enrol.inconsistent"
    assert capture.accepted == []  # nothing of either kept
    with pytest.raises(ValueError):
        capture.template()


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
    def make(camera, **kwargs) -> EnrolmentPanel:
        service = PlatformCashierService(counter, Outbox(tmp_path / "counter-outbox.db"))
        panel = EnrolmentPanel(service, Worker(), engine, camera,
                               **kwargs)
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
    panel.start()
    assert panel.message.text() == tr("enrol.need_ack") and not panel.capturing
    panel.ack.setChecked(True)
    assert panel.start_button.isEnabled()
    acknowledged = dt.datetime.now(dt.UTC)
    with qtbot.waitSignal(panel.finished, timeout=WAIT_MS) as outcome:
        panel.start_button.click()
        assert panel.capturing and panel.cancel_button.isEnabled()
    assert outcome.args == ["done", ""]
    assert panel.message.text() == tr("enrol.done")
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
    assert tr("quality.too_dark") in panel.message.text()
    assert not counter.patient(P1006.patient_id).face_consent
    assert P1006.patient_id not in gallery_of(kiosk_client)


def test_enrolment_without_a_camera_says_so(panel_for, counter, kiosk_client, qtbot):
    panel = panel_for(None)
    panel.set_patient(P1006.patient_id, P1006.name_masked)
    panel.ack.setChecked(True)
    panel.start_button.click()
    assert tr("enrol.camera_failed") in panel.message.text()
    qtbot.wait(200)  # nothing is on its way to the platform either
    assert not counter.patient(P1006.patient_id).face_consent
    assert P1006.patient_id not in gallery_of(kiosk_client)
