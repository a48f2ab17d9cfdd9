"""Digest, templates, vouchers, error codes and schemas: the shapes both sides must agree on."""

from __future__ import annotations

import base64
import math
import struct
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from common.errors import ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.digest import content_digest, verify_content_digest
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.keys import (
    fingerprint,
    generate_private_key,
    load_public_key_b64,
    public_key_b64,
)
from kiosk.protocol.templates import parse_template
from kiosk.protocol.voucher import check_digits, format_payload, new_token, parse_payload


def test_content_digest_matches_rfc9530_example():
    assert content_digest(b'{"hello": "world"}') == (
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:")
    verify_content_digest(content_digest(b"abc"), b"abc")
    for value, body in [(content_digest(b"abc"), b"abd"), ("sha-256=:AAAA:", b""),
                        ("md5=:AAAA:", b""), ("garbage", b"")]:
        with pytest.raises(ProtocolError) as info:
            verify_content_digest(value, body)
        assert info.value.code == ErrorCode.DIGEST_MISMATCH


def _template(values, dim=None, pack="opencv-zoo-sface"):
    raw = struct.pack(f"<{len(values)}f", *values)
    return {"pack": pack, "dim": len(values) if dim is None else dim,
            "vector": base64.b64encode(raw).decode()}


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=32)


@given(st.lists(finite, min_size=1, max_size=256).filter(lambda v: any(abs(x) > 1e-3 for x in v)))
def test_any_finite_nonzero_template_round_trips(values):
    wire = parse_template(_template(values))
    assert wire.dim == len(values)
    assert parse_template(wire.to_dict()) == wire
    assert list(struct.unpack(f"<{wire.dim}f", wire.vector)) == pytest.approx(values)


@pytest.mark.parametrize("data, why", [
    (_template([1.0, 2.0], dim=3), "bytes"),
    (_template([1.0, math.nan]), "NaN"),
    (_template([1.0, math.inf]), "NaN or infinite"),
    (_template([0.0] * 8), "zeros"),
    ({"pack": "p", "dim": 2, "vector": "!!!"}, "base64"),
    ({"pack": "", "dim": 2, "vector": "AAAA"}, "pack"),
    ({"pack": "p", "dim": True, "vector": "AAAA"}, "dim"),
    ({"pack": "p", "dim": 0, "vector": ""}, "dim"),
    ({"pack": "p", "dim": 1, "vector": 5}, "base64 string"),
    ([1, 2], "object"),
])
def test_bad_templates_are_refused_with_a_reason(data, why):
    with pytest.raises(ProtocolError) as info:
        parse_template(data)
    assert info.value.code == ErrorCode.TEMPLATE_INVALID and why in info.value.message


def test_recognition_engine_templates_are_accepted():
    """The engine's own ``Template.to_dict()`` is the wire format (numpy only in the test)."""
    import numpy as np

    from kiosk.recognition.template import Template

    engine_template = Template.create("opencv-zoo-sface", np.arange(1, 129, dtype=np.float32))
    wire = parse_template(engine_template.to_dict())
    assert wire.dim == 128 and Template.from_dict(wire.to_dict()).dim == 128


@given(st.binary(min_size=16, max_size=16))
def test_voucher_payload_round_trip(raw):
    token = base64.b32encode(raw).decode().rstrip("=")
    payload = format_payload(token)
    assert len(token) == 26 and parse_payload(payload) == token
    assert payload == f"CHSEV1-{token}-{check_digits(token)}"


@pytest.mark.parametrize("payload", [
    "", "CHSEV1-", "chsev1-" + "A" * 26 + "-0000", "CHSEV1-" + "A" * 25 + "-0000",
    "CHSEV1-" + "1" * 26 + "-0000", "CHSEV2-" + "A" * 26 + "-0000",
])
def test_malformed_vouchers(payload):
    with pytest.raises(ProtocolError) as info:
        parse_payload(payload)
    assert info.value.code == ErrorCode.VOUCHER_MALFORMED


def test_voucher_check_digit_catches_a_misread():
    token = new_token()
    payload = format_payload(token)
    other = "B" if token[0] != "B" else "C"
    with pytest.raises(ProtocolError, match="check digits"):
        parse_payload(payload.replace(token, other + token[1:]))


def test_every_error_code_has_a_status_and_survives_the_wire():
    assert len(ErrorCode.wire()) == 65  # the released wire codes (docs/protocol.md)
    for code in ErrorCode.wire():
        assert 400 <= code.status <= 599
        error = ProtocolError(code, "why", attempts_left=2)
        again = ProtocolError.from_body(error.status, error.to_body())
        assert (again.code, again.message, again.details) == (code, "why", {"attempts_left": 2})
    assert ProtocolError.from_body(502, "<html>").code == ErrorCode.INTERNAL
    assert ProtocolError.from_body(418, {"error": {"code": "nope"}}).code == ErrorCode.INTERNAL
    # a registry code that never travels (a kiosk's own) is no answer a platform gives
    assert ProtocolError.from_body(400, {"error": {"code": "face.too_dark"}}).code == \
        ErrorCode.INTERNAL
    with pytest.raises(ValueError, match="not a wire code"):
        ProtocolError(ErrorCode.FACE_TOO_DARK, "never on the wire")


@pytest.mark.parametrize("profile", ["ed25519", "gm"])
def test_public_keys_on_the_wire(profile):
    key = generate_private_key(profile)
    again = load_public_key_b64(public_key_b64(key), profile)
    assert fingerprint(again) == fingerprint(key) and len(fingerprint(key)) == 64
    for bad in ["", "AAAA", "not base64!", base64.b64encode(b"x" * 33).decode(), "é",
                base64.b64encode(b"\x04" + b"x" * 64).decode()]:
        with pytest.raises(ProtocolError) as info:
            load_public_key_b64(bad, profile)
        assert info.value.code == ErrorCode.PUBLIC_KEY_INVALID


@pytest.mark.parametrize("amount", [12.5, "1250", True, 0, -1, schemas.MAX_FEN + 1, 1e3])
def test_money_is_strict_positive_integer_fen(amount):
    with pytest.raises(ValidationError):
        schemas.RepayRequest(patient_id="P1", amount_fen=amount, method="cash")


def test_request_models_refuse_unknown_fields_and_bad_enums():
    assert schemas.SettleRequest(bill_id="B1", patient_id="P1", method="face").method == "face"
    with pytest.raises(ValidationError):
        schemas.SettleRequest(bill_id="B1", patient_id="P1", method="face", amount_fen=1)
    with pytest.raises(ValidationError):
        schemas.SettleRequest(bill_id="B1", patient_id="P1", method="bitcoin")
    with pytest.raises(ValidationError):
        schemas.SecondFactorVerifyRequest(session_id="s" * 8, patient_id="P1", last4="12a4")


def test_template_payload_model_validates_the_vector():
    good = _template([0.5] * 4)
    assert schemas.TemplatePayload(**good).wire().dim == 4
    with pytest.raises(ProtocolError, match="zeros"):
        schemas.TemplatePayload(**_template([0.0] * 4)).wire()
    with pytest.raises(ValidationError):
        schemas.TemplatePayload(pack="p", dim="4", vector="AAAA")


def test_protocol_imports_no_heavy_or_kiosk_internals():
    code = ("import sys, kiosk.protocol.schemas, kiosk.protocol.signing, kiosk.protocol.voucher,"
            " kiosk.protocol.templates, kiosk.protocol.keys;"
            " bad = [m for m in sys.modules if m.split('.')[0] in ('numpy', 'cv2', 'onnxruntime')"
            " or m.startswith(('kiosk.recognition', 'kiosk.config', 'device', 'ui'))];"
            " print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
