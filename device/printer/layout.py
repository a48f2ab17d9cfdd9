"""What goes on the slip, in order, independent of how it is drawn.

Both the ESC/POS renderer and the PNG/PDF renderer draw these rows, so the paper slip and the
on-screen receipt can never disagree. Labels are bilingual (Chinese first) for patients and
their families.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from device.printer.receipt import METHODS, Receipt, format_fen

RowKind = Literal["title", "big", "center", "small", "pair", "rule", "qr"]
PENDING = "待确认 pending"


@dataclass(frozen=True)
class Row:
    kind: RowKind
    left: str = ""
    right: str = ""


def receipt_rows(receipt: Receipt, *, reprint: bool = False) -> list[Row]:
    """The slip, top to bottom: the 凭条号 large (the counter finds the payment by it), the
    bill, then the credit terms; the settlement id only in the QR and in small print."""
    zh, en = METHODS[receipt.method]
    rows = [
        Row("title", receipt.hospital),
        Row("center", "自助缴费凭条"),
        Row("center", "Self-service payment receipt"),
    ]
    if reprint:
        rows.append(Row("center", "** 重打 REPRINT **"))
    if receipt.receipt_nos or receipt.pending:
        rows.append(Row("center", "凭条号 Receipt No."))
        rows += [Row("big", no) for no in receipt.receipt_nos] or [Row("center", PENDING)]
    rows += [
        Row("pair", "终端 Kiosk", receipt.kiosk_id),
        Row("pair", "时间 Time", receipt.issued_at.strftime("%Y-%m-%d %H:%M")),
        Row("pair", "患者 Patient", receipt.patient_name),
        Row("rule"),
        Row("pair", "项目 Item", "金额(元) CNY"),
        *(Row("pair", line.item, format_fen(line.amount_fen)) for line in receipt.lines),
        Row("rule"),
        Row("pair", "合计 Total", format_fen(receipt.total_fen)),
        *(Row("pair", share.layer, format_fen(share.amount_fen)) for share in receipt.shares),
        Row("pair", "个人自付 Self-pay", format_fen(receipt.self_pay_fen)),
        Row("pair", "支付方式 Method", f"{zh} {en}"),
    ]
    rows += _credit_rows(receipt)
    if receipt.unpaid_fen is not None:
        rows += [Row("rule"), Row("pair", "尚未支付 Still to pay", format_fen(receipt.unpaid_fen))]
    rows += [Row("rule"), Row("qr", receipt.settlement_id),
             Row("small", "结算号 Settlement No."), Row("small", receipt.settlement_id)]
    if receipt.pending:
        rows += [Row("center", "** 待确认 PENDING **"),
                 Row("center", "网络恢复后自动上传"),
                 Row("center", "Will be confirmed when online")]
    rows += [Row("center", text) for text in receipt.extra]
    rows.append(Row("center", "谢谢 Thank you"))
    return rows


def _credit_rows(receipt: Receipt) -> list[Row]:
    if not receipt.credit_fen:
        return []
    due = receipt.credit_due_date.isoformat() if receipt.credit_due_date else PENDING
    rows = [Row("rule"),
            Row("pair", "本次信用付 On credit", format_fen(receipt.credit_fen)),
            Row("pair", "还款到期日 Repay by", due)]
    if receipt.credit_outstanding_fen is not None:
        rows.append(Row("pair", "信用付待还 Credit owed",
                        format_fen(receipt.credit_outstanding_fen)))
    elif receipt.pending:
        rows.append(Row("pair", "信用付待还 Credit owed", PENDING))
    return rows + [Row("center", text) for text in receipt.repay_hint]


def cell_width(text: str) -> int:
    """Printer columns: in GB18030 (Kanji) mode a multi-byte character is full width."""
    return sum(1 if ord(c) < 0x80 else 2 for c in text)


def wrap(text: str, columns: int) -> list[str]:
    """Split by printer columns (not by characters: 汉字 take two)."""
    lines, current, used = [], "", 0
    for char in text:
        width = cell_width(char)
        if used + width > columns and current:
            lines.append(current)
            current, used = "", 0
        current += char
        used += width
    return [*lines, current] if current or not lines else lines


def pair_lines(left: str, right: str, columns: int) -> list[str]:
    """``left ...... right`` on one line, or left wrapped and right alone at the end."""
    gap = columns - cell_width(left) - cell_width(right)
    if gap >= 1:
        return [left + " " * gap + right]
    return [*wrap(left, columns), " " * max(0, columns - cell_width(right)) + right]
