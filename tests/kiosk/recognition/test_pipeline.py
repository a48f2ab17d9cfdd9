"""The engine on real faces: detection, alignment, genuine vs impostor scores, quality gate."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from common.opencv import cv2
from kiosk.errors import FaceNotUsable, PackMismatch, TemplateError
from kiosk.recognition.geometry import ARCFACE_TEMPLATE, align_face, similarity_transform
from kiosk.recognition.template import Template


def _place(face: np.ndarray, size: int, at: tuple[int, int], bg: int = 110) -> np.ndarray:
    """A 640x480 frame with ``face`` scaled to ``size`` px and its top-left at ``at``."""
    frame = np.full((480, 640, 3), bg, np.uint8)
    scaled = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
    x, y = at
    h, w = frame[y : y + size, x : x + size].shape[:2]
    frame[y : y + h, x : x + w] = scaled[:h, :w]
    return frame


def _augment(img: np.ndarray) -> dict[str, np.ndarray]:
    h, w = img.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), 8, 1.0)
    return {
        "flip": np.ascontiguousarray(img[:, ::-1]),
        "darker": cv2.convertScaleAbs(img, alpha=0.6),
        "brighter": cv2.convertScaleAbs(img, alpha=1.2, beta=25),
        "rotated": cv2.warpAffine(img, rot, (w, h), borderMode=cv2.BORDER_REPLICATE),
        "jpeg": cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 35])[1],
                             cv2.IMREAD_COLOR),
    }


@pytest.fixture(scope="module")
def people(engine, group_photo, hanks, astronaut) -> dict[str, np.ndarray]:
    """Single-face images of eight different people (six cut out of the group photo)."""
    out = {"hanks": hanks, "astronaut": astronaut}
    for i, det in enumerate(sorted(engine.detect(group_photo), key=lambda d: d.box[0])):
        x1, y1, x2, y2 = (int(v) for v in det.box)
        pad = int(0.6 * (x2 - x1))
        out[f"t1_{i}"] = np.ascontiguousarray(
            group_photo[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad])
    return out


def test_detection_counts_and_landmark_order(engine, group_photo, hanks, astronaut):
    assert len(engine.detect(group_photo)) == 6
    assert len(engine.detect(hanks)) == 1
    assert len(engine.detect(astronaut)) == 1
    assert engine.detect(np.full((480, 640, 3), 127, np.uint8)) == []
    for det in engine.detect(group_photo):
        eye_l, eye_r, nose, mouth_l, mouth_r = det.landmarks
        assert eye_l[0] < eye_r[0] and mouth_l[0] < mouth_r[0]
        assert eye_l[1] < nose[1] < (mouth_l[1] + mouth_r[1]) / 2
        x1, y1, x2, y2 = det.box
        assert (x1 <= det.landmarks[:, 0]).all() and (det.landmarks[:, 0] <= x2).all()
        assert (y1 <= det.landmarks[:, 1]).all() and (det.landmarks[:, 1] <= y2).all()


def test_alignment_puts_landmarks_on_the_template(engine, astronaut):
    det = engine.detect(astronaut)[0]
    m = similarity_transform(det.landmarks, ARCFACE_TEMPLATE)
    mapped = det.landmarks @ m[:, :2].T + m[:, 2]
    assert np.abs(mapped - ARCFACE_TEMPLATE).max() < 6.0
    aligned = align_face(astronaut, det.landmarks)
    assert aligned.shape == (112, 112, 3)
    again = engine.detect(cv2.copyMakeBorder(aligned, 40, 40, 40, 40, cv2.BORDER_REPLICATE))
    assert len(again) == 1


def test_genuine_pairs_score_above_and_impostors_below_threshold(engine, people):
    threshold = engine.policy.threshold
    templates = {name: engine.template_for(img, strict=False) for name, img in people.items()}
    genuine = []
    for name in ("hanks", "astronaut", "t1_1", "t1_2"):
        for kind, img in _augment(people[name]).items():
            score = engine.template_for(img, strict=False).similarity(templates[name])
            genuine.append((name, kind, score))
    low = [g for g in genuine if g[2] < threshold]
    assert not low, f"genuine pairs under {threshold}: {low}"
    impostor = [(a, b, templates[a].similarity(templates[b]))
                for a, b in itertools.combinations(templates, 2)]
    high = [i for i in impostor if i[2] >= threshold]
    assert not high, f"impostor pairs at or over {threshold}: {high}"
    assert min(g[2] for g in genuine) > max(i[2] for i in impostor)


def test_quality_gate_reasons(engine, astronaut, group_photo):
    def reasons(frame):
        return engine.analyse(frame, embed=False).quality.reasons

    good = _place(astronaut, 460, (90, 10))  # the face is ~100 px tall
    assert reasons(good) == ()
    assert reasons(np.full((480, 640, 3), 110, np.uint8)) == ("no_face",)
    assert "multiple_faces" in reasons(group_photo)
    assert "too_far" in reasons(_place(astronaut, 150, (250, 160)))
    assert "cut_off" in reasons(_shift(astronaut, -200))
    x1, y1, x2, y2 = (int(v) for v in engine.detect(astronaut)[0].box)
    close = cv2.resize(astronaut[y1 - 10 : y2 + 10, x1 - 10 : x2 + 10], (470, 470))
    assert "too_close" in reasons(cv2.copyMakeBorder(close, 5, 5, 85, 85, cv2.BORDER_REPLICATE))
    assert "too_dark" in reasons(cv2.convertScaleAbs(good, alpha=0.15))
    assert "too_bright" in reasons(cv2.convertScaleAbs(good, alpha=0.6, beta=160))
    assert "blurred" in reasons(cv2.GaussianBlur(good, (0, 0), 4.0))
    analysis = engine.analyse(good)
    assert analysis.template is not None and analysis.template.dim == 128
    assert {"detect", "align", "embed"} <= set(analysis.timings_ms)


def _shift(face: np.ndarray, dx: int) -> np.ndarray:
    """The face pushed partly out of the left edge of the frame."""
    frame = np.full((480, 640, 3), 110, np.uint8)
    scaled = cv2.resize(face, (470, 470), interpolation=cv2.INTER_AREA)
    frame[5:475, 0 : 470 + dx] = scaled[:, -dx:]
    return frame


def test_not_frontal_is_reported_for_a_turned_head(engine, group_photo):
    analysis = engine.analyse(group_photo, embed=False)
    turned = [d for d in analysis.detections
              if abs(_yaw(d, group_photo)) > engine.config.recognition.quality.max_yaw_deg]
    assert turned, "t1.jpg has a person with the head turned well to the side"


def _yaw(det, frame):
    from kiosk.recognition.geometry import head_pose

    return head_pose(det.landmarks, (frame.shape[1], frame.shape[0]))[0]


def test_template_for_refuses_crowds_and_empty_frames(engine, group_photo):
    with pytest.raises(FaceNotUsable) as err:
        engine.template_for(group_photo, strict=False)
    assert err.value.code == "face.multiple_faces"
    with pytest.raises(FaceNotUsable) as err:
        engine.template_for(np.zeros((480, 640, 3), np.uint8))
    assert err.value.reasons == ["no_face"]


def test_templates_reject_wrong_pack_dimension_and_nan(engine, hanks):
    t = engine.template_for(hanks, strict=False)
    other = Template.create("buffalo_l", np.ones(512, np.float32))
    with pytest.raises(PackMismatch):
        t.similarity(other)
    with pytest.raises(TemplateError, match="128"):
        Template.create(engine.pack, np.ones(512), 128)
    with pytest.raises(TemplateError, match="NaN"):
        Template.create(engine.pack, np.full(128, np.nan))
    with pytest.raises(TemplateError, match="zeros"):
        Template.create(engine.pack, np.zeros(128))
    assert Template.from_dict(t.to_dict()).similarity(t) == pytest.approx(1.0, abs=1e-6)
    bad = dict(t.to_dict(), dim=127)
    with pytest.raises(TemplateError):
        Template.from_dict(bad)
    with pytest.raises(TemplateError):
        Template.from_dict(dict(t.to_dict(), vector="@@@"))
