"""亲情付 (docs/protocol.md §8.3) against a real platform process: a patient authorises a
relative at the counter; the relative, identified at a kiosk, reads and pays for the patient
with the act audited as theirs; withdrawing ends it at once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.server.live import Device, Server, audit_details, error_code, make_bill, start_server

PATIENT, RELATIVE = "P1005", "P1001"  # an elder (poverty relief) and her son
RELATIVE_CARD = "YB33078400001001"
CONSENT = {"text_version": "family-v1", "consented_at": "2026-12-01T09:00:00+08:00"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("family"))
    yield running
    running.stop()


def authorise(counter: Device, patient: str = PATIENT, relative: str = RELATIVE):
    return counter.post(f"/v1/patients/{patient}/relatives", {
        "relative_id": relative, "relation": "child", "consent": CONSENT})


def relative_token(kiosk: Device) -> str:
    reply = kiosk.post("/v1/identify/card", {"card_no": RELATIVE_CARD})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["identification"]["token"])


def dependants(kiosk: Device, token: str) -> list[dict]:
    reply = kiosk.get(f"/v1/patients/{RELATIVE}/dependants", params={"identification": token})
    assert reply.status_code == 200, reply.text
    return list(reply.json()["dependants"])


def test_a_relative_reads_and_pays_for_the_patient_until_the_patient_withdraws(server: Server):
    counter, kiosk = server.device("counter"), server.device("kiosk")
    assert dependants(kiosk, relative_token(kiosk)) == []  # nobody authorised them yet
    made = authorise(counter)
    assert made.status_code == 201, made.text
    assert made.json()["relative"]["patient_id"] == RELATIVE
    assert made.json()["relative"]["name"] == "张*丰" and made.json()["withdrawn_at"] is None
    assert authorise(counter).json() == made.json()  # the same consent again: unchanged

    # the relative identifies as themselves; their own token opens only their own data
    own = relative_token(kiosk)
    refused = kiosk.get(f"/v1/patients/{PATIENT}/bills", params={"identification": own})
    assert (refused.status_code, error_code(refused)) == (403, "auth.identification_required")
    [elder] = dependants(kiosk, own)
    assert elder["patient"]["patient_id"] == PATIENT and elder["patient"]["name"] == "陈*"
    assert elder["relation"] == "child" and "national_id" in elder["patient"]
    token = elder["identification"]["token"]
    via = {"identification": token}
    pending = kiosk.get(f"/v1/patients/{PATIENT}/bills", params=via)
    assert pending.status_code == 200 and pending.json()["bills"]
    bill = pending.json()["bills"][0]["bill_id"]
    quote = kiosk.post("/v1/quotes", {"bill_id": bill, "patient_id": PATIENT,
                                      "method": "card"}, params=via)
    assert quote.status_code == 200, quote.text
    # a token issued via a relative opens no further family
    deeper = kiosk.get(f"/v1/patients/{PATIENT}/dependants", params=via)
    assert (deeper.status_code, error_code(deeper)) == (403, "auth.identification_required")

    # the relative settles the elder's bill on the elder's credit; the audit names them
    settled = kiosk.settle(bill, PATIENT, "card", paid_by=RELATIVE)
    assert settled.status_code == 201, settled.text
    assert settled.json()["charge_to_credit_fen"] > 0
    assert audit_details(server.config, "settlement.settled")[-1]["paid_by"] == RELATIVE
    # and repays part of it at the counter
    repaid = counter.post("/v1/repayments", {"patient_id": PATIENT, "amount_fen": 100,
                                             "method": "cash", "paid_by": RELATIVE},
                          key=str(uuid.uuid4()))
    assert repaid.status_code == 201, repaid.text
    assert audit_details(server.config, "credit.repaid")[-1]["paid_by"] == RELATIVE

    # the elder withdraws: the relative's token stops working at once
    withdrawn = counter.post(f"/v1/patients/{PATIENT}/relatives/{RELATIVE}/withdraw", None)
    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn_at"] is not None
    assert audit_details(server.config, "family.withdrawn")[-1] == {"relative_id": RELATIVE}
    after = kiosk.get(f"/v1/patients/{PATIENT}/bills", params=via)
    assert (after.status_code, error_code(after)) == (403, "family.not_authorised")
    before = counter.get(f"/v1/patients/{PATIENT}").json()["credit"]
    next_bill = make_bill(server, PATIENT, [("exam", 1, 3_000, True)])
    settle = kiosk.settle(next_bill, PATIENT, "card", paid_by=RELATIVE)
    assert (settle.status_code, error_code(settle)) == (403, "family.not_authorised")
    repay = counter.post("/v1/repayments", {"patient_id": PATIENT, "amount_fen": 100,
                                            "method": "cash", "paid_by": RELATIVE},
                         key=str(uuid.uuid4()))
    assert (repay.status_code, error_code(repay)) == (403, "family.not_authorised")
    assert counter.get(f"/v1/patients/{PATIENT}").json()["credit"] == before
    assert dependants(kiosk, relative_token(kiosk)) == []
    listed = counter.get(f"/v1/patients/{PATIENT}/relatives").json()["relatives"]
    assert [(r["relative"]["patient_id"], r["withdrawn_at"] is not None) for r in listed] == [
        (RELATIVE, True)]
    # consent given again starts anew
    again = authorise(counter)
    assert again.status_code == 201 and again.json()["withdrawn_at"] is None
    verified = server.admin("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_what_cannot_be_authorised(server: Server):
    counter, kiosk = server.device("counter"), server.device("kiosk")
    self_ = authorise(counter, relative=PATIENT)
    assert (self_.status_code, error_code(self_)) == (422, "family.self")
    unknown = authorise(counter, relative="P9999")
    assert (unknown.status_code, error_code(unknown)) == (404, "patient.not_found")
    by_kiosk = authorise(kiosk, patient="P1003")
    assert (by_kiosk.status_code, error_code(by_kiosk)) == (403, "auth.role_forbidden")
    bad = counter.post(f"/v1/patients/{PATIENT}/relatives", {
        "relative_id": "P1003", "relation": "neighbour", "consent": CONSENT})
    assert (bad.status_code, error_code(bad)) == (422, "request.invalid")
    never = counter.post(f"/v1/patients/P1006/relatives/{RELATIVE}/withdraw", None)
    assert (never.status_code, error_code(never)) == (403, "family.not_authorised")
    stranger = kiosk.settle("B1006-1", "P1006", "card", paid_by="P1003")
    assert (stranger.status_code, error_code(stranger)) == (403, "family.not_authorised")


def test_a_relative_with_no_bill_here_is_known_here_through_the_patient(server: Server):
    """The daughter has never been treated at this hospital; her father has. Once he
    authorised her, this site's kiosk identifies her by card; before that, and after he
    withdraws, it answers as for an unknown card."""
    counter, kiosk = server.device("counter"), server.device("kiosk")
    server.admin("user", "enrol", "--patient-id", "P3001", "--name", "刘小女",
                 "--national-id", "330784199505053001", "--phone", "13900003001",
                 "--category", "employee", "--limit-fen", "100000",
                 "--consent-version", "credit-v1", "--card-no", "YB33078400003001")
    card = {"card_no": "YB33078400003001"}
    unknown = kiosk.post("/v1/identify/card", {"card_no": "YB33078400009999"})
    before = kiosk.post("/v1/identify/card", card)
    assert (before.status_code, before.json()) == (404, unknown.json())
    assert authorise(counter, patient="P1006", relative="P3001").status_code == 201
    found = kiosk.post("/v1/identify/card", card)
    assert found.status_code == 200, found.text
    [father] = dependants_of(kiosk, "P3001", found.json()["identification"]["token"])
    assert father["patient"]["patient_id"] == "P1006"
    counter.post("/v1/patients/P1006/relatives/P3001/withdraw", None)
    assert kiosk.post("/v1/identify/card", card).json() == unknown.json()


def dependants_of(kiosk: Device, relative: str, token: str) -> list[dict]:
    reply = kiosk.get(f"/v1/patients/{relative}/dependants", params={"identification": token})
    assert reply.status_code == 200, reply.text
    return list(reply.json()["dependants"])


def test_a_counters_family_look_ups_are_audited(server: Server):
    counter = server.device("counter")
    assert counter.get(f"/v1/patients/{PATIENT}/relatives").status_code == 200
    assert counter.get(f"/v1/patients/{RELATIVE}/dependants").status_code == 200
    routes = [d["route"] for d in audit_details(server.config, "patient.looked_up")]
    assert routes[-2:] == ["GET /v1/patients/{patient_id}/relatives",
                           "GET /v1/patients/{patient_id}/dependants"]
