"""Masked forms of personal data: the only forms that leave the platform or reach a log."""

from __future__ import annotations


def mask_name(name: str) -> str:
    """张三丰 -> 张*丰, 张三 -> 张*, 欧阳娜娜 -> 欧**娜."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _keep_ends(value: str, head: int, tail: int) -> str:
    value = value.strip()
    if len(value) <= head + tail:
        return "*" * max(0, len(value) - 2) + value[-2:] if len(value) > 2 else "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def mask_national_id(value: str) -> str:
    """330102199001011234 -> 3301**********1234."""
    return _keep_ends(value, 4, 4)


def mask_phone(value: str) -> str:
    """13812345678 -> 138****5678."""
    return _keep_ends(value, 3, 4)


def mask_card(value: str) -> str:
    """Card numbers in logs: last 4 only."""
    return _keep_ends(value, 0, 4) if len(value.strip()) > 4 else "*" * len(value.strip())
