"""Daily reconciliation per site (T+1): settlements and reversals of one local day.

Lines are the day's events: every settlement made that day, and every reversal made that
day (of a settlement from any day). Totals are summed from the lines and then checked:
the layers of each total add up to its bill total, and the per-method nets add up to the
overall net. A report that does not balance is a bug, so ``balanced`` is computed, not
assumed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable

from sqlalchemy import Connection, select

from kiosk.protocol import schemas
from server_stub.clock import day_bounds, now_ms, to_datetime
from server_stub.config import ServerConfig
from server_stub.db import settlements

AMOUNTS = ("total_fen", "basic_pool_fen", "critical_illness_fen", "medical_aid_fen",
           "self_pay_fen", "charge_to_credit_fen", "pay_at_counter_fen")
LAYERS = ("basic_pool_fen", "critical_illness_fen", "medical_aid_fen", "self_pay_fen")


def totals(lines: Iterable[schemas.ReconLine]) -> schemas.ReconTotals:
    lines = list(lines)
    sums = {name: sum(getattr(line, name) for line in lines) for name in AMOUNTS}
    return schemas.ReconTotals(count=len(lines), **sums)


def _minus(a: schemas.ReconTotals, b: schemas.ReconTotals) -> schemas.ReconTotals:
    return schemas.ReconTotals(count=a.count - b.count,
                               **{n: getattr(a, n) - getattr(b, n) for n in AMOUNTS})


def _balanced(total: schemas.ReconTotals) -> bool:
    return (sum(getattr(total, n) for n in LAYERS) == total.total_fen
            and total.charge_to_credit_fen + total.pay_at_counter_fen == total.self_pay_fen)


def build(site_id: str, day: dt.date, timezone: str, lines: list[schemas.ReconLine],
          generated_ms: int) -> schemas.Reconciliation:
    """Pure: the report for these lines."""
    settled = totals(line for line in lines if line.kind == "settlement")
    reversed_ = totals(line for line in lines if line.kind == "reversal")
    net = _minus(settled, reversed_)
    by_method = {}
    for method in schemas.PaymentMethod:
        plus = totals(x for x in lines if x.kind == "settlement" and x.method == method)
        minus = totals(x for x in lines if x.kind == "reversal" and x.method == method)
        by_method[method] = _minus(plus, minus)
    method_sum = {n: sum(getattr(t, n) for t in by_method.values()) for n in AMOUNTS}
    balanced = (all(_balanced(t) for t in (settled, reversed_, net, *by_method.values()))
                and all(method_sum[n] == getattr(net, n) for n in AMOUNTS))
    return schemas.Reconciliation(site_id=site_id, date=day.isoformat(), timezone=timezone,
                                  generated_at=to_datetime(generated_ms), settled=settled,
                                  reversed=reversed_, net=net, by_method=by_method, lines=lines,
                                  balanced=balanced)


def _line(row, kind: str) -> schemas.ReconLine:
    return schemas.ReconLine(
        kind=kind, settlement_id=row.settlement_id, receipt_no=row.receipt_no,
        bill_id=row.bill_id, patient_id=row.patient_id, method=row.method,
        at=to_datetime(row.settled_ms if kind == "settlement" else row.reversed_ms),
        **{name: getattr(row, name) for name in AMOUNTS})


def reconcile(conn: Connection, *, site_id: str, day: dt.date,
              config: ServerConfig) -> schemas.Reconciliation:
    start, end = day_bounds(day, config.server.timezone)
    s = settlements.c
    made = conn.execute(select(settlements).where(
        s.site_id == site_id, s.settled_ms >= start, s.settled_ms < end))
    undone = conn.execute(select(settlements).where(
        s.site_id == site_id, s.reversed_ms >= start, s.reversed_ms < end))
    lines = [_line(r, "settlement") for r in made] + [_line(r, "reversal") for r in undone]
    lines.sort(key=lambda line: (line.at, line.kind, line.settlement_id))
    return build(site_id, day, config.server.timezone, lines, now_ms())


CSV_COLUMNS = ("kind", "settlement_id", "receipt_no", "bill_id", "patient_id", "method", "at",
               *AMOUNTS)


def to_csv(report: schemas.Reconciliation) -> str:
    """One row per line, then rows ``total:settled``, ``total:reversed``, ``total:net``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in report.lines:
        data = line.model_dump(mode="json")
        writer.writerow([data[c] for c in CSV_COLUMNS])
    for name, total in (("settled", report.settled), ("reversed", report.reversed),
                        ("net", report.net)):
        writer.writerow([f"total:{name}", total.count, "", "", "", "", "",
                         *(getattr(total, n) for n in AMOUNTS)])
    return out.getvalue()
