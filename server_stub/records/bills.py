"""Bills and their items (what the hospital information system would push)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from common.errors import ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub import audit
from server_stub.clock import to_datetime
from server_stub.config import ServerConfig
from server_stub.db import bill_items, bills
from server_stub.records import new_id
from server_stub.records.patients import credit_state, masked_patient, user_row
from server_stub.records.sites import require_site


@dataclass(frozen=True)
class NewItem:
    kind: str
    description: str
    quantity: int
    unit_fen: int
    eligible: bool


def check_items(items: list[NewItem], config: ServerConfig) -> None:
    """AMOUNT_INVALID unless every line and the total are plausible."""
    if not items:
        raise ProtocolError(ErrorCode.AMOUNT_INVALID, "a bill needs at least one item")
    for item in items:
        schemas.ItemKind(item.kind)
        if not (0 < item.quantity <= 10_000 and 0 < item.unit_fen <= config.credit.max_bill_fen):
            raise ProtocolError(ErrorCode.AMOUNT_INVALID,
                                "item quantity and unit price must be positive and plausible")
    total = sum(i.quantity * i.unit_fen for i in items)
    if total > config.credit.max_bill_fen:
        raise ProtocolError(ErrorCode.AMOUNT_INVALID,
                            f"bill total {total} fen exceeds {config.credit.max_bill_fen}")


def insert_items(conn: Connection, bill_id: str, items: list[NewItem]) -> None:
    conn.execute(insert(bill_items), [
        dict(bill_id=bill_id, line_no=n, kind=i.kind, description=i.description,
             quantity=i.quantity, unit_fen=i.unit_fen, amount_fen=i.quantity * i.unit_fen,
             eligible=i.eligible) for n, i in enumerate(items, start=1)])


def create_bill(conn: Connection, *, site_id: str, patient_id: str, visit_id: str,
                items: list[NewItem], config: ServerConfig, now: int,
                bill_id: str | None = None, actor: str = "his") -> str:
    require_site(conn, site_id)
    user = user_row(conn, patient_id)
    check_items(items, config)
    total = sum(i.quantity * i.unit_fen for i in items)
    eligible = sum(i.quantity * i.unit_fen for i in items if i.eligible)
    bill_id = bill_id or new_id("bill")
    conn.execute(insert(bills).values(
        bill_id=bill_id, site_id=site_id, patient_id=patient_id, visit_id=visit_id,
        category=user.category, status=schemas.BillStatus.PENDING.value, total_fen=total,
        eligible_fen=eligible, created_ms=now))
    insert_items(conn, bill_id, items)
    audit.append(conn, at_ms=now, actor=actor, action="bill.created", subject=bill_id,
                 details={"site_id": site_id, "patient_id": patient_id, "total_fen": total})
    return bill_id


def bill_view(conn: Connection, row: Any) -> schemas.Bill:
    return schemas.Bill(bill_id=row.bill_id, site_id=row.site_id, patient_id=row.patient_id,
                        visit_id=row.visit_id, category=row.category, status=row.status,
                        total_fen=row.total_fen, eligible_fen=row.eligible_fen,
                        created_at=to_datetime(row.created_ms), items=items_of(conn, row.bill_id))


_ITEMS = select(bill_items).where(bill_items.c.bill_id == bindparam("bill_id")
                                  ).order_by(bill_items.c.line_no)


def items_of(conn: Connection, bill_id: str) -> list[schemas.BillItem]:
    rows = conn.execute(_ITEMS, {"bill_id": bill_id})
    return [schemas.BillItem(line_no=r.line_no, kind=r.kind, description=r.description,
                             quantity=r.quantity, unit_fen=r.unit_fen, amount_fen=r.amount_fen,
                             eligible=r.eligible) for r in rows]


def pending_bills(conn: Connection, *, site_id: str, patient_id: str) -> schemas.PendingBills:
    user = user_row(conn, patient_id)
    rows = conn.execute(select(bills).where(
        bills.c.patient_id == patient_id, bills.c.site_id == site_id,
        bills.c.status == schemas.BillStatus.PENDING.value).order_by(bills.c.created_ms))
    return schemas.PendingBills(patient=masked_patient(user), credit=credit_state(conn, user),
                                bills=[bill_view(conn, r) for r in rows])
