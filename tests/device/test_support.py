"""Fonts, masking, configuration and the device set's health view."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pytest
from PIL import ImageFont

import common.fonts as fonts
from common.config_loader import ConfigError
from common.privacy import mask_name, mask_number
from device.config import (
    CameraConfig,
    CardReaderConfig,
    DevicesConfig,
    PrinterConfig,
    ScannerConfig,
)
from device.devices import DeviceSet
from device.health import HealthState
from kiosk.config import parse_config


def test_cjk_font_renders_chinese() -> None:
    face = fonts.cjk_font()
    assert face.path.is_file()
    font = face.truetype(32)
    glyph = font.getmask("张").getbbox()
    missing = font.getmask("\U000effff").getbbox()  # a code point no font has: .notdef
    assert glyph is not None and glyph != missing


def test_the_font_in_use_is_simplified_chinese() -> None:
    face = fonts.cjk_font()
    assert face.family == fonts.SC_FAMILY
    assert ImageFont.truetype(str(face.path), 20, index=face.index).getname()[0] == face.family
    assert fonts.face_problem(face) == ""


def test_traditional_and_japanese_faces_are_measured_as_not_simplified() -> None:
    faces = fonts.bundled_faces()
    tc, jp = faces[fonts.TC_FAMILY], faces["Noto Sans CJK JP"]
    assert fonts.face_problem(tc) == "Noto Sans CJK TC is not a Simplified Chinese face"
    # a face that hides its region in its name is caught by its glyphs
    assert fonts.traditional_glyphs(lambda c: fonts.face_raster(tc, c)) == "令角，。"
    assert "令" in fonts.traditional_glyphs(lambda c: fonts.face_raster(jp, c))
    problem = fonts.simplified_problem("Hospital Sans", lambda c: fonts.face_raster(tc, c))
    assert problem == "Hospital Sans draws 令角，。 in Traditional forms, not Simplified"


def test_a_traditional_only_terminal_has_no_cjk_font(monkeypatch: pytest.MonkeyPatch) -> None:
    tc = fonts.bundled_faces()[fonts.TC_FAMILY]
    monkeypatch.setattr(fonts, "candidate_faces", lambda: [tc])
    fonts.cjk_font.cache_clear()
    try:
        with pytest.raises(fonts.FontMissing) as caught:
            fonts.cjk_font()
        assert caught.value.code == "font.cjk_missing"
        assert "Noto Sans CJK TC is not a Simplified Chinese face" in caught.value.message
    finally:
        fonts.cjk_font.cache_clear()


def test_cjk_font_falls_back_to_the_bundled_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "_fc", lambda *args: [])  # fontconfig knows no CJK font
    fonts.cjk_font.cache_clear()
    try:
        assert fonts.cjk_font() == fonts.bundled_faces()[fonts.SC_FAMILY]
    finally:
        fonts.cjk_font.cache_clear()


def test_a_system_traditional_face_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    tc = fonts.bundled_faces()[fonts.TC_FAMILY]
    line = f"{tc.path}\t{tc.index}\t{tc.family}"
    monkeypatch.setattr(fonts, "_fc", lambda *args: [line])  # IT's preferred zh-cn font: TC
    fonts.cjk_font.cache_clear()
    try:
        assert fonts.system_cjk_faces() == [tc]
        assert fonts.cjk_font().family == fonts.SC_FAMILY
    finally:
        fonts.cjk_font.cache_clear()


def test_system_font_must_really_cover_chinese(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    covering = tmp_path / "NotoSansCJK.ttc"
    covering.write_bytes(b"x")
    answers = {"fc-list": [f"{covering}\t2\tNoto Sans CJK SC"],
               "fc-match": ["/usr/share/fonts/DejaVuSans.ttf\t0\tDejaVu Sans"]}
    monkeypatch.setattr(fonts, "_fc", lambda *args: answers[args[0]])
    # fc-match's non-CJK answer is ignored
    assert fonts.system_cjk_faces() == [fonts.CjkFace(covering, 2, "Noto Sans CJK SC")]


@pytest.mark.parametrize(("name", "masked"), [
    ("张三", "张*"), ("张小三", "张*三"), ("欧阳小明", "欧**明"), ("李", "*"), ("", "")])
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked
    assert mask_name(masked) == masked


@pytest.mark.parametrize(("number", "masked"), [
    ("330100199001011234", "3301**********1234"), ("13812345678", "13*******78"),
    ("A12345678", "A1*****78"), ("123", "***")])
def test_mask_number(number: str, masked: str) -> None:
    assert mask_number(number) == masked
    assert mask_number(masked) == masked


def test_devices_tables_map_onto_the_config() -> None:
    config = parse_config("""
[devices.camera]
driver = "opencv"
device = "/dev/video2"
fourcc = "MJPG"
width = 1280
height = 720
mirror = true

[devices.scanner]
driver = "serial"
port = "/dev/serial/by-id/usb-Scanner"

[devices.card]
driver = "python:vendor.reader:Reader"

[devices.printer]
driver = "network"
host = "192.0.2.10"
status_query = false
""", "kiosk.toml")
    devices = config.devices
    assert (devices.camera.driver, devices.camera.width, devices.camera.mirror) == (
        "opencv", 1280, True)
    assert devices.scanner.port == "/dev/serial/by-id/usb-Scanner"
    assert devices.card.driver == "python:vendor.reader:Reader"
    assert devices.printer.host == "192.0.2.10" and devices.printer.status_query is False


def test_bad_device_config_names_the_line_and_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('[devices.camera]\ndriver = "webcam"\nfps = 0\n\n[devices.printer]\n'
                     'driver = "serial"\n', "kiosk.toml")
    errors = info.value.context["errors"]
    assert any("kiosk.toml:2: 'devices.camera.driver' must be one of" in e for e in errors)
    assert any("'devices.camera.fps'" in e for e in errors)
    assert any("'devices.printer.port' is required" in e for e in errors)


def test_defaults_configure_no_device() -> None:
    devices = DevicesConfig()
    for section in (devices.camera, devices.scanner, devices.card, devices.printer,
                    devices.speaker):
        assert section.validate() == [] and section.driver == "none"
    with DeviceSet(devices) as running:
        assert {name: h.reason for name, h in running.health().items()} == {
            name: f"{name}.not_configured"
            for name in ("camera", "scanner", "card", "printer", "speaker")}
        assert running.health()["speaker"].usable  # no voice only degrades
        assert running.payment_methods() == ["cashier"]
    assert PrinterConfig(columns=10).validate()
    assert CameraConfig(driver="file").validate()


def test_failed_camera_withdraws_face_payment_only(tmp_path: Path) -> None:
    config = DevicesConfig(
        camera=CameraConfig(driver="file", path=str(tmp_path / "unplugged.avi"),
                            failed_after_s=0.1, reconnect_initial_s=0.02,
                            reconnect_max_s=0.05),
        scanner=ScannerConfig(driver="wedge"), card=CardReaderConfig(driver="simulated"),
        printer=PrinterConfig(driver="file", path=str(tmp_path / "out"),
                              spool_dir=str(tmp_path / "spool")))
    with DeviceSet(config) as devices:
        time.sleep(0.3)
        health = devices.health()
        methods = devices.payment_methods()
    assert health["camera"].state is HealthState.FAILED
    assert methods == ["card", "evoucher", "cashier"]


def test_working_demo_devices_offer_every_method(tmp_path: Path) -> None:
    config = DevicesConfig(camera=CameraConfig(driver="synthetic"),
                           scanner=ScannerConfig(driver="wedge"),
                           card=CardReaderConfig(driver="simulated"),
                           printer=PrinterConfig(driver="file", path=str(tmp_path / "out"),
                                                 spool_dir=str(tmp_path / "spool")))
    with DeviceSet(config) as devices:
        assert devices.camera.get(5) is not None
        assert devices.payment_methods() == ["face", "card", "evoucher", "cashier"]


def test_doctor_fails_without_a_simplified_font(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    from kiosk.commands.doctor import cmd_doctor
    from kiosk.commands.output import EXIT_SETUP

    tc = fonts.bundled_faces()[fonts.TC_FAMILY]
    monkeypatch.setattr(fonts, "candidate_faces", lambda: [tc])
    fonts.cjk_font.cache_clear()
    try:
        config = parse_config(f'[paths]\ndata_dir = "{tmp_path}"\n')
        assert cmd_doctor(argparse.Namespace(json=False, offline=True), config) == EXIT_SETUP
    finally:
        fonts.cjk_font.cache_clear()
    (line,) = [x for x in capsys.readouterr().out.splitlines() if " font " in x]
    assert line.startswith("FAIL font") and "font.cjk_missing" in line
    assert "Noto Sans CJK TC is not a Simplified Chinese face" in line
