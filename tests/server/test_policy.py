"""The one-stop split: integer fen, layers add up exactly, nothing negative, caps respected."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server_stub.config import CategoryPolicy, PolicySection
from server_stub.policy import LayerTotals, split_bill

fen = st.integers(min_value=0, max_value=100_000_000)
ratio = st.integers(min_value=0, max_value=10_000)
policies = st.builds(CategoryPolicy, deductible_fen=fen, basic_ratio_bp=ratio,
                     basic_annual_cap_fen=fen, critical_threshold_fen=fen,
                     critical_ratio_bp=ratio, critical_annual_cap_fen=fen, aid_ratio_bp=ratio,
                     aid_annual_cap_fen=fen)
used = st.builds(LayerTotals, fen, fen, fen)


@st.composite
def bills(draw):
    total = draw(st.integers(min_value=0, max_value=100_000_000))
    return total, draw(st.integers(min_value=0, max_value=total))


@given(bills(), policies, used)
def test_layers_always_sum_to_the_bill_and_respect_caps(bill, policy, ytd):
    total, eligible = bill
    split = split_bill(total, eligible, policy, ytd)
    parts = (split.basic_pool_fen, split.critical_illness_fen, split.medical_aid_fen,
             split.self_pay_fen)
    assert all(type(p) is int and p >= 0 for p in parts)
    assert sum(parts) == split.total_fen == total
    assert split.self_pay_fen >= total - eligible  # non-eligible cost is always self-paid
    assert split.basic_pool_fen <= max(0, policy.basic_annual_cap_fen - ytd.basic_pool_fen)
    assert split.critical_illness_fen <= max(
        0, policy.critical_annual_cap_fen - ytd.critical_illness_fen)
    assert split.medical_aid_fen <= max(0, policy.aid_annual_cap_fen - ytd.medical_aid_fen)
    assert split.basic_pool_fen <= max(0, eligible - policy.deductible_fen)


@given(bills(), policies)
def test_more_used_this_year_never_means_more_insurance(bill, policy):
    total, eligible = bill
    fresh = split_bill(total, eligible, policy)
    later = split_bill(total, eligible, policy, LayerTotals(5_000_000, 5_000_000, 5_000_000))
    assert later.self_pay_fen >= fresh.self_pay_fen


def test_seed_ratios():
    seed = PolicySection()
    employee = split_bill(1_001_000, 1_001_000, seed.employee)
    assert employee.basic_pool_fen == (1_001_000 - 1_000) * 8072 // 10_000  # 807,200
    resident = split_bill(102_000, 102_000, seed.resident)
    assert resident.basic_pool_fen == 100_000 * 7217 // 10_000
    poor = split_bill(1_000_000, 1_000_000, seed.poverty_relief)
    insured = poor.basic_pool_fen + poor.medical_aid_fen
    assert abs(insured / 1_000_000 - 0.90) < 0.001  # ≈ 90 % for registered poor households


def test_rounding_goes_to_self_pay():
    split = split_bill(3, 3, CategoryPolicy(deductible_fen=0, basic_ratio_bp=5000,
                                            critical_threshold_fen=10**8, aid_ratio_bp=0))
    assert (split.basic_pool_fen, split.self_pay_fen) == (1, 2)


def test_critical_illness_above_threshold_and_annual_caps():
    policy = CategoryPolicy(deductible_fen=0, basic_ratio_bp=5000, basic_annual_cap_fen=10**9,
                            critical_threshold_fen=100_000, critical_ratio_bp=6000,
                            critical_annual_cap_fen=50_000)
    split = split_bill(1_000_000, 1_000_000, policy)
    assert split.basic_pool_fen == 500_000
    assert split.critical_illness_fen == 50_000  # 60 % of 400,000 = 240,000, capped at 50,000
    capped = split_bill(1_000_000, 1_000_000, policy, LayerTotals(basic_pool_fen=10**9 - 100))
    assert capped.basic_pool_fen == 100


def test_eligible_above_total_is_a_bug():
    with pytest.raises(ValueError):
        split_bill(10, 11, CategoryPolicy())
