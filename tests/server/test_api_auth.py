"""Every request-authentication rejection, over real HTTP against a real server process
(of either crypto profile: tests/server/test_api_auth_gm.py runs these against ``gm``)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import json
import re
import secrets
import time
import urllib.parse
from typing import ClassVar

import requests
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver
from http_message_signatures.digests import ContentDigest

from kiosk.protocol.crypto_profile import Sm3ContentDigest, profile_of
from kiosk.protocol.digest import content_digest
from kiosk.protocol.keys import fingerprint, generate_private_key, public_key_b64
from kiosk.protocol.signing import DeviceSigner, ResponseVerifier
from tests.server.live import Device, Server, error_code

QUOTE = {"bill_id": "B1001-1", "patient_id": "P1001", "method": "card"}


def quotes(device: Device) -> str:
    """The quote route as a kiosk calls it once it has identified P1001 (§8.2)."""
    return f"/v1/quotes?identification={device.identify('P1001')}"


def bills(device: Device) -> str:
    return f"/v1/patients/P1001/bills?identification={device.identify('P1001')}"


def fresh_key(server: Server):
    """A new key of the platform's crypto profile (protocol §2.1): a stranger's or an
    impostor's, refused for what it is rather than for its algorithm."""
    info = requests.get(f"{server.base}/v1/server-key", timeout=10).json()
    return generate_private_key(info["crypto_profile"])


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
    stranger = DeviceSigner("dev_0000000000000000", fresh_key(kiosk.server))
    reply = send(kiosk, signed(kiosk, "GET", "/v1/patients/P1001/bills", auth=stranger))
    assert reply.status_code == 401 and error_code(reply) == "auth.unknown_key"


def test_signature_by_the_wrong_key(kiosk: Device):
    impostor = DeviceSigner(kiosk.device_id, fresh_key(kiosk.server))
    reply = send(kiosk, signed(kiosk, "GET", "/v1/patients/P1001/bills", auth=impostor))
    assert reply.status_code == 401 and error_code(reply) == "auth.bad_signature"


def test_clock_skew_beyond_300_s_both_ways(kiosk: Device):
    key = kiosk.session.auth.private_key
    for offset in (-400, 400):
        skewed = DeviceSigner(kiosk.device_id, key, clock=lambda o=offset: time.time() + o)
        reply = send(kiosk, signed(kiosk, "GET", "/v1/patients/P1001/bills", auth=skewed))
        assert reply.status_code == 401 and error_code(reply) == "auth.clock_skew"
    within = DeviceSigner(kiosk.device_id, key, clock=lambda: time.time() - 250)
    assert send(kiosk, signed(kiosk, "GET", bills(kiosk), auth=within)).status_code == 200


def test_replayed_nonce(kiosk: Device):
    prepared = signed(kiosk, "POST", quotes(kiosk), json=QUOTE)
    assert send(kiosk, prepared.copy()).status_code == 200
    again = send(kiosk, prepared.copy())
    assert again.status_code == 401 and error_code(again) == "auth.nonce_replayed"


def test_body_changed_after_signing_is_a_digest_mismatch(kiosk: Device):
    prepared = signed(kiosk, "POST", quotes(kiosk), json=QUOTE)
    prepared.body = json.dumps({**QUOTE, "method": "face"}).encode()
    prepared.headers["Content-Length"] = str(len(prepared.body))
    reply = send(kiosk, prepared)
    assert reply.status_code == 400 and error_code(reply) == "auth.digest_mismatch"


def test_signature_missing_a_required_component(kiosk: Device):
    body = json.dumps(QUOTE).encode()
    prepared = requests.Request("POST", f"{kiosk.server.base}{quotes(kiosk)}", data=body,
                                headers={"Content-Type": "application/json"}).prepare()
    key = kiosk.session.auth.private_key
    profile = profile_of(key)
    signer = profile.signer_class(signature_algorithm=profile.signature_algorithm,
                                  key_resolver=MappingKeyResolver(public_keys={}, private_keys={
                                      kiosk.device_id: key}))
    signer.sign(prepared, key_id=kiosk.device_id, label="kiosk", tag="chs-kiosk-v1",
                nonce="n-" + str(time.time_ns()), body=body,
                created=datetime.datetime.now(datetime.UTC),
                expires=datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=300),
                covered_component_ids=("@method", "@path", "@query"))
    reply = send(kiosk, prepared)
    assert reply.status_code == 400 and error_code(reply) == "auth.component_missing"
    assert reply.json()["error"]["details"]["missing"] == ["content-type"]


def test_revoked_device_fails_every_request(server: Server):
    device = server.device("kiosk")
    identified_bills, identified_quotes = bills(device), quotes(device)
    assert device.get(identified_bills).status_code == 200
    server.admin("device", "revoke", device.device_id, "--reason", "stolen")
    for path in (identified_bills, "/v1/gallery?pack=opencv-zoo-sface"):
        reply = device.get(path)
        assert reply.status_code == 403 and error_code(reply) == "auth.device_revoked"
    reply = device.post(identified_quotes, QUOTE)
    assert reply.status_code == 403 and error_code(reply) == "auth.device_revoked"


def test_enrolment_token_is_one_time(server: Server):
    token = server.token("kiosk")
    Device.register(server, token)
    reply = requests.post(f"{server.base}/v1/devices/register", timeout=10, json={
        "token": token, "public_key": public_key_b64(fresh_key(server)), "name": "x"})
    assert reply.status_code == 403 and error_code(reply) == "device.token_invalid"
    reply = requests.post(f"{server.base}/v1/devices/register", timeout=10, json={
        "token": server.token("kiosk"), "public_key": "c2hvcnQ=", "name": "x"})
    assert reply.status_code == 422 and error_code(reply) == "device.public_key_invalid"


def test_server_key_is_the_one_pinned_at_registration(server: Server, kiosk: Device):
    info = requests.get(f"{server.base}/v1/server-key", timeout=10).json()
    assert info["key_id"] == info["fingerprint"] == kiosk.verifier.key_id
    shown = json.loads(server.admin("key", "show").stdout)
    assert shown["fingerprint"] == info["fingerprint"]
    wrong_pin = ResponseVerifier(fresh_key(server).public_key())
    reply = kiosk.session.get(f"{server.base}/v1/patients/P1001/bills", timeout=10)
    try:
        wrong_pin.verify(reply)
    except Exception as exc:
        assert getattr(exc, "code", "") == "client.untrusted_response"
    else:
        raise AssertionError("a response verified against the wrong pinned key")
    assert fingerprint(fresh_key(server)) != info["fingerprint"]


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
    reply = kiosk.post(quotes(kiosk), big)
    assert reply.status_code == 413 and error_code(reply) == "request.too_large"
    prepared = signed(kiosk, "POST", quotes(kiosk), data=b'{"bill_id": ',
                      headers={"Content-Type": "application/json"})
    reply = send(kiosk, prepared)
    assert reply.status_code == 400 and error_code(reply) == "request.malformed_json"
    prepared = signed(kiosk, "POST", quotes(kiosk), data=b"bill_id=B1",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    reply = send(kiosk, prepared)
    assert reply.status_code == 415 and error_code(reply) == "request.unsupported_media_type"


def test_rejections_are_in_the_audit_chain(server: Server, kiosk: Device):
    requests.get(f"{server.base}/v1/patients/P1001/bills", timeout=10)
    kiosk.post(quotes(kiosk), {**QUOTE, "bill_id": "NOPE"})
    verify = json.loads(server.admin("audit", "verify").stdout)
    assert verify["ok"] and verify["records"] > 10
    codes = {json.loads(d)["code"] for (d,) in server.sql(
        "select details from audit_log where action = 'request.rejected'")}
    assert {"auth.signature_missing", "bill.not_found"} <= codes


# --- the profile, exactly as docs/protocol.md §3 states it: one test per rule ------------

class AnyDigest(ContentDigest):
    """Lets the library sign whatever Content-Digest a test bends (sha-512, or beside the
    profile's own member): refusing it is the platform's job."""

    _hashers: ClassVar = {**ContentDigest._hashers, **Sm3ContentDigest._hashers}


class BendingSigner(HTTPMessageSigner):
    content_digest_class = AnyDigest


def custom(device: Device, *, label: str = "kiosk", include_alg: bool = True,
           expires_in: int | None = 300, digest: str | None = None,
           extra: tuple[str, str] | None = None) -> requests.PreparedRequest:
    """A quote request signed by the device's key with one rule of the profile bent."""
    body = json.dumps(QUOTE).encode()
    prepared = requests.Request("POST", f"{device.server.base}{quotes(device)}", data=body,
                                headers={"Content-Type": "application/json"}).prepare()
    key = device.session.auth.private_key
    prepared.headers["Content-Digest"] = digest or content_digest(body, profile_of(key))
    signer = BendingSigner(signature_algorithm=profile_of(key).signature_algorithm,
                           key_resolver=MappingKeyResolver(public_keys={}, private_keys={
                               device.device_id: key}))
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    signer.sign(prepared, key_id=device.device_id, label=label, tag="chs-kiosk-v1",
                nonce=secrets.token_urlsafe(16), created=now, include_alg=include_alg,
                expires=now + datetime.timedelta(seconds=expires_in) if expires_in else None,
                covered_component_ids=("@method", "@path", "@query", "content-type",
                                       "content-digest"),
                body=body if digest is None else None, use_existing_digest=True)
    if extra is not None:
        name, value = extra
        prepared.headers[name] = f"{prepared.headers[name]}, {value}"
    return prepared


def refused(device: Device, prepared: requests.PreparedRequest) -> tuple[int, str]:
    reply = device.session.send(prepared, timeout=10)
    if "kiosk=" not in prepared.headers.get("Signature", ""):
        prepared.headers.pop("Signature")  # no kiosk signature: the answer covers the target
    device.verifier.verify(reply)
    return reply.status_code, error_code(reply)


def test_the_profile_as_bent_here_is_accepted(kiosk: Device):
    reply = kiosk.session.send(custom(kiosk), timeout=10)
    assert reply.status_code == 200, reply.text


def test_a_signature_labelled_other_than_kiosk_is_missing(kiosk: Device):
    assert refused(kiosk, custom(kiosk, label="sig1")) == (401, "auth.signature_missing")


def test_several_signatures_are_refused(kiosk: Device):
    second = custom(kiosk)
    prepared = custom(kiosk, label="sig2")
    for name in ("Signature-Input", "Signature"):
        prepared.headers[name] = f"{second.headers[name]}, {prepared.headers[name]}"
    assert refused(kiosk, prepared) == (401, "auth.bad_signature")


def test_expires_is_required_and_at_most_300_s_after_created(kiosk: Device):
    assert refused(kiosk, custom(kiosk, expires_in=None)) == (400, "auth.param_missing")
    assert refused(kiosk, custom(kiosk, expires_in=86_400)) == (400, "auth.param_missing")
    assert refused(kiosk, custom(kiosk, expires_in=301)) == (400, "auth.param_missing")


def test_alg_is_required(kiosk: Device):
    assert refused(kiosk, custom(kiosk, include_alg=False)) == (400, "auth.param_missing")


def test_a_non_integer_created_is_a_missing_parameter(kiosk: Device):
    for bad in ('"1795400000"', "1795400000.5", "?1"):
        prepared = custom(kiosk)
        prepared.headers["Signature-Input"] = re.sub(
            r"created=\d+", f"created={bad}", prepared.headers["Signature-Input"])
        assert refused(kiosk, prepared) == (400, "auth.param_missing"), bad


def test_only_a_sha_256_content_digest_is_accepted(kiosk: Device):
    body = json.dumps(QUOTE).encode()
    sha512 = "sha-512=:" + base64.b64encode(hashlib.sha512(body).digest()).decode() + ":"
    assert refused(kiosk, custom(kiosk, digest=sha512)) == (400, "auth.digest_mismatch")
    both = f"{content_digest(body, profile_of(kiosk.session.auth.private_key))}, {sha512}"
    assert refused(kiosk, custom(kiosk, digest=both)) == (400, "auth.digest_mismatch")


def test_a_header_line_sent_twice_is_refused(kiosk: Device):
    prepared = custom(kiosk)
    url = urllib.parse.urlsplit(prepared.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.putrequest("POST", url.path, skip_accept_encoding=True)
        for name, value in prepared.headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Digest", prepared.headers["Content-Digest"])
        connection.endheaders(prepared.body)  # type: ignore[arg-type]
        reply = connection.getresponse()
        body = json.loads(reply.read())
    finally:
        connection.close()
    assert (reply.status, body["error"]["code"]) == (401, "auth.bad_signature")
    assert "content-digest" in body["error"]["message"]
