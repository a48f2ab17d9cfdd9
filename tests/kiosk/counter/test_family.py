"""The counter's 亲情付 core (kiosk.counter.family), no screen, against a real platform process
(server_stub on loopback, seeded demo hospital) through a counter's signed client: a patient
authorises a relative found by card with the consent version recorded; the relative at the
desk sees whom they may pay for, settles a dependant's bill and repays the dependant's debt
with ``paid_by`` (audited as theirs, a resend recorded once); a withdrawal ends it at once,
and what cannot be done says so with the registry's code, changing nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from common.errors import ErrorCode
from kiosk.backend import BackendError
from kiosk.client import PlatformClient
from kiosk.config import load_config
from kiosk.counter.charge import ChargeGuard
from kiosk.counter.family import (
    CONSENT_VERSION,
    RELATIONS,
    FamilyService,
    check_relative,
    standing,
)
from kiosk.counter.inputs import BadInput, amount_fen, repayment_reason
from kiosk.counter.platform_service import PlatformCashierService
from kiosk.counter.service import LookupBy
from kiosk.demo.local_platform import LocalPlatform, make_platform
from kiosk.i18n import FAMILY_CONSENT_VERSION, has_text, tr
from kiosk.protocol.schemas import (
    PaymentMethod,
    Relation,
    RepaymentMethod,
    RepayRequest,
    SettleRequest,
)
from kiosk.provisioning import connect, provision
from kiosk.settlement.outbox import Outbox
from tests.server.live import audit_details

PATIENT, RELATIVE = "P1005", "P1001"  # an elder on poverty relief, and her son
RELATIVE_CARD = "YB33078400001001"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    started = make_platform(tmp_path_factory.mktemp("family-platform"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def client(platform: LocalPlatform) -> PlatformClient:
    return connect(platform.device("counter", "counter"))


@pytest.fixture
def service(client: PlatformClient, tmp_path: Path) -> PlatformCashierService:
    return PlatformCashierService(client, Outbox(tmp_path / "counter-outbox.db"))


def new_bill(platform: LocalPlatform, patient_id: str) -> str:
    made = json.loads(platform.admin("bill", "create", "--site", platform.seed["site_id"],
                                     "--patient", patient_id, "--visit", f"V{uuid.uuid4().hex}",
                                     "--item", "exam:血常规:1:3000"))
    return str(made["bill_id"])


def code_of(exc: pytest.ExceptionInfo[BackendError]) -> str:
    return str(exc.value.code)


def test_authorise_pay_for_and_withdraw(platform: LocalPlatform, service: PlatformCashierService):
    family = service.family
    relative = family.find(LookupBy.CARD, RELATIVE_CARD)  # found as the look-up finds anyone
    assert relative.patient.patient_id == RELATIVE and relative.patient.name == "张*丰"
    check_relative(PATIENT, relative)
    made = family.authorise(PATIENT, RELATIVE, Relation.CHILD, datetime.now(UTC))
    assert made.consent_version == CONSENT_VERSION == FAMILY_CONSENT_VERSION
    assert standing(made) and made.relation is Relation.CHILD
    assert audit_details(platform.config, "family.authorised")[-1] == {
        "relative_id": RELATIVE, "relation": "child", "consent_version": CONSENT_VERSION}

    # the patient's side lists it with its state; the relative's side lists the patient
    [listed] = family.family(PATIENT).relatives
    assert listed.relative.patient_id == RELATIVE and standing(listed)
    seen = family.family(RELATIVE)
    assert [(d.patient.patient_id, d.relation) for d in seen.dependants] == [
        (PATIENT, Relation.CHILD)]
    owed_before = seen.dependants[0].credit.outstanding_fen

    # the relative settles the elder's bill on her credit, the charge naming him
    bill = new_bill(platform, PATIENT)
    quote = service.quote(bill, PATIENT, PaymentMethod.CARD)
    settled = service.settle(SettleRequest(
        bill_id=bill, patient_id=PATIENT, method=PaymentMethod.CARD,
        expected_self_pay_fen=quote.layers.self_pay_fen, paid_by=RELATIVE), uuid.uuid4().hex)
    assert settled.charge_to_credit_fen > 0
    assert audit_details(platform.config, "settlement.settled")[-1]["paid_by"] == RELATIVE
    owed = family.family(RELATIVE).dependants[0].credit.outstanding_fen
    assert owed == owed_before + settled.charge_to_credit_fen

    # and repays part of her debt in cash; a resend with the same key is recorded once
    guard = ChargeGuard()
    request = RepayRequest(patient_id=PATIENT, amount_fen=amount_fen("1.50", owed),
                           method=RepaymentMethod.CASH, paid_by=RELATIVE)
    key = guard.begin(request)
    assert key is not None
    repaid = family.repay(request, key)
    again = family.repay(request, key)
    assert again.repayment_id == repaid.repayment_id
    assert repaid.credit.outstanding_fen == owed - 150
    assert family.family(RELATIVE).dependants[0].credit.outstanding_fen == owed - 150
    repaid_audit = audit_details(platform.config, "credit.repaid")
    assert [d for d in repaid_audit if d.get("paid_by") == RELATIVE] == [
        {"patient_id": PATIENT, "amount_fen": 150, "method": "cash", "reason": None,
         "paid_by": RELATIVE}]
    guard.repaid()

    # the elder withdraws: at once, he can neither repay nor settle for her
    withdrawn = family.withdraw(PATIENT, RELATIVE)
    assert withdrawn.withdrawn_at is not None and not standing(withdrawn)
    assert family.withdraw(PATIENT, RELATIVE) == withdrawn  # a repeat changes nothing
    [listed] = family.family(PATIENT).relatives
    assert not standing(listed)
    assert family.family(RELATIVE).dependants == []
    late = RepayRequest(patient_id=PATIENT, amount_fen=100, method=RepaymentMethod.CARD,
                        paid_by=RELATIVE)
    with pytest.raises(BackendError) as refused:
        family.repay(late, guard.begin(late) or "")
    assert code_of(refused) == ErrorCode.FAMILY_NOT_AUTHORISED and not refused.value.retryable
    guard.refused()
    other = new_bill(platform, PATIENT)
    with pytest.raises(BackendError) as refused:
        service.settle(SettleRequest(bill_id=other, patient_id=PATIENT,
                                     method=PaymentMethod.CARD, paid_by=RELATIVE),
                       uuid.uuid4().hex)
    assert code_of(refused) == ErrorCode.FAMILY_NOT_AUTHORISED
    assert service.client.patient(PATIENT).credit.outstanding_fen == owed - 150
    assert service.lookup(LookupBy.PATIENT, PATIENT).bills[-1].status.value == "pending"

    # consent given again starts anew
    renewed = family.authorise(PATIENT, RELATIVE, Relation.CHILD, datetime.now(UTC))
    assert standing(renewed) and renewed.authorised_at > made.authorised_at
    family.withdraw(PATIENT, RELATIVE)


def other_site_debtor(platform: LocalPlatform, folder: Path) -> str:
    """A patient of the group's other hospital only (a new site of this platform), who owes
    there: a card settlement made by that site's own counter. Her id."""
    site_b = json.loads(platform.admin("site", "create", "--code", "YK02",
                                       "--name", "分院"))["site_id"]
    token = json.loads(platform.admin("device", "token", "--site", site_b,
                                      "--role", "counter"))["token"]
    config = folder / "counter-b.toml"
    config.write_text(f'[paths]\ndata_dir = "{folder / "counter-b"}"\n')
    provision(platform.url, token, config, folder / "counter-b", name="counter-b")
    elder = f"PB{uuid.uuid4().hex[:8].upper()}"
    platform.admin("user", "enrol", "--patient-id", elder, "--name", "孙桂兰",
                   "--national-id", "330184194501014321", "--phone", "13800004321",
                   "--category", "resident", "--consent-version", "credit-face-v1")
    made = json.loads(platform.admin("bill", "create", "--site", site_b, "--patient", elder,
                                     "--visit", f"V{elder}", "--item", "exam:CT:1:30000"))
    connect(load_config(config)).settle(SettleRequest(
        bill_id=made["bill_id"], patient_id=elder, method=PaymentMethod.CARD),
        uuid.uuid4().hex)
    return elder


def test_a_dependant_of_another_site_is_repaid_with_a_reason(
        platform: LocalPlatform, service: PlatformCashierService, tmp_path: Path):
    """An elder treated at the group's other hospital owes there; her son repays at this
    counter: the platform wants to know why this counter takes her money."""
    elder = other_site_debtor(platform, tmp_path)
    family = service.family
    family.authorise(elder, RELATIVE, Relation.CHILD, datetime.now(UTC))
    [dependant] = [d for d in family.family(RELATIVE).dependants
                   if d.patient.patient_id == elder]
    owed = dependant.credit.outstanding_fen
    assert owed > 100
    request = RepayRequest(patient_id=elder, amount_fen=100, method=RepaymentMethod.CASH,
                           paid_by=RELATIVE)
    with pytest.raises(BackendError) as refused:
        family.repay(request, uuid.uuid4().hex)
    assert code_of(refused) == ErrorCode.REASON_REQUIRED and not refused.value.retryable
    reason = repayment_reason("  子女在本院代还  ")
    repaid = family.repay(request.model_copy(update={"reason": reason}), uuid.uuid4().hex)
    assert repaid.credit.outstanding_fen == owed - 100
    repaid_audit = audit_details(platform.config, "credit.repaid")
    assert [d for d in repaid_audit if d["patient_id"] == elder] == [
        {"patient_id": elder, "amount_fen": 100, "method": "cash", "reason": "子女在本院代还",
         "paid_by": RELATIVE}]
    with pytest.raises(BadInput):
        repayment_reason("x")
    family.withdraw(elder, RELATIVE)


def test_what_cannot_be_done_says_why(service: PlatformCashierService):
    family: FamilyService = service.family
    itself = family.find(LookupBy.PATIENT, PATIENT)
    with pytest.raises(BackendError) as refused:
        check_relative(PATIENT, itself)  # before the consent is even shown
    assert code_of(refused) == ErrorCode.FAMILY_SELF
    with pytest.raises(BackendError) as refused:  # the platform says the same
        family.authorise(PATIENT, PATIENT, Relation.OTHER, datetime.now(UTC))
    assert code_of(refused) == ErrorCode.FAMILY_SELF
    with pytest.raises(BackendError) as refused:
        family.find(LookupBy.PATIENT, "P9999")
    assert code_of(refused) == ErrorCode.PATIENT_NOT_FOUND
    with pytest.raises(BackendError) as refused:
        family.authorise(PATIENT, "P9999", Relation.SPOUSE, datetime.now(UTC))
    assert code_of(refused) == ErrorCode.PATIENT_NOT_FOUND
    with pytest.raises(BackendError) as refused:
        family.withdraw("P1006", RELATIVE)  # never authorised
    assert code_of(refused) == ErrorCode.FAMILY_NOT_AUTHORISED
    stranger = RepayRequest(patient_id="P1003", amount_fen=100,
                            method=RepaymentMethod.TRANSFER, paid_by="P1002")
    with pytest.raises(BackendError) as refused:
        family.repay(stranger, uuid.uuid4().hex)
    assert code_of(refused) == ErrorCode.FAMILY_NOT_AUTHORISED
    assert family.family("P1006").relatives == []
    for code in (ErrorCode.FAMILY_NOT_AUTHORISED, ErrorCode.FAMILY_SELF):
        assert has_text(code) and tr(code) != tr("generic.problem")


def test_every_relation_of_the_wire_has_words_and_the_consent_names_its_version():
    assert [r.value for r in RELATIONS] == [r.value for r in Relation]
    for relation in RELATIONS:
        for lang in ("zh", "en"):
            assert has_text(f"relation.{relation.value}") and tr(f"relation.{relation.value}",
                                                                 lang)
    assert CONSENT_VERSION in tr("family.consent_title", version=CONSENT_VERSION)
    assert "撤回" in tr("family.consent_text") and "withdraw" in tr("family.consent_text", "en")


def test_amounts_are_integer_fen_and_never_more_than_owed():
    assert [amount_fen(t, 10_000) for t in ("50", "12.5", "¥12.34", " 0.01 ", "100.00")] == [
        5_000, 1_250, 1_234, 1, 10_000]
    for bad in ("", "abc", "1.234", "-1", "0", "0.00", "100.01", "1e2", "1,5"):
        with pytest.raises(BadInput):
            amount_fen(bad, 10_000)


def test_a_key_is_kept_only_for_the_same_repayment():
    keys = iter(f"k{i}" for i in range(9))
    guard = ChargeGuard(new_key=lambda: next(keys))
    by_son = RepayRequest(patient_id=PATIENT, amount_fen=500, method=RepaymentMethod.CASH,
                          paid_by=RELATIVE)
    assert guard.begin(by_son) == "k0"
    guard.unknown()  # the answer was lost: confirming again asks the same question
    assert guard.begin(by_son) == "k0"
    guard.unknown()
    by_daughter = by_son.model_copy(update={"paid_by": "P1004"})
    assert guard.begin(by_daughter) == "k1"  # another payer is another repayment
    guard.repaid()
    assert guard.begin(by_daughter) == "k2"  # recorded: the next one is new
