"""Face pay only when the patient chooses it, and no dead ends after it fails: the real
engine on replayed camera frames, the real runtime and a real platform process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from common.opencv import cv2
from device.camera import FrameSource
from device.camera.grabbers import ImageFolderGrabber
from kiosk.flow.model import State
from kiosk.flow.ways import Way
from kiosk.i18n import tr
from tests.ui.helpers import padded
from tests.ui.test_checkout import open_handoffs

WAIT_MS = 20_000


@pytest.fixture
def stranger_camera(tmp_path: Path, engine, group_photo: np.ndarray) -> Iterator[FrameSource]:
    """A camera replaying someone nobody enrolled: the largest face of insightface's t1.jpg."""
    face = max(engine.detect(group_photo), key=lambda d: d.height)
    x1, y1, x2, y2 = (int(v) for v in face.box)
    pad = (y2 - y1) // 2
    crop = group_photo[max(0, y1 - pad):y2 + pad, max(0, x1 - pad):x2 + pad]
    scale = 300 / crop.shape[0]
    folder = tmp_path / "stranger"
    folder.mkdir()
    cv2.imwrite(str(folder / "frame.png"), padded(cv2.resize(crop, None, fx=scale, fy=scale)))
    source = FrameSource(ImageFolderGrabber(folder, fps=6)).start()
    yield source
    source.stop()


def test_an_enrolled_face_in_view_is_greeted_never_identified(make_runtime, make_window,
                                                              replay_camera, astro, qtbot):
    runtime = make_runtime(camera=replay_camera)
    window = make_window(runtime)
    attract = window.screens["attract"]
    qtbot.waitUntil(lambda: attract.welcome.text() == tr("idle.greet"), timeout=WAIT_MS)
    qtbot.wait(2_000)  # an enrolled face, well lit, frontal, for seconds on end...
    assert window.current == "attract" and runtime.flow.session is None  # ...is not searched
    assert runtime.flow.state == State.IDLE
    window.tiles["face"].click()  # the patient's own choice
    qtbot.waitUntil(lambda: window.current in ("bill_review", "keypad"), timeout=WAIT_MS)
    assert window.view.patient is not None


def test_an_unknown_face_tries_once_more_then_offers_ways_that_work(
        make_runtime, make_window, stranger_camera, counter, kiosk_config, qtbot):
    kiosk_id = kiosk_config.site.kiosk_id
    before = open_handoffs(counter, kiosk_id, "face.not_recognised")
    runtime = make_runtime(camera=stranger_camera)
    window = make_window(runtime)
    window.tiles["face"].click()
    qtbot.waitUntil(lambda: window.view.guidance == "searching.try_again", timeout=WAIT_MS)
    assert window.current == "scan"
    assert open_handoffs(counter, kiosk_id, "face.not_recognised") == before  # nobody yet
    qtbot.waitUntil(lambda: window.current == "fallback", timeout=WAIT_MS)
    fallback = window.screens["fallback"]
    shown = [w for w, b in fallback.buttons.items() if b.isVisibleTo(window)]
    assert shown == [Way.FACE_AGAIN, Way.CARD, Way.VOUCHER, Way.CASHIER, Way.START]
    assert not fallback.buttons[Way.CASHIER].isEnabled()  # called already, and says so
    assert fallback.buttons[Way.CASHIER].caption.text() == tr("way.cashier_called")
    qtbot.waitUntil(lambda: open_handoffs(counter, kiosk_id, "face.not_recognised")
                    == before + 1, timeout=WAIT_MS)
    fallback.buttons[Way.FACE_AGAIN].click()  # "try face again" is a real way forward
    qtbot.waitUntil(lambda: window.current == "scan", timeout=WAIT_MS)
    fallback_again = window.screens["fallback"]
    fallback_again.buttons[Way.START].click()  # hidden now: clicking does nothing harmful
    runtime.cancel()
    qtbot.waitUntil(lambda: window.current == "attract", timeout=WAIT_MS)
    qtbot.wait(1_500)  # the stranger is still in view: greeted, not scanned again
    assert window.current == "attract" and runtime.flow.session is None
    assert open_handoffs(counter, kiosk_id, "face.not_recognised") == before + 1
