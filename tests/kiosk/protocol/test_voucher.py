"""The e-voucher payload, the one parser: every rejection a code of its own, garbage only
ever an e-voucher error, and on the wire every rejection is voucher.malformed."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import ErrorCode
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.voucher import EVoucherError, format_payload, parse_evoucher, parse_payload

TOKEN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # 26 chars of the alphabet
# sha256("ABCDEFGHIJKLMNOPQRSTUVWXYZ") starts d6ec6898...: check = "D6EC"
GOOD = f"CHSEV1-{TOKEN}-D6EC"


def test_known_payload_parses() -> None:
    assert hashlib.sha256(TOKEN.encode()).hexdigest()[:4].upper() == "D6EC"
    voucher = parse_evoucher(GOOD + "\r\n")
    assert (voucher.version, voucher.token, voucher.check) == (1, TOKEN, "D6EC")
    assert voucher.payload == GOOD
    assert voucher.masked() == "CHSEV1-ABCD…-D6EC"


@pytest.mark.parametrize(("payload", "code"), [
    ("", "evoucher.not_evoucher"),
    ("https://example.com/pay?id=1", "evoucher.not_evoucher"),
    ("6901234567892", "evoucher.not_evoucher"),
    ("随便什么文字", "evoucher.not_evoucher"),
    ("CHSEV1-" + "A" * 300, "evoucher.not_evoucher"),
    ("chsev1-" + TOKEN.lower() + "-d6ec", "evoucher.not_evoucher"),
    ("CHSEV2-" + TOKEN + "-D6EC", "evoucher.unsupported_version"),
    ("CHSEV10-" + TOKEN + "-D6EC", "evoucher.unsupported_version"),
    ("CHSEVX-" + TOKEN + "-D6EC", "evoucher.malformed"),
    ("CHSEV1-" + TOKEN, "evoucher.malformed"),
    ("CHSEV1-" + TOKEN + "-D6EC-EXTRA", "evoucher.malformed"),
    ("CHSEV1-" + TOKEN + "-D6E", "evoucher.malformed"),
    ("CHSEV1-" + TOKEN + "-d6ec", "evoucher.malformed"),
    ("CHSEV1-" + TOKEN[:-1] + "-D6EC", "evoucher.bad_token"),
    ("CHSEV1-" + TOKEN[:-1] + "1-D6EC", "evoucher.bad_token"),  # 1 is not base32
    ("CHSEV1-" + TOKEN[:-1] + "a-D6EC", "evoucher.bad_token"),
    ("CHSEV1-" + TOKEN + "-D6ED", "evoucher.checksum_mismatch"),
    ("CHSEV1-" + TOKEN[1:] + "A-D6EC", "evoucher.checksum_mismatch"),
])
def test_rejections_have_distinct_codes(payload: str, code: str) -> None:
    with pytest.raises(EVoucherError) as info:
        parse_evoucher(payload)
    assert info.value.code == code
    if len(payload) > 12:
        assert payload not in info.value.message  # never echo what was scanned


@given(st.binary(min_size=16, max_size=16))
def test_any_token_round_trips(raw: bytes) -> None:
    token = base64.b32encode(raw).decode().rstrip("=")
    assert parse_evoucher(format_payload(token)).token == token


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_garbage_only_ever_gives_evoucher_errors(text: str) -> None:
    try:
        parse_evoucher(text)
    except EVoucherError as exc:
        assert exc.code.startswith("evoucher.")


def test_random_vouchers_differ() -> None:
    a, b = format_payload(), format_payload()
    assert a != b and parse_evoucher(a) and parse_evoucher(b)


def test_the_platform_reads_every_local_rejection_as_the_wire_code() -> None:
    for payload, reason in (("6901234567892", "evoucher.not_evoucher"),
                            ("CHSEV1-" + TOKEN + "-D6ED", "evoucher.checksum_mismatch")):
        with pytest.raises(ProtocolError) as info:
            parse_payload(payload)
        assert (info.value.code, info.value.status) == (ErrorCode.VOUCHER_MALFORMED, 400)
        assert info.value.details == {"reason": reason}
    with pytest.raises(ProtocolError):
        parse_payload(12345)
    assert parse_payload(GOOD + "\r\n") == TOKEN
