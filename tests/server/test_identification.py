"""Identification tokens (docs/protocol.md §8.2): a kiosk reads a patient only after
identifying them itself, and cannot tell an unknown patient id from a known one."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from common.errors import ErrorCode
from kiosk.protocol.errors import ProtocolError
from server_stub.config import load_config
from server_stub.identification import IdentificationKeys
from tests.server.live import PACK, Device, Server, error_code, face_template, start_server

QUOTE = {"bill_id": "B1003-1", "patient_id": "P1003", "method": "card"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("identification"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def kiosk(server: Server) -> Device:
    return server.device("kiosk")


def bills(device: Device, patient_id: str, token: str | None) -> tuple[int, str, dict]:
    reply = device.get(f"/v1/patients/{patient_id}/bills",
                       params={"identification": token} if token is not None else None)
    return reply.status_code, error_code(reply) if reply.status_code >= 400 else "", reply.json()


def test_without_identification_a_known_patient_reads_like_an_unknown_one(kiosk: Device):
    known, unknown = bills(kiosk, "P1003", None), bills(kiosk, "P9999", None)
    assert known[:2] == (403, "auth.identification_required")
    assert known == unknown
    guessed = bills(kiosk, "P1003", "1999999999999.AAAAAAAAAAAAAAAAAAAAAA")
    assert guessed == bills(kiosk, "P9999", "1999999999999.AAAAAAAAAAAAAAAAAAAAAA")
    assert guessed[:2] == (403, "auth.identification_required")
    quote = kiosk.post("/v1/quotes", QUOTE)
    assert (quote.status_code, error_code(quote)) == (403, "auth.identification_required")


def test_a_card_identification_opens_that_patient_only_at_that_device(server: Server,
                                                                      kiosk: Device):
    card = kiosk.post("/v1/identify/card", {"card_no": "YB33078400001003"})
    assert card.status_code == 200, card.text
    body = card.json()
    assert body["patient"]["patient_id"] == "P1003" and body["patient"]["name"] == "王*"
    token = body["identification"]["token"]
    status, _, pending = bills(kiosk, "P1003", token)
    assert status == 200 and [b["bill_id"] for b in pending["bills"]] == ["B1003-1"]
    assert kiosk.post("/v1/quotes", QUOTE, params={"identification": token}).status_code == 200
    # the same token names nobody else, and no other kiosk may use it
    assert bills(kiosk, "P1001", token)[:2] == (403, "auth.identification_required")
    other_kiosk = server.device("kiosk")
    assert bills(other_kiosk, "P1003", token)[:2] == (403, "auth.identification_required")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert bills(kiosk, "P1003", tampered)[:2] == (403, "auth.identification_required")


def test_a_voucher_identification_gives_a_token_too(server: Server, kiosk: Device):
    voucher = server.seed["voucher"]
    reply = kiosk.post("/v1/identify/voucher", {"payload": voucher["payload"]})
    assert reply.status_code == 200, reply.text
    assert bills(kiosk, "P1002", reply.json()["identification"]["token"])[0] == 200


def test_face_identification_answers_only_for_this_sites_gallery(server: Server,
                                                                 kiosk: Device):
    absent = kiosk.post("/v1/identify/face", {"patient_id": "P1004", "pack": PACK})
    unknown = kiosk.post("/v1/identify/face", {"patient_id": "P9999", "pack": PACK})
    assert (absent.status_code, error_code(absent)) == (404, "patient.not_found")
    assert absent.json() == unknown.json()  # no template yet: as if they did not exist
    counter = server.device("counter")
    enrolled = counter.post("/v1/patients/P1004/templates", {
        "template": face_template("P1004"),
        "consent": {"text_version": "face-pay-v1", "consented_at": "2026-01-01T00:00:00Z"}})
    assert enrolled.status_code == 201, enrolled.text
    other_pack = kiosk.post("/v1/identify/face", {"patient_id": "P1004", "pack": "buffalo_s"})
    assert other_pack.status_code == 404
    face = kiosk.post("/v1/identify/face", {"patient_id": "P1004", "pack": PACK})
    assert face.status_code == 200, face.text
    assert bills(kiosk, "P1004", face.json()["identification"]["token"])[0] == 200
    bad = kiosk.post("/v1/identify/face", {"patient_id": "P1004", "pack": "no spaces"})
    assert (bad.status_code, error_code(bad)) == (422, "request.invalid")


def test_a_counter_looks_up_by_id_and_every_look_up_is_audited(server: Server):
    counter = server.device("counter")
    assert counter.get("/v1/patients/P1005").status_code == 200
    assert counter.get("/v1/patients/P1005/bills").status_code == 200
    engine = sa.create_engine(load_config(server.config).server.db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT actor, subject, details FROM audit_log "
                "WHERE action = 'patient.looked_up' ORDER BY seq")).all()
    finally:
        engine.dispose()
    mine = [(subject, json.loads(details)) for actor, subject, details in rows
            if actor.endswith(counter.device_id)]
    assert mine == [
        ("P1005", {"route": "GET /v1/patients/{patient_id}", "own_site": True}),
        ("P1005", {"route": "GET /v1/patients/{patient_id}/bills", "own_site": True})]
    verified = server.admin("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_tokens_expire_and_bind_device_patient_and_time():
    keys = IdentificationKeys(b"k" * 32, ttl_ms=900_000)
    issued = keys.issue("dev-1", "P1001", now=1_000_000)
    token = issued.token
    keys.check(token, device_id="dev-1", patient_id="P1001", now=1_000_000 + 899_999)
    with pytest.raises(ProtocolError) as expired:
        keys.check(token, device_id="dev-1", patient_id="P1001", now=1_000_000 + 900_000)
    assert expired.value.code == ErrorCode.IDENTIFICATION_EXPIRED
    longer = f"{1_000_000 + 10 ** 9}.{token.split('.', 1)[1]}"  # a later expiry, same MAC
    for bad, device, patient in [(token, "dev-2", "P1001"), (token, "dev-1", "P1002"),
                                 (longer, "dev-1", "P1001"), ("", "dev-1", "P1001"),
                                 ("x.y", "dev-1", "P1001"), ("1" * 40 + ".a", "dev-1", "P1001")]:
        with pytest.raises(ProtocolError) as refused:
            keys.check(bad, device_id=device, patient_id=patient, now=1_000_000)
        assert refused.value.code == ErrorCode.IDENTIFICATION_REQUIRED
    other_platform = IdentificationKeys(b"z" * 32, ttl_ms=900_000)
    with pytest.raises(ProtocolError):
        other_platform.check(token, device_id="dev-1", patient_id="P1001", now=1_000_000)
