"""Every platform reply is classified once: done, refused for a business reason, or unknown.

Only *done* and *refused* may be told to a patient as paid or not paid. Everything else —
a transport failure, a 5xx, any ``auth.*`` (a replayed copy of our own request may have won,
or the clock is off), a request still in flight, an answer we cannot verify or read — leaves
the outcome unknown: the same Idempotency-Key is sent again, freshly signed, until the
platform gives the stored result or a business refusal.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    DONE = "done"
    REFUSED = "refused"  # final: the platform decided and changed nothing
    UNKNOWN = "unknown"  # the platform may or may not have acted: ask again, same key


_FINAL_PREFIXES = ("bill.", "credit.", "consent.", "settlement.", "patient.", "card.",
                   "voucher.", "amount.", "request.", "second_factor.", "handoff.",
                   "template.", "device.", "family.", "repayment.")
_FINAL_CODES = frozenset({"idempotency.key_reused", "idempotency.key_missing",
                          "payment.not_offered"})


def classify(code: str) -> Outcome:
    """REFUSED for a business or request refusal the same request will always get,
    UNKNOWN for everything else (never guess "failed" for money)."""
    if code in _FINAL_CODES or code.startswith(_FINAL_PREFIXES):
        return Outcome.REFUSED
    return Outcome.UNKNOWN
