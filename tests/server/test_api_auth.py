"""Every request-authentication rejection, over real HTTP against a real server process."""

from __future__ import annotations

import datetime
import json
import sqlite3
import time

import requests
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

from kiosk.protocol.keys import fingerprint, generate_private_key, public_key_b64
from kiosk.protocol.signing import DeviceSigner, ResponseVerifier
from tests.server.live import Device, Server, error_code

QUOTE = {"bill_id": "B1001-1", "patient_id": "P1001", "method": "card"}


def send(device: Device, prepared: requests.PreparedRequest) -> requests.Response:
    reply = device.session.send(prepared, timeout=10)
    device.verifier.verify(reply)
    return reply


def signed(device: Device, method: str, path: str, *, auth: DeviceSigner | None = None,
           **kwargs: object) -> requests.PreparedRequest:
    request = requests.Request(method, f"{device.server.base}{path}", **kwargs)  # type: ignore
    request.auth = auth or device.session.auth
    return request.prepare()


def test_unsigned_request_is_refused_and_the_refusal_is_signed(server: Server, kiosk: Device):
    reply = requests.get(f"{server.base}/v1/patients/P1001/bills", timeout=10)
    assert reply.status_code == 401 and error_code(reply) == "auth.signature_missing"
    kiosk.verifier.verify(reply)


def test_unknown_key(kiosk: Device):
    stranger = DeviceSigner("dev_0000000000000000", generate_private_key())
    reply = send(kiosk, signed(kiosk, "GET", "/v1/patients/P1001/bills", auth=stranger))
    assert reply.status_code == 401 and error_code(reply) == "auth.unknown_key"


def test_signature_by_the_wrong_key(kiosk: Device):
    impostor = DeviceSigner(kiosk.device_id, generate_private_key())
    reply = send(kiosk, signed(kiosk, "GET", "/v1/patients/P1001/bills", auth=impostor))
    assert reply.status_code == 401 and error_code(reply) == "auth.bad_signature"


def test_clock_skew_beyond_300_s_both_ways(kiosk: Device):
    key = kiosk.session.auth.private_key
    for offset in (-400, 400):
        skewed = DeviceSigner(kiosk.device_id, key, clock=lambda o=offset: time.time() + o)
        reply = send(kiosk, signed(kiosk, "GET", "/v1/patients/P1001/bills", auth=skewed))
        assert reply.status_code == 401 and error_code(reply) == "auth.clock_skew"
    within = DeviceSigner(kiosk.device_id, key, clock=lambda: time.time() - 250)
    assert send(kiosk, signed(kiosk, "GET", "/v1/patients/P1001/bills",
                              auth=within)).status_code == 200


def test_replayed_nonce(kiosk: Device):
    prepared = signed(kiosk, "POST", "/v1/quotes", json=QUOTE)
    assert send(kiosk, prepared.copy()).status_code == 200
    again = send(kiosk, prepared.copy())
    assert again.status_code == 401 and error_code(again) == "auth.nonce_replayed"


def test_body_changed_after_signing_is_a_digest_mismatch(kiosk: Device):
    prepared = signed(kiosk, "POST", "/v1/quotes", json=QUOTE)
    prepared.body = json.dumps({**QUOTE, "method": "face"}).encode()
    prepared.headers["Content-Length"] = str(len(prepared.body))
    reply = send(kiosk, prepared)
    assert reply.status_code == 400 and error_code(reply) == "auth.digest_mismatch"


def test_signature_missing_a_required_component(kiosk: Device):
    body = json.dumps(QUOTE).encode()
    prepared = requests.Request("POST", f"{kiosk.server.base}/v1/quotes", data=body,
                                headers={"Content-Type": "application/json"}).prepare()
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=
                               MappingKeyResolver(public_keys={}, private_keys={
                                   kiosk.device_id: kiosk.session.auth.private_key}))
    signer.sign(prepared, key_id=kiosk.device_id, label="kiosk", tag="chs-kiosk-v1",
                nonce="n-" + str(time.time_ns()), body=body,
                created=datetime.datetime.now(datetime.UTC),
                covered_component_ids=("@method", "@path", "@query"))
    reply = send(kiosk, prepared)
    assert reply.status_code == 400 and error_code(reply) == "auth.component_missing"
    assert reply.json()["error"]["details"]["missing"] == ["content-type"]


def test_revoked_device_fails_every_request(server: Server):
    device = server.device("kiosk")
    assert device.get("/v1/patients/P1001/bills").status_code == 200
    server.admin("device", "revoke", device.device_id, "--reason", "stolen")
    for path in ("/v1/patients/P1001/bills", "/v1/gallery?pack=opencv-zoo-sface"):
        reply = device.get(path)
        assert reply.status_code == 403 and error_code(reply) == "auth.device_revoked"
    reply = device.post("/v1/quotes", QUOTE)
    assert reply.status_code == 403 and error_code(reply) == "auth.device_revoked"


def test_enrolment_token_is_one_time(server: Server):
    token = server.token("kiosk")
    Device.register(server, token)
    reply = requests.post(f"{server.base}/v1/devices/register", timeout=10, json={
        "token": token, "public_key": public_key_b64(generate_private_key()), "name": "x"})
    assert reply.status_code == 403 and error_code(reply) == "device.token_invalid"
    reply = requests.post(f"{server.base}/v1/devices/register", timeout=10, json={
        "token": server.token("kiosk"), "public_key": "c2hvcnQ=", "name": "x"})
    assert reply.status_code == 422 and error_code(reply) == "device.public_key_invalid"


def test_server_key_is_the_one_pinned_at_registration(server: Server, kiosk: Device):
    info = requests.get(f"{server.base}/v1/server-key", timeout=10).json()
    assert info["key_id"] == info["fingerprint"] == kiosk.verifier.key_id
    shown = json.loads(server.admin("key", "show").stdout)
    assert shown["fingerprint"] == info["fingerprint"]
    wrong_pin = ResponseVerifier(generate_private_key().public_key())
    reply = kiosk.session.get(f"{server.base}/v1/patients/P1001/bills", timeout=10)
    try:
        wrong_pin.verify(reply)
    except Exception as exc:
        assert getattr(exc, "code", "") == "client.untrusted_response"
    else:
        raise AssertionError("a response verified against the wrong pinned key")
    assert fingerprint(generate_private_key()) != info["fingerprint"]


def test_cashier_only_operations_refuse_a_kiosk(kiosk: Device):
    for method, path, body in [
        ("GET", "/v1/settlements", None), ("GET", "/v1/patients/P1001", None),
        ("GET", "/v1/reconciliation/2026-01-01", None),
        ("POST", "/v1/settlements/stl_x/reverse", {"reason": "test"}),
        ("POST", "/v1/patients/P1001/consent/withdraw", {}),
    ]:
        reply = kiosk.call(method, path, json=body, key="k-role-" + path)
        assert reply.status_code == 403 and error_code(reply) == "auth.role_forbidden", path


def test_oversized_malformed_and_non_json_bodies(kiosk: Device):
    big = {"bill_id": "B1001-1", "patient_id": "P1001", "method": "card", "pad": "x" * 70_000}
    reply = kiosk.post("/v1/quotes", big)
    assert reply.status_code == 413 and error_code(reply) == "request.too_large"
    prepared = signed(kiosk, "POST", "/v1/quotes", data=b'{"bill_id": ',
                      headers={"Content-Type": "application/json"})
    reply = send(kiosk, prepared)
    assert reply.status_code == 400 and error_code(reply) == "request.malformed_json"
    prepared = signed(kiosk, "POST", "/v1/quotes", data=b"bill_id=B1",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    reply = send(kiosk, prepared)
    assert reply.status_code == 415 and error_code(reply) == "request.unsupported_media_type"


def test_rejections_are_in_the_audit_chain(server: Server, kiosk: Device):
    requests.get(f"{server.base}/v1/patients/P1001/bills", timeout=10)
    kiosk.post("/v1/quotes", {**QUOTE, "bill_id": "NOPE"})
    verify = json.loads(server.admin("audit", "verify").stdout)
    assert verify["ok"] and verify["records"] > 10
    with sqlite3.connect(server.directory / "server.db") as db:
        codes = {json.loads(d)["code"] for (d,) in db.execute(
            "select details from audit_log where action = 'request.rejected'")}
    assert {"auth.signature_missing", "bill.not_found"} <= codes
