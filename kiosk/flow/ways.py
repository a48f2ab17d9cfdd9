"""The ways forward from a screen that could not finish: what a patient may do next for each
reason, so that no screen is a dead end and none offers what would fail the same way.

Card and e-voucher settle on the same credit account as the face: when the credit itself
is refused (limit, suspended, blacklisted) only a person can help. When the face alone
failed, the card, the e-voucher and one more try of the face still work here.
"""

from __future__ import annotations

from enum import StrEnum

from kiosk.flow.model import Method


class Way(StrEnum):
    FACE_AGAIN = "face_again"
    CARD = "card"
    VOUCHER = "voucher"
    CASHIER = "cashier"  # a person comes / the counter takes over
    START = "start"  # back to the start screen


# reasons that are information, not a failure: nobody is called, nothing went wrong
NOTICES = frozenset({"bill.none_pending"})
# the credit account itself is closed or full: every method here would fail the same way
CREDIT_REFUSED = ("credit.", "second_factor.locked")
# the outcome of a payment is not known yet: paying again by any method is wrong
UNCONFIRMED = frozenset({"settlement.unconfirmed", "backend.unreachable", "backend.timeout",
                         "repay.unconfirmed"})


def ways_forward(reason: str, *, face_available: bool, method: Method | None
                 ) -> tuple[Way, ...]:
    """What the screen offers for ``reason``, most helpful first."""
    if reason in NOTICES:
        return (Way.START,)
    if reason in UNCONFIRMED or reason.startswith(CREDIT_REFUSED):
        return (Way.CASHIER, Way.START)
    others = [m for m in (Way.CARD, Way.VOUCHER)
              if not (method is Method.CARD and m is Way.CARD and reason.startswith("card."))
              and not (method is Method.VOUCHER and m is Way.VOUCHER
                       and reason.startswith("voucher."))]
    if reason.startswith(("card.", "voucher.", "consent.", "patient.not_found")):
        # this card or voucher is not usable (or not opened for credit pay): the other one
        # may be; a face without consent on record cannot pay by face
        return (*others, Way.CASHIER, Way.START)
    face = (Way.FACE_AGAIN,) if face_available and reason.startswith(
        ("face.", "liveness.", "patient.requested_cashier")) else ()
    return (*face, *others, Way.CASHIER, Way.START)


def calls_cashier(reason: str) -> bool:
    """Whether this reason puts a hand-off on the counter's queue."""
    return reason not in NOTICES
