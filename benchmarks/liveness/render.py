"""The synthetic camera and what it sees: the 3-D mean face, real photos as prints, screens
and reliefs, and the presenters that draw each frame as the check's prompt is followed."""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.opencv import cv2
from common.package_data import package_file
from kiosk.recognition.detection import Detection
from kiosk.recognition.geometry import ARCFACE_TEMPLATE, similarity_transform

FRAME_SIZE = (640, 480)
FOCAL = 640.0  # head_pose() assumes focal = max(width, height)
IOD_MM = 63.0
PIVOT_MM = 95.0  # a head turns about the neck, this far behind the nose tip
BACKGROUND = 90


# --------------------------------------------------------------------------- geometry
def rotation(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """Camera-axes rotation (x right, y down, z away): positive yaw turns a face toward the
    image right, positive pitch tilts it down, positive roll turns it clockwise."""
    y, p, r = (math.radians(a) for a in (yaw, pitch, roll))
    ry = np.array([[math.cos(y), 0, -math.sin(y)], [0, 1, 0], [math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return ry @ rx @ rz


def project(points: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-axes points (mm) to pixels of the FRAME_SIZE frame."""
    w, h = FRAME_SIZE
    z = np.maximum(points[..., 2], 1e-6)
    return np.stack([FOCAL * points[..., 0] / z + w / 2, FOCAL * points[..., 1] / z + h / 2],
                    axis=-1)


def pose_points(local: np.ndarray, rot: np.ndarray, shift: np.ndarray,
                pivot: float) -> np.ndarray:
    """Local points (nose-tip origin, +z away from the camera) rotated about a pivot behind."""
    centre = np.array([0.0, 0.0, pivot])
    return (local - centre) @ rot.T + centre + shift


def _rays() -> np.ndarray:
    w, h = FRAME_SIZE
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    return np.stack([(xs - w / 2) / FOCAL, (ys - h / 2) / FOCAL, np.ones_like(xs)], axis=-1)


_RAYS = _rays()


# --------------------------------------------------------------------------- the 3-D face
def _meanshape_path() -> Path:
    return package_file("insightface", "data", "objects", "meanshape_68.pkl")


def _five(shape68: np.ndarray) -> np.ndarray:
    """Eye centres (mean of each eye's six contour points), nose tip, mouth corners."""
    return np.stack([shape68[36:42].mean(axis=0), shape68[42:48].mean(axis=0), shape68[30],
                     shape68[48], shape68[54]])


def mean_face_68() -> np.ndarray:
    """insightface's 68-point mean shape in camera axes and millimetres, nose tip at 0.

    The pickle's frame is pitched about 20° from what detectors call frontal, so it is turned
    about x until its frontal projection best fits the ArcFace 5-point template (the layout a
    detector reports for a frontal face); then scaled to a 63 mm inter-ocular distance.
    """
    with _meanshape_path().open("rb") as fh:
        shape = np.asarray(pickle.load(fh), dtype=np.float64).reshape(68, 3)
    shape[:, 2] *= -1  # the pickle's z points toward the camera

    def fit(pitch: float) -> tuple[float, np.ndarray]:
        turned = shape @ rotation(pitch=pitch).T
        five = _five(turned)[:, :2]
        m = similarity_transform(five, ARCFACE_TEMPLATE)
        err = float(np.linalg.norm(five @ m[:, :2].T + m[:, 2] - ARCFACE_TEMPLATE, axis=1).sum())
        return err, turned

    _, best = min((fit(p) for p in np.arange(-40.0, 40.01, 0.5)), key=lambda r: r[0])
    five = _five(best)
    best = best - five[2]
    return best * (IOD_MM / float(np.linalg.norm(five[1] - five[0])))


MEAN_FACE_68 = mean_face_68()
MEAN_FACE_5 = _five(MEAN_FACE_68)


# --------------------------------------------------------------------------- real photos
@dataclass(frozen=True)
class SourceFace:
    """One real face photo, cropped around the face, with its detected landmarks."""

    name: str
    image: np.ndarray
    landmarks: np.ndarray
    frontal: bool  # near-frontal in the photo: usable as a 3-D relief

    @property
    def interocular(self) -> float:
        return float(np.linalg.norm(self.landmarks[1] - self.landmarks[0]))

    @property
    def centre(self) -> np.ndarray:
        return self.landmarks.mean(axis=0)


def source_faces(engine: Any) -> list[SourceFace]:
    """The real faces the attacks are made from: t1.jpg's six, Tom Hanks, the astronaut."""
    from skimage import data

    from kiosk.recognition.geometry import head_pose
    from kiosk.recognition.images import read_image_file

    images = package_file("insightface", "data", "images")
    photos = [("t1", read_image_file(images / "t1.jpg")),
              ("hanks", read_image_file(images / "Tom_Hanks_54745.png")),
              ("astronaut", np.ascontiguousarray(data.astronaut()[..., ::-1]))]
    faces = []
    for name, image in photos:
        detections = sorted(engine.detect(image), key=lambda d: d.box[0])
        for i, det in enumerate(detections):
            crop, offset = _crop_around(image, det)
            # print at >= 100 px between the eyes, so rendering never magnifies pixels (the
            # interpolation pattern of a magnified photo would read as fake moire)
            factor = max(1, math.ceil(100 / det.interocular))
            crop = cv2.GaussianBlur(cv2.resize(crop, None, fx=factor, fy=factor,
                                               interpolation=cv2.INTER_CUBIC), (0, 0), factor / 3)
            label = f"{name}-{i + 1}" if len(detections) > 1 else name
            landmarks = (det.landmarks.astype(np.float64) - offset + 0.5) * factor - 0.5
            yaw = head_pose(det.landmarks, (image.shape[1], image.shape[0]))[0]
            faces.append(SourceFace(label, crop, landmarks, abs(yaw) <= 10))
    return faces


def _crop_around(image: np.ndarray, det: Detection) -> tuple[np.ndarray, np.ndarray]:
    x1, y1, x2, y2 = (float(v) for v in det.box)
    half = 1.1 * max(x2 - x1, y2 - y1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = max(0, round(cx - half)), max(0, round(cy - half))
    right = min(image.shape[1], round(cx + half))
    bottom = min(image.shape[0], round(cy + half))
    crop = np.ascontiguousarray(image[top:bottom, left:right])
    return crop, np.array([left, top], dtype=np.float64)


def mirrored(face: SourceFace) -> SourceFace:
    """The same photo flipped: a different-looking print for the detector, same person."""
    width = face.image.shape[1]
    lm = face.landmarks.copy()
    lm[:, 0] = width - 1 - lm[:, 0]
    lm = lm[[1, 0, 2, 4, 3]]  # image-left/right swap under the flip
    return SourceFace(face.name + "-mirror", np.ascontiguousarray(face.image[:, ::-1]), lm,
                      face.frontal)


# --------------------------------------------------------------------------- rendering
@dataclass(frozen=True)
class SheetPose:
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    shift: tuple[float, float, float] = (0.0, 0.0, 450.0)


def plane_homography(pose: SheetPose, mm_per_px: float, centre: np.ndarray) -> np.ndarray:
    """Photo pixels -> frame pixels for a flat sheet at ``pose`` (exact for a plane)."""
    w, h = FRAME_SIZE
    camera = np.array([[FOCAL, 0, w / 2], [0, FOCAL, h / 2], [0, 0, 1.0]])
    rot = rotation(pose.yaw, pose.pitch, pose.roll)
    plane = np.column_stack([rot[:, 0], rot[:, 1], np.asarray(pose.shift, np.float64)])
    to_mm = np.array([[mm_per_px, 0, -centre[0] * mm_per_px],
                      [0, mm_per_px, -centre[1] * mm_per_px], [0, 0, 1.0]])
    return camera @ plane @ to_mm


def render_sheet(face: SourceFace, pose: SheetPose, iod_mm: float,
                 bend_radius_mm: float | None = None) -> np.ndarray:
    """The photo printed with the face's inter-ocular distance ``iod_mm``, held at ``pose``,
    optionally bent round a vertical cylinder (convex toward the camera), as the camera sees
    it: a homography for a flat sheet, a per-pixel ray cast for a bent one."""
    mm_per_px = iod_mm / face.interocular
    if bend_radius_mm is None:
        return cv2.warpPerspective(face.image, plane_homography(pose, mm_per_px, face.centre),
                                   FRAME_SIZE, flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_CONSTANT,
                                   borderValue=(BACKGROUND,) * 3)
    rot = rotation(pose.yaw, pose.pitch, pose.roll)
    dirs = _RAYS @ rot  # rays in the sheet's own axes
    origin = -(rot.T @ np.asarray(pose.shift, dtype=np.float64))
    r = bend_radius_mm
    a = dirs[..., 0] ** 2 + dirs[..., 2] ** 2
    b = 2 * (origin[0] * dirs[..., 0] + (origin[2] - r) * dirs[..., 2])
    c = origin[0] ** 2 + (origin[2] - r) ** 2 - r * r
    disc = b * b - 4 * a * c
    t = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a)
    hit = origin + t[..., None] * dirs
    u = np.where(disc >= 0, r * np.arctan2(hit[..., 0], r - hit[..., 2]), 1e9)
    map_x = (u / mm_per_px + face.centre[0]).astype(np.float32)
    map_y = (hit[..., 1] / mm_per_px + face.centre[1]).astype(np.float32)
    return cv2.remap(face.image, map_x, map_y, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=(BACKGROUND,) * 3)


class ScreenImage:
    """The photo on an RGB-stripe screen, drawn sub-pixel by sub-pixel (3x3 per screen pixel:
    R, G, B columns, a black-matrix row), blurred by the camera's optics and pixel aperture,
    then sampled at the camera's pixels: what survives the blur above Nyquist is moiré.

    ``pixel_ratio`` is the size of one screen pixel in camera pixels (0.4-1.2: a tablet or
    laptop at 20-40 cm); the face is shown with the inter-ocular distance ``iod_mm``.
    """

    def __init__(self, face: SourceFace, iod_mm: float, pixel_ratio: float, distance_mm: float,
                 blur_px: float) -> None:
        camera_iod = FOCAL * iod_mm / distance_mm
        scale = camera_iod / pixel_ratio / face.interocular  # screen px per photo px
        photo = cv2.resize(face.image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
                           if scale < 1 else cv2.INTER_LINEAR)
        h, w = photo.shape[:2]
        # each channel lights 2 of 9 sub-pixels; the gain is the camera's auto-exposure
        lit = np.minimum(photo.astype(np.uint16) * 9 // 2, 1023)
        sub = np.zeros((h * 3, w * 3, 3), np.uint16)
        for stripe, channel in enumerate((2, 1, 0)):  # R, G, B columns, left to right
            for row in range(2):
                sub[row::3, stripe::3, channel] = lit[..., channel]
        sigma = math.hypot(blur_px, 0.3) * 3 / pixel_ratio  # optics + pixel aperture
        self.image = cv2.GaussianBlur(sub, (0, 0), sigma)
        self.pitch_mm = iod_mm / (face.interocular * scale) / 3  # per sub-pixel
        self.centre = (face.centre * scale + 0.5) * 3  # the face centre, in sub-pixels

    def render(self, pose: SheetPose) -> np.ndarray:
        homography = plane_homography(pose, self.pitch_mm, self.centre)
        warped = cv2.warpPerspective(self.image, homography, FRAME_SIZE, flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=(12, 12, 12))
        frame = np.minimum(warped, 255).astype(np.uint8)
        # the bezel and the room around it
        bezel = cv2.warpPerspective(np.full(self.image.shape[:2], 255, np.uint8), homography,
                                    FRAME_SIZE, flags=cv2.INTER_NEAREST)
        frame[bezel == 0] = BACKGROUND
        return frame


_RELIEF_STEP = 4


def _upsample(coarse: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Values on every _RELIEF_STEP-th pixel -> every pixel (bilinear, same origin)."""
    xs = (np.arange(size[0], dtype=np.float32) / _RELIEF_STEP)[None, :].repeat(size[1], 0)
    ys = (np.arange(size[1], dtype=np.float32) / _RELIEF_STEP)[:, None].repeat(size[0], 1)
    return cv2.remap(coarse, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class Relief:
    """A photo draped over the 3-D mean face: turning it gives a head turn's landmarks as the
    real detector sees them (the bona fide stand-in), and it is also what a 3-D mask is."""

    def __init__(self, face: SourceFace) -> None:
        from scipy.interpolate import RBFInterpolator

        m = similarity_transform(MEAN_FACE_5[:, :2], face.landmarks)
        self.to_photo = m[:, :2]  # mean-face millimetres -> photo pixels (scaled rotation)
        self.nose = m[:, 2]  # photo pixel of the mean face's nose tip
        xy = MEAN_FACE_68[:, :2] @ self.to_photo.T + self.nose
        back = float(MEAN_FACE_68[:, 2].max()) + 15.0
        size = float(np.ptp(xy, axis=0).max())
        angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        ring = self.nose + 1.3 * size * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        rbf = RBFInterpolator(np.vstack([xy, ring]),
                              np.concatenate([MEAN_FACE_68[:, 2], np.full(24, back)]),
                              kernel="thin_plate_spline", smoothing=1.0)
        h, w = face.image.shape[:2]
        gy, gx = np.mgrid[0:h:4, 0:w:4]
        coarse = rbf(np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(gx.shape)
        coarse = np.where(np.hypot(gx - self.nose[0], gy - self.nose[1]) > 1.3 * size, back,
                          coarse)
        depth = cv2.resize(np.clip(coarse, 0, back).astype(np.float32), (w, h),
                           interpolation=cv2.INTER_LINEAR)
        ys, xs = np.mgrid[0:h:_RELIEF_STEP, 0:w:_RELIEF_STEP].astype(np.float64)
        mm = (np.stack([xs, ys], axis=-1) - self.nose) @ np.linalg.inv(self.to_photo).T
        coarse_depth = depth[::_RELIEF_STEP, ::_RELIEF_STEP, None].astype(np.float64)
        self.local = np.concatenate([mm, coarse_depth], axis=-1)  # every 4th photo pixel
        self.image = face.image

    def render(self, rot: np.ndarray, shift: np.ndarray, iterations: int = 6) -> np.ndarray:
        """Forward-map every photo pixel, then invert the map by fixed-point iteration."""
        w, h = FRAME_SIZE
        fwd = project(pose_points(self.local, rot, shift, PIVOT_MM)).astype(np.float32)
        # the map is smooth: project a coarse grid, interpolate the rest (the photo pixel
        # at coarse index i is i * step, hence the shift in the resize below)
        size = (self.image.shape[1], self.image.shape[0])
        fx, fy = (_upsample(np.ascontiguousarray(fwd[..., i]), size) for i in (0, 1))
        step = (float(shift[2]) / FOCAL) * self.to_photo  # frame px -> photo px, roughly
        centre = project(pose_points(np.zeros((1, 3)), rot, shift, PIVOT_MM))[0]
        target = np.stack(np.meshgrid(np.arange(w, dtype=np.float32),
                                      np.arange(h, dtype=np.float32)), axis=-1)
        src = ((target - centre) @ step.T + self.nose).astype(np.float32)
        for _ in range(iterations):
            sx, sy = np.ascontiguousarray(src[..., 0]), np.ascontiguousarray(src[..., 1])
            mapped = np.stack([cv2.remap(fx, sx, sy, cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_REPLICATE),
                               cv2.remap(fy, sx, sy, cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_REPLICATE)], axis=-1)
            src = (src + (target - mapped) @ step.T).astype(np.float32)
        return cv2.remap(self.image, np.ascontiguousarray(src[..., 0]),
                         np.ascontiguousarray(src[..., 1]), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(BACKGROUND,) * 3)


# --------------------------------------------------------------------------- presenters
def min_jerk(s: float) -> float:
    """Smooth 0 -> 1 profile of a deliberate human movement (minimum jerk)."""
    s = min(1.0, max(0.0, s))
    return s**3 * (10 - 15 * s + 6 * s * s)


@dataclass(frozen=True)
class Motion:
    """When and how fast a presenter reacts to the prompt."""

    reaction_s: float
    ramp_s: float

    def progress(self, t: float, prompt_at: float | None) -> float:
        if prompt_at is None:
            return 0.0
        return min_jerk((t - prompt_at - self.reaction_s) / self.ramp_s)


def camera_effects(image: np.ndarray, rng: np.random.Generator, blur_px: float,
                   jpeg_quality: int | None = None) -> np.ndarray:
    """Lens blur, sensor noise and (optionally) the camera's own JPEG compression."""
    out = cv2.GaussianBlur(image, (0, 0), blur_px) if blur_px > 0 else image
    noise = rng.integers(-3, 4, out.shape, dtype=np.int8)  # about 2 grey levels rms
    out = cv2.add(out, noise, dtype=cv2.CV_8U)
    if jpeg_quality is not None:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        out = cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else out
    return out


def detection_from_landmarks(landmarks: np.ndarray, score: float = 0.9) -> Detection:
    """A detector-shaped result around synthetic landmarks (box as YuNet roughly draws it)."""
    iod = float(np.linalg.norm(landmarks[1] - landmarks[0]))
    cx, cy = landmarks[:, 0].mean(), landmarks[:, 1].mean()
    box = np.array([cx - 1.1 * iod, cy - 1.5 * iod, cx + 1.1 * iod, cy + 1.3 * iod], np.float32)
    return Detection(box, score, landmarks.astype(np.float32))


class SyntheticHead:
    """Bona fide: the 3-D mean face, varied per person, turning as asked, landmarks noisy."""

    rendered = False

    def __init__(self, rng: np.random.Generator, noise_iod: float) -> None:
        shape = MEAN_FACE_5.copy()
        shape[:, 2] *= float(np.clip(rng.normal(1.0, 0.15), 0.7, 1.3))  # nose prominence
        shape[:, 0] *= float(np.clip(rng.normal(1.0, 0.05), 0.9, 1.1))
        shape[:, 1] *= float(np.clip(rng.normal(1.0, 0.05), 0.9, 1.1))
        self.shape = shape
        self.rng = rng
        self.noise_iod = noise_iod
        self.distance = float(rng.uniform(380, 700))
        self.offset = rng.uniform(-40, 40, 2)
        self.base = (float(rng.normal(0, 3)), float(rng.uniform(-15, 15)),
                     float(rng.normal(0, 4)))  # yaw, pitch, roll
        self.turn = float(rng.uniform(18, 35))
        self.pitch_drift = float(rng.normal(0, 4))
        self.motion = Motion(float(rng.uniform(0.35, 1.5)), float(rng.uniform(0.3, 1.2)))
        self.sway = rng.uniform(0.5, 3.0, 3)  # mm, body sway amplitude per axis
        self.phase = rng.uniform(0, 2 * math.pi, 3)

    def pose(self, t: float, prompt_at: float | None, direction: float) -> tuple[np.ndarray,
                                                                                np.ndarray]:
        p = self.motion.progress(t, prompt_at)
        yaw = self.base[0] + direction * self.turn * p
        pitch = self.base[1] + self.pitch_drift * p
        sway = self.sway * np.sin(2 * math.pi * 0.4 * t + self.phase)
        shift = np.array([self.offset[0], self.offset[1], self.distance]) + sway
        return rotation(yaw, pitch, self.base[2]), shift

    def observe(self, t: float, prompt_at: float | None,
                direction: float) -> tuple[Detection | None, np.ndarray | None]:
        rot, shift = self.pose(t, prompt_at, direction)
        pts = project(pose_points(self.shape, rot, shift, PIVOT_MM))
        iod = float(np.linalg.norm(pts[1] - pts[0]))
        pts = pts + self.rng.normal(0.0, self.noise_iod * iod, pts.shape)
        return detection_from_landmarks(pts), None


class RenderedPresenter:
    """Anything rendered to pixels: the engine re-detects its landmarks every frame."""

    rendered = True

    def __init__(self, engine: Any, rng: np.random.Generator) -> None:
        self.engine = engine
        self.rng = rng

    def image(self, t: float, prompt_at: float | None, direction: float) -> np.ndarray:
        raise NotImplementedError

    def observe(self, t: float, prompt_at: float | None,
                direction: float) -> tuple[Detection | None, np.ndarray | None]:
        frame = self.image(t, prompt_at, direction)
        detections = self.engine.detect(frame)
        face = max(detections, key=lambda d: d.area) if detections else None
        return face, frame


class ReliefHead(RenderedPresenter):
    """A real photo as a 3-D relief turning like a head: bona fide stand-in and 3-D mask."""

    def __init__(self, engine: Any, rng: np.random.Generator, relief: Relief) -> None:
        super().__init__(engine, rng)
        self.relief = relief
        self.head = SyntheticHead(rng, 0.0)  # the same motion model as the synthetic heads
        self.head.turn = float(rng.uniform(18, 30))  # the relief has no self-occlusion
        self.head.distance = float(rng.uniform(400, 560))
        self.blur = float(rng.uniform(0.3, 0.7))

    def image(self, t: float, prompt_at: float | None, direction: float) -> np.ndarray:
        rot, shift = self.head.pose(t, prompt_at, direction)
        return camera_effects(self.relief.render(rot, shift), self.rng, self.blur)


class PhotoAttack(RenderedPresenter):
    """An attacker holding a print (or a screen) of a real photo and manipulating it when the
    prompt appears: the manipulation depends on the attack family."""

    def __init__(self, engine: Any, rng: np.random.Generator, family: str,
                 face: SourceFace) -> None:
        super().__init__(engine, rng)
        self.family = family
        self.face = face
        self.sign = float(rng.choice([-1.0, 1.0]))  # tilt the way a head turns, or the other
        self.motion = Motion(float(rng.uniform(0.3, 1.2)), float(rng.uniform(0.3, 1.0)))
        self.iod_mm = float(rng.uniform(50, 70))
        self.distance = float(rng.uniform(380, 600))
        self.offset = rng.uniform(-30, 30, 2)
        self.blur = float(rng.uniform(0.3, 0.7))
        self.bend: float | None = None
        self.jpeg: int | None = None
        self.screen: ScreenImage | None = None
        start, end = {"yaw": 0.0, "pitch": 0.0, "roll": 0.0}, {"yaw": 0.0, "pitch": 0.0,
                                                                 "roll": 0.0}
        scale_end = 1.0
        tilt = float(rng.uniform(15, 60))
        if family in ("flat_tilt_yaw", "jpeg", "bend_small", "bend_strong"):
            end["yaw"] = tilt
            end["pitch"] = float(rng.uniform(-10, 10))
        elif family == "flat_tilt_pitch":
            end["pitch"] = float(rng.uniform(15, 50)) * float(rng.choice([-1.0, 1.0]))
            end["yaw"] = float(rng.uniform(0, 10))
        elif family == "flat_rotate":
            end["roll"] = float(rng.uniform(10, 30)) * float(rng.choice([-1.0, 1.0]))
            end["yaw"] = float(rng.uniform(0, 15))
        elif family == "flat_perspective":
            self.distance = float(rng.uniform(220, 320))
            self.iod_mm = float(rng.uniform(30, 40))
            end["yaw"] = float(rng.uniform(15, 45))
            end["pitch"] = float(rng.uniform(-30, 30))
        elif family == "flat_scale":
            scale_end = float(rng.choice([rng.uniform(0.6, 0.85), rng.uniform(1.2, 1.5)]))
            end["yaw"] = float(rng.uniform(0, 20))
        elif family == "screen":
            end["yaw"] = float(rng.uniform(10, 40))
            self.distance = float(rng.uniform(250, 450))
            self.iod_mm = float(rng.uniform(35, 60))
            self.screen = ScreenImage(face, self.iod_mm, float(rng.uniform(0.6, 2.0)),
                                      self.distance, float(rng.uniform(0.3, 0.8)))
        else:
            raise ValueError(f"unknown attack family {family}")
        if family == "bend_small":
            self.bend = float(rng.uniform(120, 300))
        elif family == "bend_strong":
            self.bend = float(rng.uniform(50, 120))
        elif family == "jpeg":
            self.jpeg = int(rng.integers(25, 61))
            self.blur = float(rng.uniform(0.5, 1.2))
        self.start, self.end, self.scale_end = start, end, scale_end

    def pose(self, t: float, prompt_at: float | None, direction: float) -> SheetPose:
        p = self.motion.progress(t, prompt_at)
        jitter = self.rng.normal(0, 0.6, 3)  # a hand is never still: degrees
        yaw = direction * self.sign * self.end["yaw"] * p + jitter[0]
        pitch = self.end["pitch"] * p + jitter[1]
        roll = self.end["roll"] * p + jitter[2]
        distance = self.distance * (1 + (self.scale_end - 1) * p)
        shift = (float(self.offset[0] + self.rng.normal(0, 1.5)),
                 float(self.offset[1] + self.rng.normal(0, 1.5)), distance)
        return SheetPose(yaw, pitch, roll, shift)

    def image(self, t: float, prompt_at: float | None, direction: float) -> np.ndarray:
        pose = self.pose(t, prompt_at, direction)
        if self.screen is not None:
            raw = self.screen.render(pose)
        else:
            raw = render_sheet(self.face, pose, self.iod_mm, self.bend)
        return camera_effects(raw, self.rng, self.blur, self.jpeg)


Presenter = SyntheticHead | RenderedPresenter
