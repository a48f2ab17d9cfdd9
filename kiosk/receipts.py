"""Receipts in the printer's ``Receipt.to_dict`` form (integer fen throughout): from the quote
the patient confirmed (kiosk checkout, also while queued offline), or from the platform's own
settlement answers (a partial kiosk checkout, a payment taken at the counter)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.flow.model import LAYER_LABELS, Quote
from kiosk.protocol import schemas


@dataclass(frozen=True)
class Station:
    """Who issues the slip: the hospital's name and the kiosk's or counter's id."""

    hospital: str
    station_id: str

    def header(self, patient_name: str) -> dict[str, Any]:
        return {"hospital": self.hospital or "Hospital", "kiosk_id": self.station_id or "kiosk",
                "issued_at": dt.datetime.now(dt.UTC).isoformat(), "patient_name": patient_name}


def _shares(layers: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"layer": LAYER_LABELS.get(name, name), "amount_fen": fen}
            for name, fen in layers if name != "self_pay"]


def from_quote(station: Station, patient_name: str, quote: Quote, *, method: str,
               self_pay_fen: int, settlement_id: str, pending: bool) -> dict[str, Any]:
    return {
        **station.header(patient_name),
        "lines": [{"item": line.description, "amount_fen": line.amount_fen}
                  for line in quote.lines],
        "shares": _shares(quote.layers),
        "self_pay_fen": self_pay_fen,
        "method": method,
        "settlement_id": settlement_id,
        "pending": pending,
        "extra": [],
    }


def from_settlements(station: Station, settled: Sequence[schemas.Settlement], *,
                     extra: Sequence[str] = ()) -> dict[str, Any]:
    """One slip for one or more settlements of one patient, exactly as the platform made
    them (under the first settlement's id, which reprints it)."""
    first = settled[0]
    totals: dict[str, int] = {}
    for settlement in settled:
        for name, fen in settlement.layers.model_dump().items():
            layer = name.removesuffix("_fen")
            totals[layer] = totals.get(layer, 0) + int(fen)
    return {
        **station.header(first.patient.name),
        "lines": [{"item": item.description, "amount_fen": item.amount_fen}
                  for settlement in settled for item in settlement.items],
        "shares": _shares(totals.items()),
        "self_pay_fen": totals.get("self_pay", 0),
        "method": first.method.value,
        "settlement_id": first.settlement_id,
        "pending": False,
        "extra": list(extra),
    }
