"""The ways forward from a screen that could not finish: what a patient may do next for each
reason, so that no screen is a dead end and none offers what would fail the same way.

Card and e-voucher settle on the same credit account as the face: when the credit itself
is refused (limit, suspended, blacklisted) only a person can help. When the face alone
failed, the card, the e-voucher and one more try of the face still work here.
"""

from __future__ import annotations

from enum import StrEnum

from common.errors import ErrorCode
from kiosk.protocol.schemas import PaymentMethod


class Way(StrEnum):
    FACE_AGAIN = "face_again"
    CARD = "card"
    VOUCHER = "voucher"
    CASHIER = "cashier"  # a person comes / the counter takes over
    START = "start"  # back to the start screen


# reasons that are information, not a failure: nobody is called, nothing went wrong
NOTICES = frozenset({ErrorCode.BILL_NONE_PENDING})
# the credit account itself is closed or full: every method here would fail the same way
CREDIT_REFUSED = ErrorCode.families("credit") | {ErrorCode.SECOND_FACTOR_LOCKED}
# the outcome of a payment is not known yet: paying again by any method is wrong
UNCONFIRMED = frozenset({ErrorCode.SETTLEMENT_UNCONFIRMED, ErrorCode.BACKEND_UNREACHABLE,
                         ErrorCode.BACKEND_TIMEOUT, ErrorCode.REPAY_UNCONFIRMED})
CARD, VOUCHER = ErrorCode.families("card"), ErrorCode.families("voucher")
# this card or voucher is not usable (or not opened for credit pay): the other one may be;
# a face without consent on record cannot pay by face
NOT_THIS_WAY = CARD | VOUCHER | ErrorCode.families("consent") | {ErrorCode.PATIENT_NOT_FOUND}
LIVENESS_FAILED = ErrorCode.families("liveness")
# the face alone failed: one more try of the face may work
FACE_RETRYABLE = (ErrorCode.families("face") | LIVENESS_FAILED
                  | {ErrorCode.PATIENT_REQUESTED_CASHIER})


def ways_forward(reason: ErrorCode, *, face_available: bool, method: PaymentMethod | None
                 ) -> tuple[Way, ...]:
    """What the screen offers for ``reason``, most helpful first."""
    if reason in NOTICES:
        return (Way.START,)
    if reason in UNCONFIRMED or reason in CREDIT_REFUSED:
        return (Way.CASHIER, Way.START)
    others = [m for m in (Way.CARD, Way.VOUCHER)
              if not (method is PaymentMethod.CARD and m is Way.CARD and reason in CARD)
              and not (method is PaymentMethod.VOUCHER and m is Way.VOUCHER and reason in VOUCHER)]
    if reason in NOT_THIS_WAY:
        return (*others, Way.CASHIER, Way.START)
    face = (Way.FACE_AGAIN,) if face_available and reason in FACE_RETRYABLE else ()
    return (*face, *others, Way.CASHIER, Way.START)


def calls_cashier(reason: ErrorCode) -> bool:
    """Whether this reason puts a hand-off on the counter's queue."""
    return reason not in NOTICES
