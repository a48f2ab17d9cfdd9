"""The one config loader: defaults are valid, errors name the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import KioskConfig, load_config, parse_config
from kiosk.errors import ConfigError


def test_empty_config_is_the_safe_defaults():
    assert parse_config("") == KioskConfig(source="<config>")
    assert load_config(None) == KioskConfig()


def test_values_are_typed_and_nested():
    cfg = parse_config("[models]\nthreads = 1\n[recognition.quality]\nmax_yaw_deg = 20\n")
    assert cfg.models.threads == 1
    assert cfg.recognition.quality.max_yaw_deg == 20.0
    assert isinstance(cfg.recognition.quality.max_yaw_deg, float)


def test_errors_are_line_precise_and_all_reported_at_once():
    text = (
        "[models]\n"
        "pack = 'opencv-zoo-sface'\n"
        "threads = 'two'\n"
        "\n"
        "[recognition.quality]\n"
        "min_brightness = 250\n"
        "colour = true\n"
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text, "kiosk.toml")
    errors = err.value.context["errors"]
    assert any(e.startswith("kiosk.toml:3: 'models.threads' must be int") for e in errors)
    assert any(e.startswith("kiosk.toml:6: 'recognition.quality.min_brightness'") for e in errors)
    assert any(e.startswith("kiosk.toml:7: unknown key 'recognition.quality.colour'")
               for e in errors)


def test_syntax_errors_and_unreadable_files(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"kiosk\.toml"):
        parse_config("[models\n", "kiosk.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"name = '\xe9'\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(bad)


def test_a_missing_required_value_points_at_its_table():
    text = "[models]\nthreads = 1\n\n[devices.printer]\ndriver = \"serial\"\n"
    with pytest.raises(ConfigError) as err:
        parse_config(text, "k.toml")
    errors = err.value.context["errors"]
    assert any(e.startswith("k.toml:4: 'devices.printer.port'") for e in errors)
