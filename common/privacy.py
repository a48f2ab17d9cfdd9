"""Masking of personal data for receipts, screens and logs.

The rules of the house: logs and printed slips never carry full names or full card/national
id numbers. Masking is idempotent (masking a masked value changes nothing) so callers can mask
defensively at every boundary.
"""

from __future__ import annotations


def mask_name(name: str) -> str:
    """张三 -> 张*, 张小三 -> 张*三, 欧阳小明 -> 欧**明; a one-character name is hidden whole."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_number(number: str) -> str:
    """3301XXXXXXXXXX1234 -> 3301**********1234; keeps at most a quarter at each end."""
    number = number.strip()
    keep = min(4, len(number) // 4)
    if keep == 0:
        return "*" * len(number)
    return number[:keep] + "*" * (len(number) - 2 * keep) + number[-keep:]


def mask_phone(phone: str) -> str:
    """13812345678 -> 138****5678 (the form mainland services print)."""
    phone = phone.strip()
    if len(phone) <= 7:
        return "*" * max(0, len(phone) - 2) + phone[-2:] if len(phone) > 2 else "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_card(card_no: str) -> str:
    """Card numbers in logs and lists: the last 4 characters only."""
    card_no = card_no.strip()
    return "*" * (len(card_no) - 4) + card_no[-4:] if len(card_no) > 4 else "*" * len(card_no)
