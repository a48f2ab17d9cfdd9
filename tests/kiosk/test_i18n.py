"""Every key or code the kiosk can put on a screen has Chinese and English text: guidance keys
derived from the code that emits them (so a new guidance key without a translation fails
here), codes from the error registry's patient keys; and every Chinese character the screens
use is in the registered font."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication

import kiosk.flow.family
import kiosk.flow.machine
import kiosk.flow.owed
import kiosk.liveness.result
import kiosk.platform_clock
import kiosk.runtime
import kiosk.settlement.desk
from common.errors import ErrorCode
from kiosk import i18n
from kiosk.i18n import LANGS, STRINGS, has_text, resolve, tr, yuan
from kiosk.recognition.quality import REASONS
from ui.app import create_app

DOTTED = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")
AUDIT_CALLS = {"Audit", "audit", "info", "warning", "error", "exception", "debug"}


def _emitted_keys(module) -> set[str]:
    """Dotted string constants in a module, except audit/log event names (first argument of
    Audit(...), self.audit(...), log.*(...)), plus ``f"quality.{...}"`` expanded."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    skip: set[int] = set()
    keys: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
                node.func, "id", "")
            if name in AUDIT_CALLS:
                skip.add(id(node.args[0]))
        if isinstance(node, ast.JoinedStr) and isinstance(node.values[0], ast.Constant) \
                and node.values[0].value == "quality.":
            keys |= {f"quality.{reason}" for reason in REASONS}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and DOTTED.match(node.value) and id(node) not in skip:
            keys.add(node.value)
    return keys


def flow_keys() -> set[str]:
    keys = _emitted_keys(kiosk.flow.machine) | _emitted_keys(kiosk.runtime)
    keys |= _emitted_keys(kiosk.flow.owed)  # 我的欠款 and repayment
    keys |= _emitted_keys(kiosk.flow.family)  # 亲情付
    keys |= _emitted_keys(kiosk.settlement.desk) | _emitted_keys(kiosk.platform_clock)
    keys |= {value for name, value in vars(kiosk.liveness.result).items()
             if name.isupper() and isinstance(value, str) and value.startswith("liveness.")}
    keys |= {code.patient for code in ErrorCode}  # every code's patient text, from the registry
    keys |= {f"quality.{reason}" for reason in REASONS}
    return keys


def test_the_derivation_finds_what_the_flow_emits():
    keys = flow_keys()
    for expected in ("idle.welcome", "quality.too_dark", "liveness.turn_left",
                     "second_factor.locked", "done.queued", "face.not_recognised",
                     "credit.limit_exceeded", "backend.unreachable", "evoucher.bad_token",
                     "backend.timeout", "backend.bad_response"):
        assert expected in keys
    assert "session.started" not in keys and "settlement.confirmed" not in keys  # audit only


def test_every_key_the_flow_can_emit_has_both_languages():
    missing = sorted(k for k in flow_keys() if not has_text(k))
    assert missing == []
    for key in flow_keys():
        zh, en = tr(key, "zh"), tr(key, "en")
        assert zh and en and zh != key and en != key
        assert re.search(r"[\u4e00-\u9fff]", zh), f"{key}: Chinese text has no Chinese"


def test_every_registry_code_reads_as_its_patient_key():
    for code in ErrorCode:
        assert has_text(code.patient) and resolve(code) == code.patient, code
    # codes without words of their own share a key that exists (not a family guess)
    assert resolve("face.too_dark") == "quality.too_dark"
    assert resolve("camera.unavailable") == "face.camera_failed"
    assert resolve("model.missing") == "generic.problem"
    assert {f"face.{reason}" for reason in REASONS} <= set(ErrorCode)  # quality-gate codes


def test_no_string_is_blank_or_untranslated():
    for key, (zh, en) in STRINGS.items():
        assert zh.strip() and en.strip(), key
        assert zh == zh.strip() and en == en.strip(), f"{key}: stray whitespace"


def test_unknown_keys_still_read_sensibly():
    assert resolve("quality.wearing_sunglasses") == "quality._other"
    assert resolve("liveness.new_attack") == "liveness._other"
    assert resolve("auth.something_new") == "server.internal"
    assert resolve("totally.unknown") == "generic.problem"
    for lang in LANGS:
        assert tr("totally.unknown", lang) == tr("generic.problem", lang)
        assert "totally" not in tr("totally.unknown", lang)


@pytest.mark.parametrize(("fen", "text"), [(0, "¥0.00"), (5, "¥0.05"), (100, "¥1.00"),
                                           (38_950, "¥389.50"), (1_000_000_001, "¥10000000.01")])
def test_money_is_yuan_from_integer_fen(fen, text):
    assert yuan(fen) == text == yuan(fen, "en")


def test_parameters_fill_in():
    assert tr("ui.seconds_left", "zh", seconds=9) == "9 秒后返回首页"
    assert tr("keypad.attempts_left", "en", n=2) == "2 tries left"


def test_every_chinese_character_on_screen_is_in_the_font(qapp):
    _, checks = create_app()  # the kiosk's QApplication: the bundled CJK font registered
    assert all(check.ok for check in checks), [c.line() for c in checks]
    metrics = QFontMetrics(QApplication.font())
    chars = {ch for zh, _ in STRINGS.values() for ch in zh if ord(ch) > 0x2e7f}
    missing = sorted(ch for ch in chars if not metrics.inFontUcs4(ord(ch)))
    assert missing == []
    assert len(chars) > 300  # the check looked at the real texts


def test_strings_module_has_no_qt():
    assert "PySide6" not in Path(i18n.__file__).read_text(encoding="utf-8")
