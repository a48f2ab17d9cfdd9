"""YuNet's detections: non-maximum suppression's clusters, and landmarks averaged over them."""

from __future__ import annotations

import numpy as np

from common.opencv import cv2
from kiosk.recognition.detection import Candidates, nms_clusters, vote


def test_nms_clusters_keep_the_best_box_with_the_boxes_it_suppressed():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 1, 10, 11]],
                     np.float32)
    scores = np.array([0.7, 0.9, 0.8, 0.6], np.float32)
    clusters = nms_clusters(boxes, scores, 0.3)
    assert [c.tolist() for c in clusters] == [[1, 0, 3], [2]]


def test_a_cluster_votes_with_its_scores():
    landmarks = np.array([[[0, 0]] * 5, [[3, 6]] * 5], np.float32)
    scores = np.array([0.5, 1.0], np.float32)
    voted = vote(landmarks, scores, np.array([0, 1]))
    assert voted.shape == (5, 2)
    np.testing.assert_allclose(voted, [[2, 4]] * 5, rtol=1e-6)
    candidates = Candidates(np.zeros((2, 4), np.float32), scores, landmarks, 0.5,
                            [np.array([1, 0])])
    alone, = candidates.detections(voting=False)
    voted_face, = candidates.detections()
    np.testing.assert_allclose(alone.landmarks, [[6, 12]] * 5)  # frame pixels: / scale
    np.testing.assert_allclose(voted_face.landmarks, [[4, 8]] * 5, rtol=1e-6)
    assert alone.score == voted_face.score == 1.0


def _kiosk_frame(face: np.ndarray, size: int, shift: int) -> np.ndarray:
    frame = np.full((480, 640, 3), 90, np.uint8)
    x, y = 170 + shift, 60
    frame[y : y + size, x : x + size] = cv2.resize(face, (size, size),
                                                    interpolation=cv2.INTER_AREA)
    return frame


def test_voted_landmarks_follow_a_moving_face_more_steadily(engine, astronaut, hanks):
    """A face moving a few pixels between camera frames: one anchor's landmarks jump on the
    anchor grid, the cluster's mean follows the face (faces ~100-200 px high)."""
    def jitter(voting: bool) -> np.ndarray:
        errors = []
        for face, size in ((astronaut, 360), (astronaut, 180), (hanks, 240), (hanks, 120)):
            base = None
            for shift in range(0, 24, 2):
                det, = engine.detector.candidates(
                    _kiosk_frame(face, size, shift)).detections(voting)
                if base is None:
                    base = det.landmarks
                else:
                    errors.append(np.abs(det.landmarks - base - [shift, 0]).max())
        return np.asarray(errors)

    single, voted = jitter(False), jitter(True)
    assert np.median(voted) < 0.75 * np.median(single)
    assert np.percentile(voted, 90) < 0.75 * np.percentile(single, 90)
