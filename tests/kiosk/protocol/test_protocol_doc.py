"""docs/protocol.md is the contract a third party implements from: keep it true."""

from __future__ import annotations

import re
from pathlib import Path

import requests

from common.errors import ErrorCode
from kiosk.protocol.digest import content_digest
from kiosk.protocol.keys import (
    fingerprint,
    load_private_key_pem,
    private_key_pem,
    public_key_b64,
)
from kiosk.protocol.signing import (
    HeaderList,
    RequestVerifier,
    ResponseVerifier,
    WireRequest,
    WireResponse,
    sign_request,
    sign_response,
)
from tests.kiosk.protocol.test_gm import std_key

DOC = (Path(__file__).resolve().parents[3] / "docs" / "protocol.md").read_text(encoding="utf-8")
RFC9421_TEST_KEY = (b"-----BEGIN PRIVATE KEY-----\n"
                    b"MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n"
                    b"-----END PRIVATE KEY-----\n")


def worked_request(key) -> tuple[bytes, requests.PreparedRequest]:
    """The doc's example request (§3), signed as the doc says."""
    body = b'{"bill_id":"B1001-1","patient_id":"P1001","method":"face"}'
    request = requests.Request("POST", "http://127.0.0.1:8600/v1/settlements", data=body,
                               headers={"Content-Type": "application/json",
                                        "Idempotency-Key": "0b6c1f0e-6a57-4c1e-9a7e-2f0d3c9b8a11"}
                               ).prepare()
    sign_request(request, key_id="dev_3f2a9c41d8e07b65", private_key=key, body=body,
                 now=1795400000, nonce="q2x7VJ3n0bqkWk1eA9s4tw")
    return body, request


def test_worked_example_is_what_the_code_produces():
    key = load_private_key_pem(RFC9421_TEST_KEY)
    assert public_key_b64(key) in DOC
    body, request = worked_request(key)
    for name in ("Content-Digest", "Signature-Input", "Signature"):
        assert f"{name}: {request.headers[name]}\n" in DOC, name
    verified = RequestVerifier(lambda _: key.public_key(), clock=lambda: 1795400010).verify(
        "POST", request.url, list(request.headers.items()), body)
    assert verified.nonce == "q2x7VJ3n0bqkWk1eA9s4tw"
    assert f"body ({len(body)} bytes)" in DOC


def test_worked_response_example_is_what_the_platform_signs():
    key = load_private_key_pem(RFC9421_TEST_KEY)
    _, request = worked_request(key)
    answer = (b'{"error":{"code":"bill.already_settled","message":"this bill is already '
              b'settled","details":{"settlement_id":"stl_5b2e8f0a9c1d3e47"}}}')
    assert f"body ({len(answer)} bytes)\n`{answer.decode()}`" in DOC
    assert f"`{fingerprint(key.public_key())}`" in DOC
    wire = WireResponse(409, {"Content-Type": "application/json"}, WireRequest(
        "POST", request.url, HeaderList([(k.lower(), v) for k, v in request.headers.items()])))
    sign_response(wire, key_id=fingerprint(key.public_key()), private_key=key, body=answer,
                  now=1795400001)
    for name in ("Content-Type", "Content-Digest", "Signature-Input", "Signature"):
        assert f"{name}: {wire.headers[name]}\n" in DOC, name
    received = requests.Response()  # as the device receives it
    received.status_code, received._content, received.request = 409, answer, request
    received.headers.update(wire.headers)
    verifier = ResponseVerifier(key.public_key(), clock=lambda: 1795400002)
    assert verifier.verify(received) == 1795400001


def test_every_wire_error_code_is_documented_with_its_status():
    for code in ErrorCode.wire():
        if code.value.startswith("auth."):
            row = next(line for line in DOC.splitlines() if f"`{code.value}`" in line)
        else:
            row = next((line for line in DOC.splitlines() if f"`{code.value}`" in line
                        and line.startswith("|")), "")
            if not row:  # documented in prose (client-side code)
                assert f"`{code.value}`" in DOC, code
                continue
        assert str(code.status) in row, (code, row)


def test_the_heartbeat_schema_is_documented_field_by_field():
    from kiosk.protocol.schemas import HeartbeatRequest, HeartbeatResponse

    rows = {line.split("|")[1].strip() for line in DOC.splitlines() if line.startswith("| `")}
    for field in HeartbeatRequest.model_fields:
        assert f"`{field}`" in rows, field
    for field in HeartbeatResponse.model_fields:
        assert f'"{field}"' in DOC, field
    for metric in ("platform_settlements_total", "platform_request_seconds",
                   "platform_rejected_requests_total", "platform_devices",
                   "platform_outbox_oldest_seconds"):
        assert f"| `{metric}` |" in DOC, metric


def test_gm_worked_example_of_the_doc():
    key = std_key()
    assert private_key_pem(key).decode() in DOC
    assert f"public key `{public_key_b64(key)}`" in DOC
    assert f"fingerprint `{fingerprint(key)}`" in DOC
    body = b'{"bill_id":"B1001-1","patient_id":"P1001","method":"face"}'
    section = DOC[DOC.index("**Worked example under `gm`**"):DOC.index("## 3. Request")]
    headers = dict(re.findall(r"^(Content-Digest|Signature-Input|Signature): (.+)$", section,
                              flags=re.MULTILINE))
    assert headers["Content-Digest"] == content_digest(body, "gm")
    request = requests.Request("POST", "http://127.0.0.1:8600/v1/settlements", data=body,
                               headers={"Content-Type": "application/json",
                                        "Idempotency-Key": "0b6c1f0e-6a57-4c1e-9a7e-2f0d3c9b8a11",
                                        **headers}).prepare()
    verified = RequestVerifier(lambda _: key.public_key(), profile="gm",
                               clock=lambda: 1795400010).verify(
        "POST", request.url, list(request.headers.items()), body)
    assert verified.key_id == "dev_3f2a9c41d8e07b65" and verified.nonce == "q2x7VJ3n0bqkWk1eA9s4tw"
    # re-signing the same request gives the same base and digest, and another valid signature
    _, again = worked_request(key)
    assert again.headers["Signature-Input"] == headers["Signature-Input"]
    assert again.headers["Signature"] != headers["Signature"]
