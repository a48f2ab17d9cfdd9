"""Every platform reply is classified once: done, refused for a business reason, or unknown.
A leaf of the kiosk: the backend interface (``BackendError.outcome``) and the settlement
desk both read it, so neither imports the other back.

Only *done* and *refused* may be told to a patient as paid or not paid. Everything else —
a transport failure, a 5xx, any ``auth.*`` (a replayed copy of our own request may have won,
or the clock is off), a request still in flight, an answer we cannot verify or read — leaves
the outcome unknown: the same Idempotency-Key is sent again, freshly signed, until the
platform gives the stored result or a business refusal.
"""

from __future__ import annotations

from enum import StrEnum

from common.errors import ErrorCode


class ReplyOutcome(StrEnum):
    """What a platform reply means for the request."""

    DONE = "done"
    REFUSED = "refused"  # final: the platform decided and changed nothing
    UNKNOWN = "unknown"  # the platform may or may not have acted: ask again, same key


_FINAL_FAMILIES = ("bill", "credit", "consent", "settlement", "patient", "card", "voucher",
                   "amount", "request", "second_factor", "handoff", "template", "device",
                   "family", "repayment")
# the wire codes that refuse for good: the same request will always get them
_FINAL = (ErrorCode.families(*_FINAL_FAMILIES) & set(ErrorCode.wire())
          | {ErrorCode.IDEMPOTENCY_KEY_REUSED, ErrorCode.IDEMPOTENCY_KEY_MISSING,
             ErrorCode.PAYMENT_NOT_OFFERED})


def classify(code: ErrorCode) -> ReplyOutcome:
    """REFUSED for a business or request refusal the same request will always get,
    UNKNOWN for everything else (never guess "failed" for money)."""
    return ReplyOutcome.REFUSED if code in _FINAL else ReplyOutcome.UNKNOWN
