"""RFC 9421 profile: what a device signs, what the platform accepts, and each rejection,
under both crypto profiles (every test runs once with Ed25519/SHA-256, once with SM2/SM3)."""

from __future__ import annotations

import base64
import datetime
import json

import pytest
import requests
from http_message_signatures import MappingKeyResolver

from common.errors import ErrorCode
from kiosk.protocol.crypto_profile import PROFILES, CryptoProfile, profile_of
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.keys import fingerprint, generate_private_key
from kiosk.protocol.signing import (
    DeviceSigner,
    RequestVerifier,
    ResponseVerifier,
    WireRequest,
    WireResponse,
    sign_response,
)

NOW = 1_800_000_000.0
URL = "http://127.0.0.1:8600/v1/settlements?site=a%20b"
# the digests of nothing, from RFC 9530 §6 (SHA-256) and GB/T 32905 (SM3 of the empty string)
EMPTY_DIGEST = {"ed25519": "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
                "gm": "sm3=:" + base64.b64encode(bytes.fromhex(
                    "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b")
                ).decode() + ":"}


@pytest.fixture(scope="module", params=sorted(PROFILES))
def profile(request) -> CryptoProfile:
    return PROFILES[request.param]


@pytest.fixture(scope="module")
def device_key(profile):
    return generate_private_key(profile)


@pytest.fixture(scope="module")
def server_key(profile):
    return generate_private_key(profile)


def prepared(device_key, *, body: dict | None = None, method: str = "POST",
             headers: dict | None = None, now: float = NOW) -> requests.PreparedRequest:
    req = requests.Request(method, URL, json=body, headers=headers or {})
    req.auth = DeviceSigner("dev-1", device_key, clock=lambda: now)
    return req.prepare()


def verify(pr: requests.PreparedRequest, device_key, *, now: float = NOW, body=None):
    def lookup(key_id: str):
        if key_id != "dev-1":
            raise ProtocolError(ErrorCode.UNKNOWN_KEY, "no such device")
        return device_key.public_key()

    raw = pr.body if body is None else body
    return RequestVerifier(lookup, profile=profile_of(device_key), clock=lambda: now).verify(
        pr.method, pr.url, list(pr.headers.items()), raw or b"")


def rejected(code: ErrorCode, fn, *args, **kwargs) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value
    return info.value


def test_signed_request_verifies_and_covers_the_profile(device_key, profile):
    pr = prepared(device_key, body={"bill_id": "B1"}, headers={"Idempotency-Key": "k-1"})
    result = verify(pr, device_key)
    assert result.key_id == "dev-1" and result.created == int(NOW) and len(result.nonce) >= 16
    assert {"@method", "@path", "@query", "content-type", "content-digest",
            "idempotency-key"} <= set(result.covered)
    sig_input = pr.headers["Signature-Input"]
    assert sig_input.startswith("kiosk=(") and f'alg="{profile.alg}"' in sig_input
    assert f"expires={int(NOW) + 300}" in sig_input and 'tag="chs-kiosk-v1"' in sig_input


def test_get_without_body_still_covers_the_empty_digest(device_key, profile):
    pr = prepared(device_key, method="GET")
    assert pr.headers["Content-Digest"] == EMPTY_DIGEST[profile.name]
    assert "content-digest" in verify(pr, device_key).covered


def test_each_nonce_is_fresh(device_key):
    nonces = {verify(prepared(device_key, method="GET"), device_key).nonce for _ in range(20)}
    assert len(nonces) == 20


def test_tampered_body_is_a_digest_mismatch(device_key):
    pr = prepared(device_key, body={"amount_fen": 100})
    rejected(ErrorCode.DIGEST_MISMATCH, verify, pr, device_key, body=b'{"amount_fen": 900}')


def test_tampered_path_or_header_is_a_bad_signature(device_key):
    pr = prepared(device_key, body={"amount_fen": 100}, headers={"Idempotency-Key": "k"})
    pr.url = pr.url.replace("settlements", "repayments")
    rejected(ErrorCode.BAD_SIGNATURE, verify, pr, device_key)
    pr = prepared(device_key, body={"amount_fen": 100}, headers={"Idempotency-Key": "k"})
    pr.headers["Idempotency-Key"] = "other"
    rejected(ErrorCode.BAD_SIGNATURE, verify, pr, device_key)


def test_signature_by_another_key_is_bad(device_key, profile):
    pr = prepared(generate_private_key(profile), method="GET")
    rejected(ErrorCode.BAD_SIGNATURE, verify, pr, device_key)


def test_unknown_key_comes_from_the_lookup(device_key):
    req = requests.Request("GET", URL)
    req.auth = DeviceSigner("dev-404", device_key, clock=lambda: NOW)
    rejected(ErrorCode.UNKNOWN_KEY, verify, req.prepare(), device_key)


@pytest.mark.parametrize("offset", [-301, 301, -10_000])
def test_created_outside_the_window(device_key, offset):
    pr = prepared(device_key, method="GET", now=NOW + offset)
    rejected(ErrorCode.CLOCK_SKEW, verify, pr, device_key)


@pytest.mark.parametrize("offset", [-299, 0, 299])
def test_created_inside_the_window(device_key, offset):
    assert verify(prepared(device_key, method="GET", now=NOW + offset), device_key)


def test_missing_signature_headers(device_key):
    pr = requests.Request("GET", URL).prepare()
    rejected(ErrorCode.SIGNATURE_MISSING, verify, pr, device_key)


def _library_signed(device_key, covered, *, nonce: str | None = "n-123456", body=b"{}",
                    headers=None) -> requests.PreparedRequest:
    pr = requests.Request("POST", URL, data=body,
                          headers={"Content-Type": "application/json", **(headers or {})}
                          ).prepare()
    profile = profile_of(device_key)
    signer = profile.signer_class(signature_algorithm=profile.signature_algorithm,
                                  key_resolver=MappingKeyResolver(
                                      public_keys={}, private_keys={"dev-1": device_key}))
    signer.sign(pr, key_id="dev-1", nonce=nonce, label="kiosk", tag="chs-kiosk-v1",
                created=datetime.datetime.fromtimestamp(NOW, tz=datetime.UTC),
                expires=datetime.datetime.fromtimestamp(NOW + 300, tz=datetime.UTC),
                covered_component_ids=covered)
    return pr


def test_missing_covered_component(device_key):
    pr = _library_signed(device_key, ("@method", "@path", "@query", "content-type"))
    error = rejected(ErrorCode.COMPONENT_MISSING, verify, pr, device_key)
    assert error.details["missing"] == ["content-digest"]


def test_idempotency_key_sent_but_not_signed(device_key):
    pr = _library_signed(device_key, ("@method", "@path", "@query", "content-type"),
                         headers={"Idempotency-Key": "k-9"})
    error = rejected(ErrorCode.COMPONENT_MISSING, verify, pr, device_key)
    assert "idempotency-key" in error.details["missing"]


def test_missing_nonce(device_key):
    pr = requests.Request("POST", URL, data=b"{}",
                          headers={"Content-Type": "application/json"}).prepare()
    profile = profile_of(device_key)
    signer = profile.signer_class(signature_algorithm=profile.signature_algorithm,
                                  key_resolver=MappingKeyResolver(
                                      public_keys={}, private_keys={"dev-1": device_key}))
    signer.sign(pr, key_id="dev-1", label="kiosk", tag="chs-kiosk-v1", body=b"{}",
                created=datetime.datetime.fromtimestamp(NOW, tz=datetime.UTC),
                covered_component_ids=("@method", "@path", "@query", "content-type"))
    rejected(ErrorCode.SIGNATURE_PARAM_MISSING, verify, pr, device_key)


def test_garbled_signature_header_is_bad_signature(device_key):
    pr = prepared(device_key, method="GET")
    pr.headers["Signature"] = "kiosk=:not base64 at all"
    rejected(ErrorCode.BAD_SIGNATURE, verify, pr, device_key)


def _response(pr: requests.PreparedRequest, server_key, *, status=200, body=b'{"ok": true}',
              now=NOW) -> requests.Response:
    wire = WireResponse(status, {"Content-Type": "application/json"},
                        WireRequest(pr.method, pr.url, pr.headers))
    sign_response(wire, key_id=fingerprint(server_key), private_key=server_key, body=body,
                  now=now)
    resp = requests.Response()
    resp.status_code = status
    resp.headers.update(wire.headers)
    resp._content = body
    resp.request = pr
    return resp


def test_response_signed_for_this_request_verifies(device_key, server_key):
    pr = prepared(device_key, body={"bill_id": "B1"})
    resp = _response(pr, server_key)
    ResponseVerifier(server_key.public_key(), clock=lambda: NOW).verify(resp)
    assert '"signature";key="kiosk";req' in resp.headers["Signature-Input"]


def test_response_replayed_to_another_request_is_untrusted(device_key, server_key):
    first, second = prepared(device_key, body={"n": 1}), prepared(device_key, body={"n": 1})
    resp = _response(first, server_key)
    resp.request = second
    rejected(ErrorCode.UNTRUSTED_RESPONSE,
             ResponseVerifier(server_key.public_key(), clock=lambda: NOW).verify, resp)


def test_response_tampering_and_wrong_key_are_untrusted(device_key, server_key, profile):
    verifier = ResponseVerifier(server_key.public_key(), clock=lambda: NOW)
    resp = _response(prepared(device_key, method="GET"), server_key)
    resp._content = b'{"ok": false}'
    rejected(ErrorCode.UNTRUSTED_RESPONSE, verifier.verify, resp)
    resp = _response(prepared(device_key, method="GET"), server_key, status=200)
    resp.status_code = 404
    rejected(ErrorCode.UNTRUSTED_RESPONSE, verifier.verify, resp)
    resp = _response(prepared(device_key, method="GET"), generate_private_key(profile))
    rejected(ErrorCode.UNTRUSTED_RESPONSE, verifier.verify, resp)
    resp = _response(prepared(device_key, method="GET"), server_key)
    del resp.headers["Signature"]
    rejected(ErrorCode.UNTRUSTED_RESPONSE, verifier.verify, resp)


def test_response_to_unsigned_request_is_still_verifiable(server_key):
    pr = requests.Request("POST", URL, json={"token": "x"}).prepare()
    resp = _response(pr, server_key, body=json.dumps({"device_id": "d"}).encode())
    ResponseVerifier(server_key.public_key(), clock=lambda: NOW).verify(resp)
    assert '"signature";' not in resp.headers["Signature-Input"]
