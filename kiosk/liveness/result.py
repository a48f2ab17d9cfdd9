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

# Failure reasons: the registry's liveness codes, under the names the checks use.
NO_PARALLAX = ErrorCode.LIVENESS_NO_PARALLAX
WRONG_DIRECTION = ErrorCode.LIVENESS_WRONG_DIRECTION
TOO_FAST = ErrorCode.LIVENESS_TOO_FAST
TIMEOUT = ErrorCode.LIVENESS_TIMEOUT
FACE_LOST = ErrorCode.LIVENESS_FACE_LOST
FACE_CHANGED = ErrorCode.LIVENESS_FACE_CHANGED
SCREEN_DETECTED = ErrorCode.LIVENESS_SCREEN_DETECTED
MODEL_REJECTED = ErrorCode.LIVENESS_MODEL_REJECTED


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
    reason: ErrorCode | None = None  # a failure's: one of the codes above
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status != PENDING
