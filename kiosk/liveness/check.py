"""One patient's liveness check: a random head-turn challenge judged frame by frame.

Fed one observation per camera frame, the check first collects a few frontal frames (the
reference), then prompts a turn to the patient's left or right, then judges the turned frames
against the reference: the nose must leave the plane of the eyes and mouth (landmarks), and,
when frames are given, the face's tracked texture must leave its best plane too. The passive
cues (same face throughout, no screen, time bounds) run on every frame. It never retries: a
failure carries a reason and the flow hands the patient to the cashier. The reference frame's
grey image is held for the texture test while the check runs; it is never logged.

Left and right are the patient's own. Landmarks come from the camera's frame as captured
(not the mirrored preview): a patient turning to their left turns toward the image's right
edge in that frame, and on the mirrored preview they see their face turn to their left, as
in a mirror.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections import deque
from dataclasses import dataclass, field
from statistics import median
from typing import Any

import numpy as np

from common.config_loader import ConfigError
from common.errors import ErrorCode
from kiosk.config import LivenessConfig
from kiosk.liveness import parallax, texture
from kiosk.liveness.pad_model import PadModel
from kiosk.liveness.result import (
    FACE_CHANGED,
    FACE_LOST,
    FAILED,
    HOLD_STILL,
    LOOK_STRAIGHT,
    MODEL_REJECTED,
    NO_PARALLAX,
    OFF_DEMO,
    PASSED,
    PENDING,
    SCREEN_DETECTED,
    TIMEOUT,
    TOO_FAST,
    TURN_LEFT,
    TURN_RIGHT,
    WRONG_DIRECTION,
    LivenessInputError,
    LivenessResult,
)
from kiosk.liveness.screen import screen_cues
from kiosk.recognition.detection import Detection
from kiosk.recognition.template import Template

log = logging.getLogger(__name__)

CHALLENGES = ("turn_left", "turn_right")
# Sign of yaw_toward_image_right() that each challenge asks for (see the module docstring).
_DIRECTION = {"turn_left": 1.0, "turn_right": -1.0}
_PROMPT = {"turn_left": TURN_LEFT, "turn_right": TURN_RIGHT}


@dataclass(frozen=True)
class _Frame:
    t: float
    landmarks: np.ndarray
    yaw: float


@dataclass
class _Evidence:
    frames: int = 0
    reference_yaw: float | None = None
    prompt_at: float | None = None
    response_s: float | None = None
    yaw_reached: float = 0.0
    parallax: float | None = None
    texture_parallax: float | None = None
    texture_frames: int = 0
    pairs: int = 0
    min_identity_similarity: float | None = None
    screen_frames: int = 0
    screen_hits: int = 0
    max_moire: float = 0.0
    max_glare: float = 0.0
    model_scores: list[float] = field(default_factory=list)


class LivenessCheck:
    """Create one per patient; ``feed`` every frame until the result is not pending."""

    def __init__(
        self,
        config: LivenessConfig,
        frame_size: tuple[int, int],
        *,
        challenge: str | None = None,
        pad_model: PadModel | None = None,
        time_factor: float = 1.0,
    ) -> None:
        """``frame_size`` is the camera's configured (width, height), used until a frame
        arrives: the first frame's own size then holds for the rest of the check (a camera
        may not deliver the size it was configured for, and refusing every frame would only
        time out). ``time_factor`` stretches every time limit (elderly mode); ``challenge``
        is for tests, otherwise drawn from secrets."""
        if config.policy == "model" and pad_model is None:
            raise ConfigError("liveness policy 'model' needs a loaded PAD model "
                              "(liveness.model_manifest)")
        if challenge is not None and challenge not in CHALLENGES:
            raise ValueError(f"challenge must be one of {CHALLENGES}")
        if not 1.0 <= time_factor <= 4.0:
            raise ValueError("time_factor must be between 1 and 4")
        self.config = config
        self.frame_size = (int(frame_size[0]), int(frame_size[1]))
        self._size_from_frame = False
        self.challenge = challenge or secrets.choice(CHALLENGES)
        self.pad_model = pad_model
        self.time_factor = time_factor
        self._direction = _DIRECTION[self.challenge]
        self._started: float | None = None
        self._last_t = -math.inf
        self._last_face_t: float | None = None
        self._references: list[_Frame] = []
        self._turned: list[_Frame] = []
        self._recent_yaw: deque[float] = deque(maxlen=3)  # one noisy frame must not decide
        self._recent_parallax_turn: deque[float] = deque(maxlen=3)
        self._texture_ref: texture.TextureReference | None = None
        self._texture: list[float] = []
        self._identity: Template | None = None
        self._evidence = _Evidence()
        self._result: LivenessResult | None = None

    @property
    def result(self) -> LivenessResult | None:
        """The final result once passed or failed, else None."""
        return self._result

    @property
    def prompted(self) -> bool:
        return self._evidence.prompt_at is not None

    def feed(
        self,
        timestamp_s: float,
        detection: Detection | None,
        frame_bgr: np.ndarray | None = None,
        template: Template | None = None,
    ) -> LivenessResult:
        """Take one frame (monotonic seconds, the primary face or None, the frame for the
        passive cues, its template when the recognition worker made one)."""
        self._validate(timestamp_s, frame_bgr)
        if self._result is not None:
            return self._result
        self._last_t = timestamp_s
        if self._started is None:
            self._started = timestamp_s
        self._evidence.frames += 1
        if self.config.policy == "off":
            return self._finish(timestamp_s, PASSED, guidance=OFF_DEMO)
        if timestamp_s - self._started > self.config.max_duration_s * self.time_factor:
            return self._finish(timestamp_s, FAILED, TIMEOUT)
        if detection is None or not parallax.usable(detection.landmarks):
            return self._no_face(timestamp_s)
        self._last_face_t = timestamp_s
        failure = self._passive(detection, frame_bgr, template)
        if failure is not None:
            return self._finish(timestamp_s, FAILED, failure)
        if self.config.policy == "model" and not self.config.model_requires_turn:
            return self._model_decision(timestamp_s)
        yaw = parallax.yaw_toward_image_right(detection.landmarks, self.frame_size)
        frame = _Frame(timestamp_s, np.asarray(detection.landmarks, np.float64).copy(), yaw)
        if math.isfinite(yaw):
            self._recent_yaw.append(yaw)
        if not self.prompted:
            return self._reference(frame, detection, frame_bgr)
        return self._turn(frame, detection, frame_bgr)

    # ------------------------------------------------------------------ phases
    def _no_face(self, t: float) -> LivenessResult:
        if not self.prompted:
            self._references.clear()  # the reference must be consecutive frames
            return LivenessResult(PENDING, LOOK_STRAIGHT, evidence=self._export(t))
        last = self._last_face_t if self._last_face_t is not None else t
        if t - last > self.config.max_gap_s:
            return self._finish(t, FAILED, FACE_LOST)
        return self._pending(t, _PROMPT[self.challenge])

    def _reference(self, frame: _Frame, detection: Detection,
                   image: np.ndarray | None) -> LivenessResult:
        cfg = self.config
        if not math.isfinite(frame.yaw) or abs(frame.yaw) > cfg.frontal_max_yaw_deg:
            self._references.clear()
            return self._pending(frame.t, LOOK_STRAIGHT)
        self._references.append(frame)
        if len(self._references) < cfg.reference_frames:
            return self._pending(frame.t, HOLD_STILL)
        self._evidence.reference_yaw = median(r.yaw for r in self._references)
        self._evidence.prompt_at = frame.t
        if image is not None and self.config.texture_check:
            self._texture_ref = texture.reference(image, detection)
        return self._pending(frame.t, _PROMPT[self.challenge])

    def _turn(self, frame: _Frame, detection: Detection,
              image: np.ndarray | None) -> LivenessResult:
        cfg, ev = self.config, self._evidence
        assert ev.prompt_at is not None and ev.reference_yaw is not None
        if not math.isfinite(frame.yaw):
            return self._pending(frame.t, _PROMPT[self.challenge])
        turned = self._turn_estimate(frame)
        ev.yaw_reached = max(ev.yaw_reached, turned)
        if turned <= -cfg.wrong_direction_deg:
            return self._finish(frame.t, FAILED, WRONG_DIRECTION)
        if cfg.min_turn_deg <= turned <= cfg.max_turn_deg:
            if not self._turned:
                ev.response_s = frame.t - ev.prompt_at
                if ev.response_s < cfg.min_response_s:
                    return self._finish(frame.t, FAILED, TOO_FAST)
            self._turned.append(frame)
            if image is not None and self._texture_ref is not None and self.config.texture_check:
                measured = texture.texture_parallax(self._texture_ref, image, detection)
                if measured is not None:
                    self._texture.append(measured)
        elif not self._turned and frame.t - ev.prompt_at > cfg.turn_timeout_s * self.time_factor:
            return self._finish(frame.t, FAILED, TIMEOUT)
        if len(self._turned) < cfg.turned_frames:
            return self._pending(frame.t, _PROMPT[self.challenge])
        if not self._geometry_passes():
            return self._finish(frame.t, FAILED, NO_PARALLAX)
        if self.config.policy == "model":
            return self._model_decision(frame.t)
        return self._finish(frame.t, PASSED)

    def _turn_estimate(self, frame: _Frame) -> float:
        """Degrees turned the asked way: the larger of the pose estimate's yaw change and the
        turn the nose's parallax implies (the pose estimate under-reads some faces; the
        geometry decides later anyway). Each is a median of the last three frames."""
        assert self._evidence.reference_yaw is not None
        by_pose = self._direction * (median(self._recent_yaw) - self._evidence.reference_yaw)
        measured = [m.parallax for ref in self._references
                    if (m := parallax.measure(ref.landmarks, frame.landmarks)) is not None]
        if measured:
            self._recent_parallax_turn.append(
                parallax.turn_from_parallax(self._direction * median(measured)))
        if not self._recent_parallax_turn:
            return by_pose
        return max(by_pose, median(self._recent_parallax_turn))

    def _model_decision(self, t: float) -> LivenessResult:
        """Once enough frames are scored, their mean live score decides."""
        assert self.pad_model is not None
        scores = self._evidence.model_scores
        if len(scores) < self.config.model_frames:
            return self._pending(t, HOLD_STILL)
        if sum(scores) / len(scores) >= self.pad_model.threshold:
            return self._finish(t, PASSED)
        return self._finish(t, FAILED, MODEL_REJECTED)

    # ------------------------------------------------------------------ checks
    def _passive(self, detection: Detection, frame: np.ndarray | None,
                 template: Template | None) -> ErrorCode | None:
        """What every frame gets besides the geometry: identity, screen cues, PAD scoring.

        Returns a failure reason, or None when nothing fired."""
        cfg, ev = self.config, self._evidence
        if template is not None:
            if self._identity is None:
                self._identity = template
            else:
                similarity = self._identity.similarity(template)
                previous = ev.min_identity_similarity
                ev.min_identity_similarity = (similarity if previous is None
                                              else min(previous, similarity))
                if similarity < cfg.min_identity_similarity:
                    return FACE_CHANGED
        if frame is None:
            return None
        if cfg.screen_check:
            cues = screen_cues(frame, detection)
            ev.screen_frames += 1
            ev.max_moire = max(ev.max_moire, cues.moire)
            ev.max_glare = max(ev.max_glare, cues.glare)
            if cues.moire > cfg.max_moire or cues.glare > cfg.max_glare:
                ev.screen_hits += 1
                if ev.screen_hits >= cfg.screen_frames:
                    return SCREEN_DETECTED
        if self.pad_model is not None and len(ev.model_scores) < cfg.model_frames:
            ev.model_scores.append(self.pad_model.live_score(frame, detection))
        return None

    def _geometry_passes(self) -> bool:
        cfg, ev = self.config, self._evidence
        measures = [m for ref in self._references for turned in self._turned
                    if (m := parallax.measure(ref.landmarks, turned.landmarks)) is not None]
        ev.pairs = len(measures)
        if not measures:
            return False
        ev.parallax = median(self._direction * m.parallax for m in measures)
        ev.texture_frames = len(self._texture)
        ev.texture_parallax = median(self._texture) if self._texture else None
        if ev.parallax < cfg.min_parallax:
            return False
        if not cfg.texture_check:
            return True
        # no measurable texture (no frames, a blurred or plain picture) is no proof: a print
        # must not get away with the landmarks alone
        return ev.texture_parallax is not None and ev.texture_parallax >= cfg.min_texture_parallax

    # ------------------------------------------------------------------ results
    def _validate(self, t: float, frame: np.ndarray | None) -> None:
        if not isinstance(t, int | float) or not math.isfinite(t):
            raise LivenessInputError(f"frame timestamp must be a finite number, got {t!r}")
        if t < self._last_t:
            raise LivenessInputError(f"frame timestamp {t} is before the previous one "
                                     f"({self._last_t}); timestamps must be monotonic")
        if frame is not None:
            shape = getattr(frame, "shape", ())
            if len(shape) != 3 or min(shape[:2]) < 1:
                raise LivenessInputError(f"frame of shape {shape} is not a colour image")
            if not self._size_from_frame:
                self.frame_size, self._size_from_frame = (int(shape[1]), int(shape[0])), True
            elif (shape[1], shape[0]) != self.frame_size:
                raise LivenessInputError(f"frame of shape {shape} does not match the "
                                         f"{self.frame_size} frames of this check")

    def _pending(self, t: float, guidance: str) -> LivenessResult:
        return LivenessResult(PENDING, guidance, evidence=self._export(t))

    def _finish(self, t: float, status: str, reason: ErrorCode | None = None,
                guidance: str = "") -> LivenessResult:
        self._result = LivenessResult(status, guidance, reason, self._export(t))
        log.info("liveness %s", status,
                 extra={"liveness": {"status": status, "reason": reason,
                                     **self._result.evidence}})
        return self._result

    def _export(self, t: float) -> dict[str, Any]:
        """Numbers and codes only, rounded: what the audit log keeps of this check."""
        ev = self._evidence
        started = self._started if self._started is not None else t
        out: dict[str, Any] = {
            "policy": self.config.policy,
            "challenge": self.challenge,
            "elapsed_s": t - started,
            "frames": ev.frames,
            "turned_frames": len(self._turned),
            "reference_yaw": ev.reference_yaw,
            "yaw_reached": ev.yaw_reached,
            "response_s": ev.response_s,
            "parallax": ev.parallax,
            "texture_parallax": ev.texture_parallax,
            "texture_frames": ev.texture_frames,
            "pairs": ev.pairs,
            "min_identity_similarity": ev.min_identity_similarity,
            "screen_frames": ev.screen_frames,
            "screen_hits": ev.screen_hits,
            "max_moire": ev.max_moire,
            "max_glare": ev.max_glare,
        }
        if self.pad_model is not None:
            scores = ev.model_scores
            out["model"] = self.pad_model.manifest.id
            out["model_score"] = sum(scores) / len(scores) if scores else None
        return {key: _clean(value) for key, value in out.items()}


def _clean(value: Any) -> Any:
    """JSON-safe: floats rounded, non-finite ones as None."""
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    return value
