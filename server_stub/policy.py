"""One-stop settlement split (一站式结算): pure integer-fen arithmetic, no I/O.

Order and rounding rules (docs/protocol.md repeats them for auditors):

1. basic pool   = floor((eligible - deductible)+ x basic_ratio), capped by what is left of
                  the basic pool's annual cap for this patient;
2. critical     = floor((eligible - basic - critical_threshold)+ x critical_ratio), capped by
                  the critical-illness annual cap;
3. medical aid  = floor((eligible - basic - critical) x aid_ratio), capped by the aid cap;
4. self-pay     = total - basic - critical - aid.

Every insurer layer is rounded down to the fen and the remainder goes to self-pay, so the
four layers always add up to the bill total exactly, none is negative, and self-pay always
includes every non-eligible fen.
"""

from __future__ import annotations

from dataclasses import dataclass

from server_stub.config import CategoryPolicy


@dataclass(frozen=True)
class LayerTotals:
    """What the insurer layers already paid for this patient this calendar year."""

    basic_pool_fen: int = 0
    critical_illness_fen: int = 0
    medical_aid_fen: int = 0


@dataclass(frozen=True)
class Split:
    basic_pool_fen: int
    critical_illness_fen: int
    medical_aid_fen: int
    self_pay_fen: int

    @property
    def total_fen(self) -> int:
        return (self.basic_pool_fen + self.critical_illness_fen + self.medical_aid_fen
                + self.self_pay_fen)


def _share(amount_fen: int, ratio_bp: int) -> int:
    return amount_fen * ratio_bp // 10_000 if amount_fen > 0 else 0


def _room(cap_fen: int, used_fen: int) -> int:
    return max(0, cap_fen - used_fen)


def split_bill(total_fen: int, eligible_fen: int, policy: CategoryPolicy,
               year_to_date: LayerTotals = LayerTotals()) -> Split:
    if not 0 <= eligible_fen <= total_fen:
        raise ValueError("need 0 <= eligible_fen <= total_fen")
    basic = min(_share(eligible_fen - policy.deductible_fen, policy.basic_ratio_bp),
                _room(policy.basic_annual_cap_fen, year_to_date.basic_pool_fen))
    left = eligible_fen - basic
    critical = min(_share(left - policy.critical_threshold_fen, policy.critical_ratio_bp),
                   _room(policy.critical_annual_cap_fen, year_to_date.critical_illness_fen))
    left -= critical
    aid = min(_share(left, policy.aid_ratio_bp),
              _room(policy.aid_annual_cap_fen, year_to_date.medical_aid_fen))
    return Split(basic_pool_fen=basic, critical_illness_fen=critical, medical_aid_fen=aid,
                 self_pay_fen=total_fen - basic - critical - aid)
