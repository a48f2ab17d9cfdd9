"""What a liveness check answers after each frame: a status, what to tell the patient, and
for a failure a stable reason the cashier screen and the audit log can rely on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.errors import ErrorCode
from kiosk.errors import KioskError

PENDING = "pending"
PASSED = "passed"
FAILED = "failed"

# Guidance keys (the UI translates them; Chinese first).
LOOK_STRAIGHT = "liveness.look_straight"
HOLD_STILL = "liveness.hold_still"
TURN_LEFT = "liveness.turn_left"
TURN_RIGHT = "liveness.turn_right"
OFF_DEMO = "liveness.off_demo"  # policy off: the screen must say liveness is not checked

# Failure reasons: stable codes, never reworded once released.
NO_PARALLAX = "liveness.no_parallax"
WRONG_DIRECTION = "liveness.wrong_direction"
TOO_FAST = "liveness.too_fast"
TIMEOUT = "liveness.timeout"
FACE_LOST = "liveness.face_lost"
FACE_CHANGED = "liveness.face_changed"
SCREEN_DETECTED = "liveness.screen_detected"
MODEL_REJECTED = "liveness.model_rejected"


class LivenessInputError(KioskError):
    """A frame the check cannot take (time running backwards, wrong frame size); the check's
    state is unchanged, so the caller can go on with the next good frame."""

    code = ErrorCode.LIVENESS_BAD_INPUT


@dataclass(frozen=True)
class LivenessResult:
    """What the checkout flow acts on and audits.

    ``evidence`` holds only numbers and short codes (times, yaw, residuals, scores) for the
    audit log: never an image, a template or anything that identifies the patient.
    """

    status: str
    guidance: str = ""
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status != PENDING
