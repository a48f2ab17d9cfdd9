"""Receipts in the printer's ``Receipt.to_dict`` form (integer fen throughout): from the quote
the patient confirmed (kiosk checkout, also while queued offline), or from the platform's own
settlement answers (a partial kiosk checkout, a payment taken at the counter).

Times are the site's local time (``[site] timezone``), never the machine's zone nor UTC: the
patient compares the slip with the clock on the wall. The credit terms (receipt numbers, what
went on credit, its due date, what is owed now) come from the platform's answers only; a
queued slip has none yet and says "pending".
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.config import DEFAULT_TIMEZONE, SiteConfig
from kiosk.flow.model import LAYER_LABELS, KioskQuote
from kiosk.protocol import schemas

_DEFAULT_SITE = SiteConfig()
COUNTER_METHODS = {schemas.PaymentMethod.CASH.value}  # every other method goes on credit


@dataclass(frozen=True)
class Station:
    """Who issues the slip (the hospital's name and the kiosk's or counter's id), in which
    time zone, and how the site tells patients to repay."""

    hospital: str
    station_id: str
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    repay_hint: tuple[str, str] = (_DEFAULT_SITE.repay_hint_zh, _DEFAULT_SITE.repay_hint_en)
    clock: Callable[[], float] = time.time

    @classmethod
    def of(cls, site: SiteConfig, station_id: str = "") -> Station:
        """The station of this terminal's ``[site]``; ``station_id`` defaults to kiosk_id."""
        return cls(site.name, station_id or site.kiosk_id, zone=site.zone(),
                   repay_hint=(site.repay_hint_zh, site.repay_hint_en))

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), self.zone)

    def header(self, patient_name: str) -> dict[str, Any]:
        return {"hospital": self.hospital or "Hospital", "kiosk_id": self.station_id or "kiosk",
                "issued_at": self.now().isoformat(), "patient_name": patient_name}


def _shares(layers: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"layer": LAYER_LABELS.get(name, name), "amount_fen": fen}
            for name, fen in layers if name != "self_pay"]


def from_quote(station: Station, patient_name: str, quote: KioskQuote, *, method: str,
               self_pay_fen: int, settlement_id: str, pending: bool) -> dict[str, Any]:
    """Before the platform answered (queued offline): no receipt number, due date or
    balance yet — the slip says pending for each."""
    credit_fen = 0 if method in COUNTER_METHODS else self_pay_fen
    return {
        **station.header(patient_name),
        "lines": [{"item": line.description, "amount_fen": line.amount_fen}
                  for line in quote.lines],
        "shares": _shares(quote.layers),
        "self_pay_fen": self_pay_fen,
        "method": method,
        "settlement_id": settlement_id,
        "pending": pending,
        "receipt_nos": [],
        "credit_fen": credit_fen,
        "credit_due_date": None,
        "credit_outstanding_fen": None,
        "repay_hint": list(station.repay_hint) if credit_fen else [],
        "unpaid_fen": None,
        "extra": [],
    }


def from_settlements(station: Station, settled: Sequence[schemas.Settlement], *,
                     extra: Sequence[str] = (), unpaid_fen: int | None = None
                     ) -> dict[str, Any]:
    """One slip for one or more settlements of one patient, exactly as the platform made
    them (under the first settlement's id, which reprints it). ``unpaid_fen``: after a
    partial checkout, what the patient still has to pay for the bills left unsettled."""
    first = settled[0]
    totals: dict[str, int] = {}
    for settlement in settled:
        for name, fen in settlement.layers.model_dump().items():
            layer = name.removesuffix("_fen")
            totals[layer] = totals.get(layer, 0) + int(fen)
    credit_fen = sum(s.charge_to_credit_fen for s in settled)
    due = [s.credit_due_date for s in settled if s.credit_due_date is not None]
    owed = [s.credit_outstanding_fen for s in settled if s.credit_outstanding_fen is not None]
    return {
        **station.header(first.patient.name),
        "lines": [{"item": item.description, "amount_fen": item.amount_fen}
                  for settlement in settled for item in settlement.items],
        "shares": _shares(totals.items()),
        "self_pay_fen": totals.get("self_pay", 0),
        "method": first.method.value,
        "settlement_id": first.settlement_id,
        "pending": False,
        "receipt_nos": [s.receipt_no for s in settled],
        "credit_fen": credit_fen,
        "credit_due_date": min(due).isoformat() if due else None,
        "credit_outstanding_fen": owed[-1] if owed else None,  # after the last charge
        "repay_hint": list(station.repay_hint) if credit_fen else [],
        "unpaid_fen": unpaid_fen,
        "extra": list(extra),
    }
