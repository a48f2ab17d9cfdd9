"""Liveness settings: the ``[liveness]`` section of the kiosk config.

Kept free of ``kiosk.config`` so the checkout flow's config can embed it without a cycle.
Defaults are the production-safe ones (policy ``active``); every threshold below was chosen
with ``python -m benchmarks.liveness`` and is explained in docs/liveness.md.
"""

from __future__ import annotations

from dataclasses import dataclass

POLICIES = ("off", "active", "model")


@dataclass(frozen=True)
class LivenessConfig:
    # off: demo only (the screen says so); active: head-turn challenge; model: a PAD ONNX
    policy: str = "active"
    max_duration_s: float = 12.0  # the whole check, first frame to verdict
    max_gap_s: float = 0.6  # face out of view longer than this during the turn fails
    # frontal reference
    frontal_max_yaw_deg: float = 12.0
    reference_frames: int = 3
    # the challenge
    min_turn_deg: float = 12.0  # turn from the reference (pose or nose parallax) that counts
    max_turn_deg: float = 45.0  # beyond this landmarks are unreliable; such frames are skipped
    wrong_direction_deg: float = 12.0  # yaw change the wrong way that fails the check
    min_response_s: float = 0.25  # a turn completed sooner than a person can react
    turn_timeout_s: float = 6.0  # from the prompt to the first turned frame
    turned_frames: int = 3
    # geometry (units: inter-ocular distances of the turned frame)
    min_parallax: float = 0.07  # median nose residual off the eyes/mouth homography
    min_texture_parallax: float = 0.03  # tracked skin points off their best plane (median)
    texture_check: bool = True  # false: landmarks alone (tests, tools; 3-5 % of prints pass)
    # passive cues
    min_identity_similarity: float = 0.30  # cosine, template vs the first one (SFace pack)
    screen_check: bool = True
    max_moire: float = 12.0  # spectral peak-to-background ratio of the face crop
    max_glare: float = 0.08  # fraction of the face box that is clipped, colourless highlight
    screen_frames: int = 3  # frames that must show a screen cue before it fails the check
    # policy "model"
    model_manifest: str = ""  # PAD manifest TOML; its file path is relative to the models store
    model_frames: int = 3  # frames scored; their mean live score is compared with the threshold
    model_requires_turn: bool = True  # false: the model alone decides (no head turn asked)

    def validate(self) -> list[tuple[str, str]]:
        errors: list[tuple[str, str]] = []
        if self.policy not in POLICIES:
            errors.append(("policy", f"must be one of {', '.join(POLICIES)}"))
        if self.policy == "model" and not self.model_manifest:
            errors.append(("model_manifest", "policy 'model' needs the PAD model's manifest"))
        positive = ("max_duration_s", "max_gap_s", "turn_timeout_s")
        errors += [(name, "must be positive") for name in positive if getattr(self, name) <= 0]
        if not 0 <= self.min_response_s < self.turn_timeout_s:
            errors.append(("min_response_s", "need 0 <= min_response_s < turn_timeout_s"))
        if not 0 < self.frontal_max_yaw_deg <= 30:
            errors.append(("frontal_max_yaw_deg", "must be in (0, 30] degrees"))
        if not 0 < self.min_turn_deg < self.max_turn_deg <= 60:
            errors.append(("min_turn_deg", "need 0 < min_turn_deg < max_turn_deg <= 60"))
        if self.wrong_direction_deg <= 0:
            errors.append(("wrong_direction_deg", "must be positive"))
        counts = ("reference_frames", "turned_frames", "screen_frames", "model_frames")
        errors += [(name, "must be between 1 and 30") for name in counts
                   if not 1 <= getattr(self, name) <= 30]
        if not 0 <= self.min_parallax < 1:
            errors.append(("min_parallax", "must be in [0, 1) inter-ocular distances"))
        if not 0 <= self.min_texture_parallax < 1:
            errors.append(("min_texture_parallax", "must be in [0, 1) inter-ocular distances"))
        if not -1 <= self.min_identity_similarity <= 1:
            errors.append(("min_identity_similarity", "must be a cosine similarity in [-1, 1]"))
        if self.max_moire <= 1:
            errors.append(("max_moire", "must be above 1 (a peak-to-background ratio)"))
        if not 0 < self.max_glare <= 1:
            errors.append(("max_glare", "must be a fraction in (0, 1]"))
        return errors
