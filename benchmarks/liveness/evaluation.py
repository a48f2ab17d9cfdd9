"""One presentation against a fresh check, the whole seeded run of attack families and
bona fide sets, exact one-sided error bounds and the sweep of the geometric thresholds."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.liveness.render import (
    FRAME_SIZE,
    PhotoAttack,
    Presenter,
    Relief,
    ReliefHead,
    SourceFace,
    SyntheticHead,
    camera_effects,
    mirrored,
    rotation,
    source_faces,
)
from kiosk.config import LivenessConfig
from kiosk.liveness.check import CHALLENGES, LivenessCheck
from kiosk.liveness.result import PASSED, LivenessResult

PLANAR_FAMILIES = ("flat_tilt_yaw", "flat_tilt_pitch", "flat_rotate", "flat_perspective",
                   "flat_scale", "jpeg", "screen", "bend_small")
OTHER_FAMILIES = ("bend_strong", "relief")
BONA_MEASURED = "synthetic turns (landmarks only), measured landmark noise"
BONA_DOUBLE = "synthetic turns (landmarks only), twice that noise"


# --------------------------------------------------------------------------- running
# The physical direction each prompt asks for, as yaw toward the image right in the
# camera's unmirrored frame: the patient's own left is the image's right.
PROMPT_DIRECTION = {"liveness.turn_left": 1.0, "liveness.turn_right": -1.0}


def present(presenter: Presenter, config: LivenessConfig, rng: np.random.Generator,
            fps: float, challenge: str | None = None) -> LivenessResult:
    """Run one presentation against a fresh check, frame by frame, until it decides.

    The presenter sees the check's guidance as the patient would: it starts its movement
    ``reaction_s`` after the turn prompt first appears, in the direction the prompt names.
    """
    check = LivenessCheck(config, FRAME_SIZE,
                          challenge=challenge or str(rng.choice(CHALLENGES)))  # reproducible
    prompt_at: float | None = None
    direction = 0.0
    t = float(rng.uniform(0, 1 / fps))
    limit = config.max_duration_s + 1.0
    while t <= limit:
        face, frame = presenter.observe(t, prompt_at, direction)
        result = check.feed(t, face, frame)
        if result.done:
            return result
        if prompt_at is None and result.guidance in PROMPT_DIRECTION:
            prompt_at = t
            direction = PROMPT_DIRECTION[result.guidance]
        t += float(rng.uniform(0.85, 1.15)) / fps
    raise RuntimeError("the check did not decide within its own time limit")


# --------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Outcome:
    """One presentation's verdict and the measurements the sweep re-thresholds."""

    group: str  # an attack family, or a bona fide set
    attack: bool
    accepted: bool
    reason: str
    parallax: float | None
    texture_parallax: float | None
    yaw_reached: float
    rendered: bool  # frames were given, so the texture test had to pass too

    @property
    def judged(self) -> bool:
        """Reached the geometric test (the only step the thresholds below change)."""
        return self.parallax is not None

    def accepted_at(self, min_parallax: float, min_texture: float) -> bool:
        if self.parallax is None or self.parallax < min_parallax:
            return False
        if not self.rendered:
            return True
        return self.texture_parallax is not None and self.texture_parallax >= min_texture


def _outcome(group: str, attack: bool, rendered: bool, result: LivenessResult) -> Outcome:
    ev = result.evidence
    return Outcome(group, attack, result.status == PASSED, result.reason or "passed",
                   ev.get("parallax"), ev.get("texture_parallax"),
                   float(ev.get("yaw_reached") or 0), rendered)


@dataclass
class Evaluation:
    seed: int
    n: int
    config: LivenessConfig
    noise_iod: float
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def rows(self, groups: Iterable[str]) -> list[Outcome]:
        wanted = set(groups)
        return [o for o in self.outcomes if o.group in wanted]


def upper_bound(errors: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of an error rate (exact binomial)."""
    if trials == 0:
        return 1.0
    if errors >= trials:
        return 1.0

    def cdf(p: float) -> float:
        return sum(math.comb(trials, k) * p**k * (1 - p) ** (trials - k)
                   for k in range(errors + 1))

    low, high = errors / trials, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        if cdf(mid) > 1 - confidence:
            low = mid
        else:
            high = mid
    return high


def landmark_jitter(engine: Any, reliefs: list[Relief], rng: np.random.Generator,
                    frames: int = 8) -> float:
    """Frame-to-frame landmark noise of the real detector, in inter-ocular distances.

    A still, frontal relief is rendered with the small moves of a person standing still;
    each frame's landmarks are compared with the mean of that relief's frames after
    removing the frame's own shift, so only the detector's jitter remains.
    """
    residuals = []
    for relief in reliefs:
        shots = []
        for _ in range(frames):
            shift = np.array([*rng.uniform(-8, 8, 2), rng.uniform(430, 470)])
            frame = camera_effects(relief.render(rotation(), shift), rng, 0.5)
            detections = engine.detect(frame)
            if detections:
                d = max(detections, key=lambda x: x.area)
                centred = d.landmarks - d.landmarks.mean(axis=0)
                shots.append(centred / d.interocular)
        if len(shots) >= 3:
            stack = np.stack(shots)
            residuals.append(stack - stack.mean(axis=0))
    if not residuals:
        raise RuntimeError("no relief was detected; cannot measure landmark jitter")
    return float(np.concatenate(residuals).std() * math.sqrt(5 / 4))  # centring removes 1/5


def usable_reliefs(engine: Any, faces: list[SourceFace], config: LivenessConfig) -> list[Relief]:
    """Reliefs of near-frontal photos that the detector also reads as frontal when the relief
    faces the camera, nodding up or down (a badly draped photo does not)."""
    from kiosk.liveness.parallax import yaw_toward_image_right

    def frontal(relief: Relief, pitch: float) -> bool:
        frame = relief.render(rotation(pitch=pitch), np.array([0.0, 0.0, 450.0]))
        detections = engine.detect(frame)
        if not detections:
            return False
        d = max(detections, key=lambda x: x.area)
        return abs(yaw_toward_image_right(d.landmarks, FRAME_SIZE)) <= config.frontal_max_yaw_deg

    reliefs = [Relief(face) for face in faces if face.frontal]
    return [r for r in reliefs if all(frontal(r, pitch) for pitch in (-10.0, 0.0, 10.0))]


def run_evaluation(seed: int = 7, n: int = 40, config: LivenessConfig | None = None, *,
                   families: Iterable[str] = PLANAR_FAMILIES + OTHER_FAMILIES,
                   bona_fide: int | None = None, noise_iod: float | None = None,
                   engine: Any = None,
                   progress: Callable[[str], None] | None = None) -> Evaluation:
    """``n`` presentations per attack family (and of reliefs); ``bona_fide`` synthetic head
    turns per noise level (default 10 n); ``noise_iod`` None measures the detector's jitter.
    Deterministic for a seed."""
    from kiosk.config import KioskConfig
    from kiosk.recognition.engine import FaceEngine

    config = config or LivenessConfig()
    families = tuple(families)
    engine = engine or FaceEngine.from_config(KioskConfig())
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    faces = source_faces(engine)
    prints = faces + [mirrored(f) for f in faces]
    reliefs: list[Relief] = []
    if noise_iod is None or "relief" in families:
        reliefs = usable_reliefs(engine, faces + [mirrored(f) for f in faces if f.frontal],
                                 config)
    noise = landmark_jitter(engine, reliefs, rng) if noise_iod is None else noise_iod
    ev = Evaluation(seed, n, config, noise)
    say = progress or (lambda _msg: None)
    bona_n = 10 * n if bona_fide is None else bona_fide
    landmarks_only = dataclasses.replace(config, texture_check=False)  # no pixels to track
    for label, sigma in ((BONA_MEASURED, noise), (BONA_DOUBLE, 2 * noise)):
        for _ in range(bona_n):
            head = SyntheticHead(rng, sigma)
            result = present(head, landmarks_only, rng, float(rng.uniform(8, 30)))
            ev.outcomes.append(_outcome(label, False, False, result))
        say(f"{label}: {bona_n} done")
    for family in families:
        for i in range(n):
            if family == "relief":
                presenter: Presenter = ReliefHead(engine, rng, reliefs[i % len(reliefs)])
            else:
                presenter = PhotoAttack(engine, rng, family, prints[i % len(prints)])
            result = present(presenter, config, rng, float(rng.uniform(8, 12)))
            ev.outcomes.append(_outcome(family, family != "relief", True, result))
        say(f"{family}: {n} done")
    ev.seconds = time.perf_counter() - started
    return ev


# --------------------------------------------------------------------------- sweep
def sweep(ev: Evaluation, parallaxes: Iterable[float], textures: Iterable[float],
          bona_groups: list[str]) -> list[dict[str, float]]:
    """APCER (planar attacks) and BPCER (given bona fide sets) at other geometric thresholds;
    exact, because no other step depends on them."""
    attacks = ev.rows(PLANAR_FAMILIES)
    bona = ev.rows(bona_groups)
    out = []
    for p in parallaxes:
        for x in textures:
            apcer = sum(o.accepted_at(p, x) for o in attacks) / max(1, len(attacks))
            bpcer = sum(not o.accepted_at(p, x) for o in bona) / max(1, len(bona))
            out.append({"min_parallax": p, "min_texture_parallax": x, "apcer": apcer,
                        "bpcer": bpcer})
    return out
