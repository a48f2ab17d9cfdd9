"""What staff type, checked before anything is sent: look-up keys, amounts of money, and the
reasons a reversal or a consent withdrawal must give (both end up in the platform's audit)."""

from __future__ import annotations

import re

from pydantic import ValidationError

from common.errors import ErrorCode
from kiosk.counter.service import LookupBy
from kiosk.errors import KioskError
from kiosk.protocol.schemas import CardLookupRequest, ReverseRequest, WithdrawConsentRequest
from kiosk.protocol.voucher import EVoucherError, parse_evoucher

PATIENT_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")
MIN_REASON_CHARS = 2  # "重复" is a reason; "x" is not
YUAN = re.compile(r"[¥￥]?\s*(\d{1,9})(?:\.(\d{1,2}))?")


class BadInput(KioskError):
    """What staff typed cannot be sent; ``str(exc)`` says why in plain words."""

    code = ErrorCode.COUNTER_BAD_INPUT


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


def repayment_reason(text: str) -> str:
    """Asked when the platform requires one (a patient of another site: audited why this
    counter took their money)."""
    return reversal_reason(text)


def withdrawal_reason(text: str) -> str:
    """Required at the counter (the wire allows none): a withdrawal is audited with why."""
    reason = text.strip()
    if len(reason) < MIN_REASON_CHARS:
        raise BadInput(f"a reason of at least {MIN_REASON_CHARS} characters is required")
    try:
        return WithdrawConsentRequest(reason=reason).reason or reason
    except ValidationError as exc:
        raise BadInput(_first_error(exc)) from None


def amount_fen(text: str, most_fen: int) -> int:
    """Yuan as staff type them ("50", "12.5", "¥12.34") -> integer fen, never a float;
    more than ``most_fen`` (what is owed) or nothing at all is ``BadInput``."""
    found = YUAN.fullmatch(text.strip())
    if found is None:
        raise BadInput("an amount in yuan, e.g. 50 or 12.34")
    fen = int(found.group(1)) * 100 + int((found.group(2) or "0").ljust(2, "0"))
    if fen <= 0:
        raise BadInput("the amount must be more than zero")
    if fen > most_fen:
        raise BadInput(f"more than the {most_fen // 100}.{most_fen % 100:02d} yuan owed")
    return fen
