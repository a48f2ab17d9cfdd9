"""The receipt: everything printed on the slip, as data (money in integer fen).

A ``Receipt`` checks itself on construction - amounts are non-negative ints, the insurance
layers plus the self-paid part add up to the bill - because a slip that does not add up is
worse than none. The patient's name is masked on construction, so no code path can print or
spool a full name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from common.privacy import mask_name
from device.errors import ReceiptError

METHODS: dict[str, tuple[str, str]] = {  # wire payment method -> (Chinese, English) label
    "face": ("刷脸支付", "Face"),
    "card": ("医保卡", "Insurance card"),
    "voucher": ("医保电子凭证", "E-voucher"),
    "cash": ("人工收费", "Cashier"),
}
SETTLEMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")  # also a safe file name
RECEIPT_NO = SETTLEMENT_ID  # the platform's 凭条号, e.g. YK01-00000012
MAX_TEXT = 64
MAX_LINES = 200


def format_fen(fen: int) -> str:
    """12345 -> "123.45" (yuan). Integer arithmetic only: no float ever touches money."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan}.{cents:02d}"


def _check_text(what: str, value: object) -> None:
    if (not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT
            or any(unicodedata.category(c) in ("Cc", "Cf") for c in value)):
        raise ReceiptError(f"{what} must be 1-{MAX_TEXT} printable characters", field=what)


def _check_fen(what: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ReceiptError(f"{what} must be a non-negative integer number of fen", field=what)


@dataclass(frozen=True)
class ReceiptLine:
    """One printed bill line: the printer's own model (the device layer cannot import the flow)."""

    item: str
    amount_fen: int

    def __post_init__(self) -> None:
        _check_text("item", self.item)
        _check_fen("amount_fen", self.amount_fen)


@dataclass(frozen=True)
class LayerShare:
    """What one insurance layer (基本医疗保险, 大病保险, 医疗救助...) pays."""

    layer: str
    amount_fen: int

    def __post_init__(self) -> None:
        _check_text("layer", self.layer)
        _check_fen("amount_fen", self.amount_fen)


@dataclass(frozen=True)
class Receipt:
    hospital: str
    kiosk_id: str
    issued_at: datetime  # timezone-aware
    patient_name: str  # masked on construction
    lines: tuple[ReceiptLine, ...]
    shares: tuple[LayerShare, ...]
    self_pay_fen: int  # the patient's part: credit_fen of it on credit, the rest at the counter
    method: str  # a key of METHODS
    settlement_id: str
    pending: bool = False  # settlement queued offline, not yet confirmed by the platform
    extra: tuple[str, ...] = field(default=())  # free lines at the foot (e.g. a test slip)
    # 凭条号, one per settled bill: what the counter looks a payment up by (none: pending)
    receipt_nos: tuple[str, ...] = field(default=())
    credit_fen: int = 0  # of the self-pay, what was put on the patient's credit
    credit_due_date: date | None = None  # when that falls due (None: nothing, or pending)
    credit_outstanding_fen: int | None = None  # all the patient owes on credit now
    repay_hint: tuple[str, ...] = field(default=())  # how to repay (the site's own text)
    unpaid_fen: int | None = None  # after a partial checkout: still to pay for the rest

    def __post_init__(self) -> None:
        object.__setattr__(self, "patient_name", mask_name(str(self.patient_name)))
        object.__setattr__(self, "lines", tuple(self.lines))
        object.__setattr__(self, "shares", tuple(self.shares))
        object.__setattr__(self, "extra", tuple(self.extra))
        object.__setattr__(self, "receipt_nos", tuple(self.receipt_nos))
        object.__setattr__(self, "repay_hint", tuple(self.repay_hint))
        _check_text("hospital", self.hospital)
        _check_text("kiosk_id", self.kiosk_id)
        _check_text("patient_name", self.patient_name)
        for text in self.extra:
            _check_text("extra", text)
        for text in self.repay_hint:
            _check_text("repay_hint", text)
        if not all(isinstance(no, str) and RECEIPT_NO.match(no) for no in self.receipt_nos):
            raise ReceiptError("receipt numbers must be 1-64 characters A-Z a-z 0-9 _ -",
                               field="receipt_nos")
        self._check_credit()
        if not isinstance(self.issued_at, datetime) or self.issued_at.tzinfo is None:
            raise ReceiptError("issued_at must be a timezone-aware datetime", field="issued_at")
        if not self.lines or len(self.lines) > MAX_LINES:
            raise ReceiptError(f"a receipt needs 1-{MAX_LINES} bill lines", field="lines")
        if not all(isinstance(x, ReceiptLine) for x in self.lines) or not all(
                isinstance(x, LayerShare) for x in self.shares):
            raise ReceiptError("lines/shares must be ReceiptLine/LayerShare", field="lines")
        _check_fen("self_pay_fen", self.self_pay_fen)
        if self.method not in METHODS:
            raise ReceiptError(f"payment method must be one of {', '.join(METHODS)}",
                               field="method")
        if not isinstance(self.settlement_id, str) or not SETTLEMENT_ID.match(
                self.settlement_id):
            raise ReceiptError("settlement id must be 1-64 characters A-Z a-z 0-9 _ -",
                               field="settlement_id")
        covered = sum(s.amount_fen for s in self.shares) + self.self_pay_fen
        if covered != self.total_fen:
            raise ReceiptError(f"insurance layers plus self-pay ({covered} fen) do not add up "
                               f"to the bill ({self.total_fen} fen)", field="shares")

    def _check_credit(self) -> None:
        _check_fen("credit_fen", self.credit_fen)
        if self.credit_fen > self.self_pay_fen:
            raise ReceiptError("credit_fen cannot exceed the self-pay", field="credit_fen")
        for name in ("credit_outstanding_fen", "unpaid_fen"):
            if getattr(self, name) is not None:
                _check_fen(name, getattr(self, name))
        due = self.credit_due_date
        if due is not None and (not isinstance(due, date) or isinstance(due, datetime)):
            raise ReceiptError("credit_due_date must be a date", field="credit_due_date")

    @property
    def total_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hospital": self.hospital, "kiosk_id": self.kiosk_id,
            "issued_at": self.issued_at.isoformat(), "patient_name": self.patient_name,
            "lines": [{"item": x.item, "amount_fen": x.amount_fen} for x in self.lines],
            "shares": [{"layer": x.layer, "amount_fen": x.amount_fen} for x in self.shares],
            "self_pay_fen": self.self_pay_fen, "total_fen": self.total_fen,
            "method": self.method, "settlement_id": self.settlement_id,
            "pending": self.pending, "extra": list(self.extra),
            "receipt_nos": list(self.receipt_nos), "credit_fen": self.credit_fen,
            "credit_due_date": self.credit_due_date.isoformat() if self.credit_due_date
            else None,
            "credit_outstanding_fen": self.credit_outstanding_fen,
            "repay_hint": list(self.repay_hint), "unpaid_fen": self.unpaid_fen,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Receipt:
        """Rebuild from ``to_dict`` output; anything malformed is a ``ReceiptError``."""
        for name in ("extra", "receipt_nos", "repay_hint"):
            if not isinstance(data.get(name, []), list | tuple):
                raise ReceiptError(f"receipt {name!r} must be a list", field=name)
        due = data.get("credit_due_date")
        try:
            return cls(
                hospital=data["hospital"], kiosk_id=data["kiosk_id"],
                issued_at=datetime.fromisoformat(data["issued_at"]),
                patient_name=data["patient_name"],
                lines=tuple(ReceiptLine(x["item"], x["amount_fen"]) for x in data["lines"]),
                shares=tuple(LayerShare(x["layer"], x["amount_fen"]) for x in data["shares"]),
                self_pay_fen=data["self_pay_fen"], method=data["method"],
                settlement_id=data["settlement_id"], pending=bool(data.get("pending", False)),
                extra=tuple(data.get("extra", ())),
                receipt_nos=tuple(data.get("receipt_nos", ())),
                credit_fen=data.get("credit_fen", 0),
                credit_due_date=date.fromisoformat(due) if due is not None else None,
                credit_outstanding_fen=data.get("credit_outstanding_fen"),
                repay_hint=tuple(data.get("repay_hint", ())),
                unpaid_fen=data.get("unpaid_fen"),
            )
        except ReceiptError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ReceiptError(f"malformed receipt data ({type(exc).__name__}: {exc})") from exc
