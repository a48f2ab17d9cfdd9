"""Pure geometry: 5-point alignment to the ArcFace template and head pose from landmarks."""

from __future__ import annotations

import math

import numpy as np

from common.opencv import cv2

# The canonical 112x112 ArcFace landmark template (image-left eye, image-right eye, nose tip,
# image-left mouth corner, image-right mouth corner); SFace and ArcFace were trained on it.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
     [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)

# A frontal head's five points as YuNet reports them, in millimetres and OpenCV's camera axes
# (x right, y down, z away from the camera; nose tip at the origin). x and y are YuNet's own
# landmarks on the two frontal studio portraits packages ship (scikit-image's astronaut,
# insightface's Tom_Hanks_54745.png), scaled to a 63 mm inter-ocular distance, averaged and
# made symmetric. They are not the ArcFace template: on the same Hanks crop YuNet puts the
# mouth corners 3 px higher and the nose 2 px lower than the template, and the template's
# longer eye-to-mouth span (1.16 inter-ocular distances against YuNet's 0.91-1.03) could only
# be fitted as a tilted head, so frontal faces read pitch 15-35°. z is the depth behind the
# nose tip from insightface's 3-D mean shape (data/objects/meanshape_68.pkl).
FACE_MODEL_3D = np.array(
    [[-31.5, -35.3, 33.6], [31.5, -35.3, 33.6], [0.0, 0.0, 0.0],
     [-27.0, 25.9, 26.2], [27.0, 25.9, 26.2]],
    dtype=np.float64,
)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) mapping src to dst (Umeyama).

    Returns a 2x3 matrix for cv2.warpAffine.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1.0
    rot = u @ d @ vt
    var_src = (src_c**2).sum() / len(src)
    scale = float((s * np.diag(d)).sum() / var_src) if var_src > 0 else 1.0
    shift = dst_mean - scale * rot @ src_mean
    return np.hstack([scale * rot, shift[:, None]])


def align_face(frame: np.ndarray, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """Warp the face so its five landmarks land on the ArcFace template (size x size)."""
    template = ARCFACE_TEMPLATE * (size / 112.0)
    matrix = similarity_transform(landmarks, template)
    return cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def head_pose(landmarks: np.ndarray, frame_size: tuple[int, int]) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from the five landmarks, via PnP on ``FACE_MODEL_3D``.

    The camera is taken as focal = max(width, height), centred (a 640x480 webcam's ~53°
    field of view). Positive yaw: the face turns toward the image left (the man top right in
    t1.jpg reads +67°); positive pitch tilts it down.
    """
    width, height = frame_size
    focal = float(max(width, height))
    camera = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=np.float64)
    ok, rvec, _ = cv2.solvePnP(FACE_MODEL_3D, np.asarray(landmarks, dtype=np.float64), camera,
                               None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        return (math.nan, math.nan, math.nan)
    rot, _ = cv2.Rodrigues(rvec)
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -rot[2, 0]))))
    pitch = math.degrees(math.atan2(rot[2, 1], rot[2, 2]))
    roll = math.degrees(math.atan2(rot[1, 0], rot[0, 0]))
    return (yaw, _wrap(pitch), roll)


def _wrap(angle: float) -> float:
    """Fold pitch so a face seen from the front reads near 0 rather than near +/-180."""
    if angle > 90:
        return angle - 180
    if angle < -90:
        return angle + 180
    return angle
