"""Fonts, masking, configuration and the device set's health view."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import ImageFont

import device.fonts as fonts
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
from kiosk.errors import ConfigError


def test_cjk_font_renders_chinese() -> None:
    path = fonts.cjk_font_path()
    assert path.is_file()
    font = ImageFont.truetype(str(path), 32)
    glyph = font.getmask("张").getbbox()
    missing = font.getmask("\U000effff").getbbox()  # a code point no font has: .notdef
    assert glyph is not None and glyph != missing


def test_cjk_font_falls_back_to_the_bundled_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "_fc", lambda *args: [])  # fontconfig knows no CJK font
    fonts.cjk_font_path.cache_clear()
    try:
        assert fonts.cjk_font_path() == fonts.bundled_cjk_font()
    finally:
        fonts.cjk_font_path.cache_clear()


def test_system_font_must_really_cover_chinese(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    covering = tmp_path / "NotoSansCJK.ttc"
    covering.write_bytes(b"x")
    answers = {"fc-list": [f"{covering}: "], "fc-match": ["/usr/share/fonts/DejaVuSans.ttf"]}
    monkeypatch.setattr(fonts, "_fc", lambda *args: answers[args[0]])
    assert fonts.system_cjk_fonts() == [covering]  # fc-match's non-CJK answer is ignored


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
    for section in (devices.camera, devices.scanner, devices.card, devices.printer):
        assert section.validate() == [] and section.driver == "none"
    with DeviceSet(devices) as running:
        assert {name: h.reason for name, h in running.health().items()} == {
            name: f"{name}.not_configured" for name in ("camera", "scanner", "card", "printer")}
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
