"""The geometric test on the face's own texture: plane plus parallax with tracked points.

Five detected landmarks are not enough on their own: a photo tilted 40-60° is foreshortened
enough that the detector places the nose where a turned head's nose would be. The skin,
brows, lashes and lips are not fooled: tracked from the frontal frame to the turned one,
every point of a photo or a screen lies on one homography, however the sheet is held, while a
head's points spread off it by their depth. The frontal frame is first warped onto the turned
one (by the landmarks' plane, then by the points' own best plane), so the tracker only has to
find small residual motions, the parallax.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.opencv import cv2
from kiosk.liveness.parallax import PLANE_POINTS
from kiosk.recognition.detection import Detection

MAX_POINTS = 200
MIN_POINTS = 12  # fewer tracked points than this: no verdict from the texture
_BOX_SHARE = 0.8  # points from the central part of the face box: no background
_FORWARD_BACKWARD_PX = 0.5
_INLIER_IOD = 0.01  # RANSAC tolerance, inter-ocular distances
_PASSES = 2
_LK = {"winSize": (15, 15), "maxLevel": 2, "flags": cv2.OPTFLOW_USE_INITIAL_FLOW}


@dataclass(frozen=True)
class TextureReference:
    """The frontal frame's grey image and the corners to track from it. Held only for the
    few seconds of the check; never logged or exported."""

    grey: np.ndarray
    landmarks: np.ndarray
    points: np.ndarray  # (n, 1, 2) float32


def reference(frame_bgr: np.ndarray, detection: Detection) -> TextureReference | None:
    """Corners inside the face box of the frontal frame; None when the face is too plain."""
    grey = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
    x1, y1, x2, y2 = (float(v) for v in detection.box)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w, half_h = (x2 - x1) * _BOX_SHARE / 2, (y2 - y1) * _BOX_SHARE / 2
    mask = np.zeros_like(grey)
    top, bottom = max(0, round(cy - half_h)), max(0, round(cy + half_h))
    left, right = max(0, round(cx - half_w)), max(0, round(cx + half_w))
    mask[top:bottom, left:right] = 255
    spacing = max(3.0, detection.interocular / 12)
    points = cv2.goodFeaturesToTrack(grey, MAX_POINTS, 0.005, spacing, mask=mask)
    if points is None or len(points) < MIN_POINTS:
        return None
    return TextureReference(grey, np.asarray(detection.landmarks, np.float64),
                            points.astype(np.float32))


def texture_parallax(ref: TextureReference, frame_bgr: np.ndarray,
                     detection: Detection) -> float | None:
    """Median distance of the tracked points from their best common homography, in
    inter-ocular distances of ``detection``: mostly under 0.01 for a photo or a screen, several
    hundredths for a head turned 10-20°. None when too few points could be tracked."""
    grey = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
    plane = list(PLANE_POINTS)
    homography, _ = cv2.findHomography(ref.landmarks[plane],
                                       np.asarray(detection.landmarks, np.float64)[plane], 0)
    if homography is None:
        return None
    tolerance = _INLIER_IOD * detection.interocular
    for _ in range(_PASSES):
        tracked = _track(ref, grey, homography)
        if tracked is None:
            return None
        homography, _ = cv2.findHomography(*tracked, cv2.RANSAC, tolerance)
        if homography is None:
            return None
    src, dst = tracked
    predicted = cv2.perspectiveTransform(src[None], homography)[0]
    residual = np.linalg.norm(predicted - dst, axis=1)
    return float(np.median(residual)) / detection.interocular


def _track(ref: TextureReference, grey: np.ndarray,
           homography: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Warp the reference by ``homography``, track its corners both ways; the pairs kept."""
    size = (grey.shape[1], grey.shape[0])
    warped = cv2.warpPerspective(ref.grey, homography, size, flags=cv2.INTER_LINEAR)
    start = cv2.perspectiveTransform(ref.points.astype(np.float64), homography)
    start = start.astype(np.float32)
    ahead, ok, _ = cv2.calcOpticalFlowPyrLK(warped, grey, start, start.copy(), **_LK)
    back, ok_back, _ = cv2.calcOpticalFlowPyrLK(grey, warped, ahead, start.copy(), **_LK)
    drift = np.linalg.norm((back - start)[:, 0], axis=1)
    good = (ok[:, 0] == 1) & (ok_back[:, 0] == 1) & (drift < _FORWARD_BACKWARD_PX)
    if int(good.sum()) < MIN_POINTS:
        return None
    return (ref.points[good, 0].astype(np.float64), ahead[good, 0].astype(np.float64))
