"""What staff type, checked before anything is sent: look-up keys and the reasons a reversal
or a consent withdrawal must give (both end up in the platform's audit)."""

from __future__ import annotations

from pydantic import ValidationError

from device.errors import EVoucherError
from device.scanner import parse_evoucher
from kiosk.counter.service import LookupBy
from kiosk.protocol.schemas import CardLookupRequest, ReverseRequest, WithdrawConsentRequest

PATIENT_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")
MIN_REASON_CHARS = 2  # "重复" is a reason; "x" is not


class BadInput(ValueError):
    """What staff typed cannot be sent; ``str(exc)`` says why in plain words."""


def _first_error(exc: ValidationError) -> str:
    return str(exc.errors()[0].get("msg", "invalid"))


def lookup_key(by: LookupBy, text: str) -> str:
    """The key to look up by, checked like the platform would; ``BadInput`` otherwise."""
    key = text.strip()
    if by == LookupBy.CARD:
        try:
            return CardLookupRequest(card_no=key).card_no
        except ValidationError as exc:
            raise BadInput(_first_error(exc)) from None
    if by == LookupBy.VOUCHER:
        try:
            return parse_evoucher(key).payload
        except EVoucherError as exc:
            raise BadInput(exc.message) from None
    if not 1 <= len(key) <= 64 or not set(key) <= PATIENT_ID_CHARS:
        raise BadInput("a patient id is 1-64 letters, digits or . _ : -")
    return key


def reversal_reason(text: str) -> str:
    try:
        return ReverseRequest(reason=text.strip()).reason
    except ValidationError as exc:
        raise BadInput(_first_error(exc)) from None


def withdrawal_reason(text: str) -> str:
    """Required at the counter (the wire allows none): a withdrawal is audited with why."""
    reason = text.strip()
    if len(reason) < MIN_REASON_CHARS:
        raise BadInput(f"a reason of at least {MIN_REASON_CHARS} characters is required")
    try:
        return WithdrawConsentRequest(reason=reason).reason or reason
    except ValidationError as exc:
        raise BadInput(_first_error(exc)) from None

