"""The error registry: every code the product raises is one of its members, defined once, and
the one exception base carries a member, never a bare string."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import device
import kiosk
import server_stub
from common.errors import ASK_STAFF, STAFF_OTHER, CodedError, ErrorCode, entry
from kiosk.errors import FaceNotUsable, ImageError
from kiosk.liveness import result
from kiosk.protocol.errors import ProtocolError
from kiosk.recognition.quality import REASONS

ROOT = Path(__file__).resolve().parents[2]
DOTTED = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")


def _modules(package) -> list:
    return [importlib.import_module(info.name) for info in
            pkgutil.walk_packages(package.__path__, package.__name__ + ".")
            if ".migrations." not in info.name and not info.name.endswith("__main__")]


def test_codes_are_dotted_and_defined_once():
    values = [code.value for code in ErrorCode]
    assert len(values) == len(set(values)) == len(ErrorCode.__members__)  # no aliases
    assert all(DOTTED.match(value) for value in values)
    with pytest.raises(ValueError):
        ErrorCode("no.such_code")


def test_every_entry_says_its_status_and_text_keys():
    for code in ErrorCode:
        assert code.status is None or 400 <= code.status <= 599, code
        assert code.patient and code.staff, code
    assert ErrorCode.BAD_SIGNATURE.status == 401 and ErrorCode.FACE_TOO_DARK.status is None
    assert ErrorCode.FACE_TOO_DARK.patient == "quality.too_dark"
    assert ErrorCode.MODEL_MISSING.patient == ASK_STAFF
    assert ErrorCode.CREDIT_LIMIT_EXCEEDED.staff == "staff.credit.limit_exceeded"
    assert entry("x.y") == ("x.y", None, "x.y", STAFF_OTHER)
    assert ErrorCode.families("credit") == {ErrorCode.CREDIT_LIMIT_EXCEEDED,
                                            ErrorCode.USER_SUSPENDED, ErrorCode.USER_BLACKLISTED}


def test_the_quality_gate_and_liveness_failures_are_registry_codes():
    assert {ErrorCode(f"face.{reason}") for reason in REASONS} <= set(ErrorCode)
    error = FaceNotUsable("too dark", ["too_dark", "blurred"])
    assert error.code is ErrorCode.FACE_TOO_DARK
    assert FaceNotUsable("nothing", []).code is ErrorCode.FACE_NOT_USABLE
    failures = {value for name, value in vars(result).items()
                if name.isupper() and isinstance(value, str) and value.startswith("liveness.")
                and value not in (result.LOOK_STRAIGHT, result.HOLD_STILL, result.TURN_LEFT,
                                  result.TURN_RIGHT, result.OFF_DEMO)}
    assert failures and all(isinstance(value, ErrorCode) for value in failures)


def test_errors_carry_members_and_serialise_the_released_string():
    error = ImageError(ErrorCode.IMAGE_EMPTY, "no pixels", name="a.png")
    assert isinstance(error, CodedError) and error.code is ErrorCode.IMAGE_EMPTY
    assert error.to_dict() == {"code": "image.empty", "message": "no pixels", "name": "a.png"}
    wire = ProtocolError(ErrorCode.QUOTE_CHANGED, "changed")
    assert isinstance(wire, CodedError) and wire.status == 409
    assert wire.to_body()["error"]["code"] == "settlement.quote_changed"


def test_every_error_class_of_the_project_names_a_registry_member():
    """Each exception the kiosk, the devices, the shared code and the platform define is a
    CodedError whose class code is a member (no second base, no string codes)."""
    import common

    classes = {cls for package in (common, kiosk, device, server_stub)
               for module in _modules(package) for cls in vars(module).values()
               if isinstance(cls, type) and issubclass(cls, BaseException)
               and cls.__module__ == module.__name__}
    assert len(classes) > 30
    # the payment provider's own refusals and a writer's private retry signal carry the
    # provider's codes or none: they never reach a person, the routes map them to members
    # (and the signature library's own exception, carrying a ProtocolError through it)
    foreign = {"ProviderError", "NotificationRejected", "VerificationError", "_JobFailed",
               "_Rejected"}
    for cls in classes:
        if cls.__name__ in foreign:
            continue
        assert issubclass(cls, CodedError), cls
        assert isinstance(cls.code, ErrorCode), cls


def _literal_codes(source: str) -> list[tuple[int, str]]:
    """Registry codes written as string literals where a code is raised or compared: an
    exception's first argument, a ``code=`` argument, a comparison operand."""
    codes = {code.value for code in ErrorCode}
    found = []
    for node in ast.walk(ast.parse(source)):
        literals: list[ast.expr] = []
        if isinstance(node, ast.Compare):
            literals = [node.left, *node.comparators]
        elif isinstance(node, ast.keyword) and node.arg == "code":
            literals = [node.value]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "").endswith("Error") \
                and node.args:
            literals = [node.args[0]]
        found += [(lit.lineno, lit.value) for lit in literals
                  if isinstance(lit, ast.Constant) and lit.value in codes]
    return found


def test_the_literal_finder_finds_string_codes():
    source = ('if exc.code == "second_factor.locked":\n    pass\n'
              'raise DeviceError("x", code="card.timeout")\n'
              'raise BackendError("backend.timeout", "slow")\n'
              'if health.reason != "ok" or code == ErrorCode.CARD_TIMEOUT:\n    pass\n')
    assert sorted(_literal_codes(source)) == [(1, "second_factor.locked"), (3, "card.timeout"),
                                              (4, "backend.timeout")]


def test_no_source_raises_or_compares_a_code_as_a_string():
    found = [f"{path.relative_to(ROOT)}:{line} {code}"
             for package in ("kiosk", "device", "ui", "server_stub", "common")
             for path in (ROOT / package).rglob("*.py")
             for line, code in _literal_codes(path.read_text(encoding="utf-8"))]
    assert found == []
