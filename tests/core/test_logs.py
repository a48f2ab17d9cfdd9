"""Structured logs never carry phone numbers or national ids, even by accident."""

from __future__ import annotations

import io
import json
import logging

from kiosk.logs import redact, setup_logging


def test_redactor_masks_phones_and_national_ids_but_not_amounts():
    assert redact("call 13812345678 now") == "call 138****5678 now"
    assert redact("id 33010219900101123X") == "id 3301**********123X"
    assert redact("amount 1234567 fen, settlement 20261123000123") == (
        "amount 1234567 fen, settlement 20261123000123")


def test_json_lines_with_extra_fields():
    buf = io.StringIO()
    setup_logging("info", buf)
    logging.getLogger("kiosk.test").info("patient 13812345678 paid", extra={"fen": 300,
                                                                           "note": "13900001111"})
    entry = json.loads(buf.getvalue().splitlines()[-1])
    assert entry["msg"] == "patient 138****5678 paid"
    assert entry["fen"] == 300 and entry["note"] == "139****1111"
    assert entry["level"] == "info" and entry["logger"] == "kiosk.test"
    logging.getLogger().handlers.clear()
