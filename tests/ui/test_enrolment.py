"""Assisted enrolment: consent acknowledged and recorded with its version, quality-guided
capture of several real frames, a template made here and uploaded; refusal with a reason."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from device.camera import FrameSource
from device.camera.grabbers import ImageFolderGrabber
from device.opencv import cv2
from kiosk.protocol.templates import parse_template
from kiosk.recognition.template import Template
from tests.ui.helpers import padded
from tests.ui.platform_double import CashierAdapter
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
    astro_gallery, hanks_gallery = (t for _, t in enrolled)
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


@pytest.fixture
def panel_for(qtbot, platform, engine):
    def make(camera, **kwargs) -> EnrolmentPanel:
        panel = EnrolmentPanel(CashierAdapter(platform), Worker(), engine, camera, **kwargs)
        qtbot.addWidget(panel)
        panel.show()
        return panel

    return make


def test_enrolment_needs_consent_then_uploads_the_template(panel_for, camera_of, platform,
                                                           astronaut, enrolled, qtbot):
    panel = panel_for(camera_of(variants(astronaut)))
    assert CONSENT_VERSION in panel.consent_title.text()
    assert "撤回" in panel.consent_text.toPlainText()  # withdrawal is explained
    assert not panel.start_button.isEnabled()  # no patient yet
    panel.set_patient("P-ASTRO", "王*芳 3301**********1234")
    assert not panel.start_button.isEnabled()  # consent not acknowledged
    panel.start()
    assert panel.message.text() == tr("enrol.need_ack") and not panel.capturing
    panel.ack.setChecked(True)
    assert panel.start_button.isEnabled()
    with qtbot.waitSignal(panel.finished, timeout=WAIT_MS) as outcome:
        panel.start_button.click()
        assert panel.capturing and panel.cancel_button.isEnabled()
    assert outcome.args == ["done", ""]
    assert panel.message.text() == tr("enrol.done")
    ((patient_id, request),) = platform.enrolments
    assert patient_id == "P-ASTRO" and request.consent.text_version == CONSENT_VERSION
    assert request.consent.consented_at.tzinfo is not None
    uploaded = Template.from_dict(request.template.model_dump())
    assert uploaded.similarity(enrolled[0][1]) > 0.5
    assert not panel.preview.has_image  # no face picture left on screen


def test_enrolment_refused_when_the_light_is_too_poor(panel_for, camera_of, platform,
                                                      astronaut, qtbot):
    dark = [cv2.convertScaleAbs(f, alpha=0.15) for f in variants(astronaut)]
    panel = panel_for(camera_of(dark), max_frames=6)
    panel.set_patient("P-ASTRO", "王*芳")
    panel.ack.setChecked(True)
    with qtbot.waitSignal(panel.finished, timeout=WAIT_MS) as outcome:
        panel.start_button.click()
    assert outcome.args == ["refused", "enrol.quality_poor"]
    assert tr("quality.too_dark") in panel.message.text()
    assert platform.enrolments == []


def test_enrolment_without_a_camera_says_so(panel_for, platform):
    panel = panel_for(None)
    panel.set_patient("P-ASTRO", "王*芳")
    panel.ack.setChecked(True)
    panel.start_button.click()
    assert tr("enrol.camera_failed") in panel.message.text()
    assert platform.enrolments == []
