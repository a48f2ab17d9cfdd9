"""Every reason a kiosk hands a session over with has a staff text of its own kind (not the
patient's sentence, not the generic one), in both languages, in the registered font."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication

import ui.cashier.words
from common.errors import ErrorCode
from kiosk.flow.ways import calls_cashier
from kiosk.i18n import has_text, tr
from tests.kiosk.test_i18n import flow_keys
from ui.cashier.words import WORDS, say, staff_key, staff_reason

HANDOFF_REASONS = (
    "face.not_recognised", "face.timeout", "face.camera_failed", "liveness.failed",
    "liveness.screen_detected", "liveness.timeout", "second_factor.locked",
    "credit.limit_exceeded", "credit.user_suspended", "credit.user_blacklisted",
    "card.not_found", "voucher.expired", "voucher.not_found", "evoucher.bad_token",
    "bill.not_found", "bill.patient_mismatch", "backend.unreachable", "backend.timeout",
    "settlement.unconfirmed", "settlement.partial", "settlement.expired", "settlement.refused",
    "reconcile.mismatch", "reconcile.missing_on_platform", "patient.requested_cashier",
    "consent.missing", "clock.skewed",
    "his.amended_after_settlement", "his.cancelled_after_settlement")  # from the HIS feed


@pytest.mark.parametrize("reason", HANDOFF_REASONS)
def test_every_handoff_reason_reads_in_staff_words(reason):
    assert staff_key(reason) != "staff.other"
    for lang in ("zh", "en"):
        text = staff_reason(reason, lang)
        assert text and "{" not in text and text != tr(reason, lang)


def test_any_other_code_still_names_itself():
    for reason in (k for k in flow_keys() if calls_cashier(k)):
        assert staff_reason(reason) and "{" not in staff_reason(reason)
    assert "zzz.unknown" in staff_reason("zzz.unknown")


def test_every_registry_code_has_staff_words_in_both_languages():
    for code in ErrorCode:
        assert code.staff in WORDS or has_text(code.staff), code  # say() reads both
        assert staff_key(code) == code.staff, code
        for lang in ("zh", "en"):  # the parameters staff texts take: the code, a detail
            text = say(code.staff, lang, code=code, detail="-")
            assert text and "{" not in text, (code, lang)


def test_staff_words_are_in_the_font_and_free_of_qt():
    metrics = QFontMetrics(QApplication.font())
    chars = {ch for zh, _ in WORDS.values() for ch in zh if ord(ch) > 0x2e7f}
    assert sorted(ch for ch in chars if not metrics.inFontUcs4(ord(ch))) == []
    assert "PySide6" not in Path(ui.cashier.words.__file__).read_text(encoding="utf-8")
