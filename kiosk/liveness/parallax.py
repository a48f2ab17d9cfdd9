"""The geometric liveness test: does the nose move off the plane of the eyes and mouth?

Eyes and mouth corners of a face are close to one plane (the four points are symmetric, so
they are exactly coplanar on the mean face); the nose tip stands about 3 cm in front of it.
Between a frontal and a turned view the four plane points are related by a homography; a
real head's nose leaves that homography by roughly ``sin(turn)`` times its height, while a
photo or a screen, flat however it is tilted, keeps all five points on one homography.

Real landmark detectors are not exact: a photo tilted far enough (40-60°) makes them place
the nose where a turned head's would be. kiosk/liveness/texture.py checks the same geometry on
the face's tracked texture, which such a photo cannot fake.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from common.opencv import cv2
from kiosk.recognition.geometry import head_pose

PLANE_POINTS = (0, 1, 3, 4)  # eyes and mouth corners, in Detection.landmarks order
NOSE = 2
MIN_INTEROCULAR_PX = 4.0  # below this the landmarks carry no usable geometry
NOSE_HEIGHT_IOD = 0.55  # the mean face's nose tip over its eyes/mouth plane, in IOD


@dataclass(frozen=True)
class ParallaxMeasure:
    """One frontal/turned pair, in inter-ocular distances of the turned frame."""

    parallax: float  # nose residual along the eye axis; positive toward the image right


def turn_from_parallax(parallax: float) -> float:
    """The turn, in degrees, that moves the nose of the mean face by ``parallax``: a second
    reading of the turn, for faces whose pose estimate under-reads it. The nose moves by
    height x sin(turn) while the eye line it is measured in shrinks by cos(turn)."""
    return math.degrees(math.atan(parallax / NOSE_HEIGHT_IOD))


def yaw_toward_image_right(landmarks: np.ndarray, frame_size: tuple[int, int]) -> float:
    """Yaw in degrees, positive when the face turns toward the image's right edge.

    ``head_pose()`` returns the opposite sign (its docstring says otherwise; a face turned
    toward the image left reads positive, see tests/kiosk/liveness/test_parallax.py), so this is
    the one place that converts it.
    """
    return -head_pose(landmarks, frame_size)[0]


def usable(landmarks: np.ndarray) -> bool:
    """Five finite points with eyes far enough apart to measure anything."""
    pts = np.asarray(landmarks, dtype=np.float64)
    return (pts.shape == (5, 2) and bool(np.isfinite(pts).all())
            and float(np.linalg.norm(pts[1] - pts[0])) >= MIN_INTEROCULAR_PX)


def measure(frontal: np.ndarray, turned: np.ndarray) -> ParallaxMeasure | None:
    """Fit the exact homography of the four plane points frontal -> turned; measure the nose.

    None when the four points are degenerate (collinear, repeated): no homography exists.
    """
    src = np.asarray(frontal, dtype=np.float64)
    dst = np.asarray(turned, dtype=np.float64)
    homography, _ = cv2.findHomography(src[list(PLANE_POINTS)], dst[list(PLANE_POINTS)], 0)
    if homography is None or not np.isfinite(homography).all():
        return None
    predicted = cv2.perspectiveTransform(src[NOSE][None, None], homography)[0, 0]
    residual = dst[NOSE] - predicted
    axis = dst[1] - dst[0]
    interocular = float(np.linalg.norm(axis))
    if interocular < MIN_INTEROCULAR_PX:
        return None
    return ParallaxMeasure(parallax=float(residual @ axis) / interocular**2)
