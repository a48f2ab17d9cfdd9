"""The hospital information system's bill feed: signed create / amend / cancel by a ``his``
device of the site (docs/protocol.md §15).

The hospital's own bill number is the feed's idempotency key, per site: a create resent
with the same content answers the same bill, with other content ``his.bill_conflict``; an
amendment equal to the current lines and a repeated cancel change nothing. A bill already
settled is not changed behind the patient's back: the amendment or cancel is refused with
``his.bill_settled`` and handed to the site's cashier (a hand-off, server_stub/handoffs.py),
who reverses and re-settles by hand. Each line carries its insurance class (甲/乙/丙);
甲类 and 乙类 lines are catalogue-eligible for the one-stop split, 丙类 is self-pay.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from common.errors import ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub import audit, gallery, handoffs
from server_stub.clock import to_datetime
from server_stub.config import ServerConfig
from server_stub.db import bill_items, bills, his_bill_lines, his_bills
from server_stub.records.bills import NewItem, check_items, create_bill, insert_items, items_of
from server_stub.records.devices import Device

# the hand-off reasons a change to a settled bill puts on the counter queue (registry codes)
AMENDED_AFTER_SETTLEMENT = ErrorCode.HIS_AMENDED_AFTER_SETTLEMENT.value
CANCELLED_AFTER_SETTLEMENT = ErrorCode.HIS_CANCELLED_AFTER_SETTLEMENT.value


def _digest(req: schemas.Request) -> str:
    """sha256 of the request as the platform parsed it (field order fixed by the model)."""
    return hashlib.sha256(req.model_dump_json().encode()).hexdigest()


def _items(lines: list[schemas.HisBillLine]) -> list[NewItem]:
    return [NewItem(line.kind.value, line.description, line.quantity, line.unit_fen,
                    eligible=line.insurance_class is not schemas.InsuranceClass.C)
            for line in lines]


def _row(conn: Connection, site_id: str, bill_no: str, *, for_update: bool = False) -> Any:
    query = (select(his_bills, bills.c.patient_id, bills.c.visit_id, bills.c.status,
                    bills.c.total_fen, bills.c.eligible_fen, bills.c.settlement_id)
             .join(bills, bills.c.bill_id == his_bills.c.bill_id)
             .where(his_bills.c.site_id == site_id, his_bills.c.bill_no == bill_no))
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:  # another site's bill number is as unknown as a missing one
        raise ProtocolError(ErrorCode.BILL_NOT_FOUND, "no bill with this number at this site")
    return row


def _lines(conn: Connection, bill_id: str) -> list[schemas.HisBillLine]:
    classes = dict(conn.execute(select(his_bill_lines.c.line_no, his_bill_lines.c.insurance_class)
                                .where(his_bill_lines.c.bill_id == bill_id)).all())
    return [schemas.HisBillLine(kind=item.kind, description=item.description,
                                quantity=item.quantity, unit_fen=item.unit_fen,
                                insurance_class=classes[item.line_no])
            for item in items_of(conn, bill_id)]


def view(conn: Connection, site_id: str, bill_no: str) -> schemas.HisBill:
    row = _row(conn, site_id, bill_no)
    lines = [schemas.HisBillLineView(line_no=n, amount_fen=line.quantity * line.unit_fen,
                                     **line.model_dump())
             for n, line in enumerate(_lines(conn, row.bill_id), start=1)]
    return schemas.HisBill(
        bill_no=row.bill_no, bill_id=row.bill_id, site_id=row.site_id,
        patient_id=row.patient_id, visit_id=row.visit_id, status=row.status,
        revision=row.revision, total_fen=row.total_fen, eligible_fen=row.eligible_fen,
        items=lines, created_at=to_datetime(row.created_ms),
        updated_at=to_datetime(row.updated_ms), settlement_id=row.settlement_id)


def _store_classes(conn: Connection, bill_id: str, lines: list[schemas.HisBillLine]) -> None:
    conn.execute(insert(his_bill_lines), [
        {"bill_id": bill_id, "line_no": n, "insurance_class": line.insurance_class.value}
        for n, line in enumerate(lines, start=1)])


def create(conn: Connection, *, device: Device, req: schemas.HisBillCreate,
           config: ServerConfig, now: int) -> tuple[schemas.HisBill, bool]:
    """The bill of this number, created if new: ``(bill, created)``."""
    digest = _digest(req)
    known = conn.execute(select(his_bills.c.created_hash).where(
        his_bills.c.site_id == device.site_id, his_bills.c.bill_no == req.bill_no)).first()
    if known is None:
        try:
            with conn.begin_nested():
                bill_id = create_bill(
                    conn, site_id=device.site_id, patient_id=req.patient_id,
                    visit_id=req.visit_id, items=_items(req.items), config=config, now=now,
                    actor=device.actor)
                conn.execute(insert(his_bills).values(
                    site_id=device.site_id, bill_no=req.bill_no, bill_id=bill_id,
                    device_id=device.device_id, created_hash=digest, revision=1,
                    created_ms=now, updated_ms=now))
                _store_classes(conn, bill_id, req.items)
                gallery.refresh_user(conn, req.patient_id, config.gallery.scope)
            return view(conn, device.site_id, req.bill_no), True
        except IntegrityError:  # a racing resend of the same number created it first
            known = conn.execute(select(his_bills.c.created_hash).where(
                his_bills.c.site_id == device.site_id,
                his_bills.c.bill_no == req.bill_no)).one()
    if known.created_hash != digest:
        raise ProtocolError(ErrorCode.HIS_BILL_CONFLICT, "this bill number was created with "
                            "other content: amend it, or use a new number",
                            bill_no=req.bill_no)
    return view(conn, device.site_id, req.bill_no), False


def _to_cashier(conn: Connection, *, device: Device, row: Any, reason: str, request: str,
                amount_fen: int, config: ServerConfig, now: int) -> ProtocolError:
    """A change to a settled bill: a hand-off for the site's counters, and the refusal to
    answer once it is committed. A resent request finds the same hand-off."""
    session = "his-" + hashlib.sha256(f"{row.bill_id}\n{request}".encode()).hexdigest()[:40]
    handoff, _ = handoffs.open_handoff(
        conn, device=device, now=now, merge_window_s=config.handoffs.merge_window_s,
        req=schemas.HandoffRequest(session_id=session, reason=reason,
                                   patient_id=row.patient_id, amount_fen=amount_fen))
    return ProtocolError(ErrorCode.HIS_BILL_SETTLED, "this bill is already settled; the "
                         "change was handed to the cashier", bill_no=row.bill_no,
                         settlement_id=row.settlement_id, handoff_id=handoff.handoff_id)


def amend(conn: Connection, *, device: Device, bill_no: str, req: schemas.HisBillAmend,
          config: ServerConfig, now: int) -> schemas.HisBill | ProtocolError:
    """Replace the lines of a pending bill. A returned error is to be answered after the
    transaction commits (the cashier's hand-off is part of it); a raised one changed nothing."""
    row = _row(conn, device.site_id, bill_no, for_update=True)
    if _lines(conn, row.bill_id) == req.items:
        return view(conn, device.site_id, bill_no)
    if row.status == schemas.BillStatus.CANCELLED.value:
        raise ProtocolError(ErrorCode.BILL_CANCELLED, "this bill was cancelled", bill_no=bill_no)
    items = _items(req.items)
    total = sum(i.quantity * i.unit_fen for i in items)
    if row.status == schemas.BillStatus.SETTLED.value:
        return _to_cashier(conn, device=device, row=row, reason=AMENDED_AFTER_SETTLEMENT,
                           request=_digest(req), amount_fen=abs(total - row.total_fen),
                           config=config, now=now)
    check_items(items, config)
    eligible = sum(i.quantity * i.unit_fen for i in items if i.eligible)
    conn.execute(delete(his_bill_lines).where(his_bill_lines.c.bill_id == row.bill_id))
    conn.execute(delete(bill_items).where(bill_items.c.bill_id == row.bill_id))
    insert_items(conn, row.bill_id, items)
    _store_classes(conn, row.bill_id, req.items)
    conn.execute(update(bills).where(bills.c.bill_id == row.bill_id)
                 .values(total_fen=total, eligible_fen=eligible))
    conn.execute(update(his_bills).where(his_bills.c.bill_id == row.bill_id)
                 .values(revision=row.revision + 1, updated_ms=now))
    audit.append(conn, at_ms=now, actor=device.actor, action="bill.amended",
                 subject=row.bill_id, details={"bill_no": bill_no, "reason": req.reason,
                                               "from_fen": row.total_fen, "to_fen": total,
                                               "revision": row.revision + 1})
    return view(conn, device.site_id, bill_no)


def cancel(conn: Connection, *, device: Device, bill_no: str, req: schemas.HisBillCancel,
           config: ServerConfig, now: int) -> schemas.HisBill | ProtocolError:
    """Cancel a pending bill (kiosks stop offering it); as ``amend`` for a settled one."""
    row = _row(conn, device.site_id, bill_no, for_update=True)
    if row.status == schemas.BillStatus.CANCELLED.value:
        return view(conn, device.site_id, bill_no)
    if row.status == schemas.BillStatus.SETTLED.value:
        return _to_cashier(conn, device=device, row=row, reason=CANCELLED_AFTER_SETTLEMENT,
                           request="cancel", amount_fen=row.total_fen, config=config, now=now)
    conn.execute(update(bills).where(bills.c.bill_id == row.bill_id)
                 .values(status=schemas.BillStatus.CANCELLED.value))
    conn.execute(update(his_bills).where(his_bills.c.bill_id == row.bill_id)
                 .values(updated_ms=now))
    gallery.refresh_user(conn, row.patient_id, config.gallery.scope)
    audit.append(conn, at_ms=now, actor=device.actor, action="bill.cancelled",
                 subject=row.bill_id, details={"bill_no": bill_no, "reason": req.reason})
    return view(conn, device.site_id, bill_no)
