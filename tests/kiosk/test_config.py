"""The one config loader: defaults are valid, errors name the file, line and key."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from common.config_loader import ConfigError
from kiosk.config import LIVENESS_POLICIES, LivenessConfig, load_config, parse_config


def test_empty_config_is_the_safe_defaults_with_paths_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    config = load_config(None)
    assert dataclasses.replace(config, source="<config>") == parse_config("", base=tmp_path)
    assert config.paths.data_dir == str(tmp_path / "var" / "kiosk")
    assert config.devices.printer.spool_dir == str(tmp_path / "var" / "kiosk" / "receipts")
    assert {config.devices.camera.driver, config.devices.card.driver,
            config.devices.scanner.driver, config.devices.printer.driver} == {"none"}
    assert not config.demo.simulated_devices


def test_relative_paths_follow_the_config_file_not_the_working_directory(tmp_path,
                                                                         monkeypatch):
    site = tmp_path / "etc"
    site.mkdir()
    (site / "kiosk.toml").write_text('[paths]\ndata_dir = "data"\n[models]\nstore = "m"\n',
                                     encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config("../etc/kiosk.toml")
    assert config.source == str(site / "kiosk.toml")
    assert config.paths.data_dir == str(site / "data")
    assert config.models.store == str(site / "m")


def test_demo_mode_fills_only_the_devices_the_config_leaves_out(tmp_path):
    config = parse_config('[demo]\nsimulated_devices = true\n[paths]\ndata_dir = "d"\n'
                          '[devices.card]\ndriver = "serial"\nport = "/dev/ttyS0"\n',
                          base=tmp_path)
    devices = config.devices
    assert (devices.camera.driver, devices.scanner.driver, devices.card.driver,
            devices.printer.driver) == ("synthetic", "wedge", "serial", "file")
    assert devices.printer.path == str(tmp_path / "d" / "printer")


def test_values_are_typed_and_nested():
    cfg = parse_config("[models]\nthreads = 1\n[recognition.quality]\nmax_yaw_deg = 20\n")
    assert cfg.models.threads == 1
    assert cfg.recognition.quality.max_yaw_deg == 20.0
    assert isinstance(cfg.recognition.quality.max_yaw_deg, float)


def test_the_platform_may_be_a_list_of_hosts_each_checked():
    one = parse_config("[server]\nurl = 'http://127.0.0.1:8600'\n")
    assert one.server.urls == ("http://127.0.0.1:8600",)
    several = parse_config("[server]\nurl = ['https://pay-a.example:8600', "
                           "'https://pay-b.example:8600']\n")
    assert several.server.urls == ("https://pay-a.example:8600", "https://pay-b.example:8600")
    with pytest.raises(ConfigError) as err:
        parse_config("[server]\nurl = ['https://pay-a.example', 'http://pay-b.example']\n",
                     "kiosk.toml")
    assert any("kiosk.toml:2: 'server.url'" in e for e in err.value.context["errors"])
    with pytest.raises(ConfigError):
        parse_config("[server]\nurl = []\n")


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


def test_config_show_prints_the_packs_thresholds_not_placeholders(tmp_path, capsys):
    from kiosk.cli import main
    from kiosk.recognition.manifest import get_pack

    pack = get_pack("opencv-zoo-sface").thresholds
    config = tmp_path / "kiosk.toml"
    config.write_text("[recognition.match]\nmargin = 0.08\n", encoding="utf-8")
    assert main(["--config", str(config), "config", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)["recognition"]["match"]
    assert shown["threshold"] == pack.match and shown["threshold"] > 0
    assert shown["candidate_threshold"] == pack.candidate
    assert shown["margin"] == 0.08  # the operator's override stays


# [liveness]: safe defaults, and every bad value named by its key
def test_liveness_defaults_are_valid_and_production_safe():
    cfg = LivenessConfig()
    assert cfg.validate() == []
    assert cfg.policy == "active" and cfg.screen_check and cfg.texture_check
    assert LIVENESS_POLICIES == ("off", "active", "model")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.policy = "off"  # type: ignore[misc]


@pytest.mark.parametrize("changes, key", [
    ({"policy": "maybe"}, "policy"),
    ({"policy": "model"}, "model_manifest"),
    ({"max_duration_s": 0.0}, "max_duration_s"),
    ({"max_gap_s": -1.0}, "max_gap_s"),
    ({"min_response_s": 7.0}, "min_response_s"),
    ({"min_turn_deg": 0.0}, "min_turn_deg"),
    ({"frontal_max_yaw_deg": 45.0}, "frontal_max_yaw_deg"),
    ({"max_turn_deg": 90.0}, "min_turn_deg"),
    ({"wrong_direction_deg": 0.0}, "wrong_direction_deg"),
    ({"reference_frames": 0}, "reference_frames"),
    ({"turned_frames": 31}, "turned_frames"),
    ({"min_parallax": 1.5}, "min_parallax"),
    ({"min_texture_parallax": -0.1}, "min_texture_parallax"),
    ({"min_identity_similarity": 2.0}, "min_identity_similarity"),
    ({"max_moire": 0.5}, "max_moire"),
    ({"max_glare": 0.0}, "max_glare"),
])
def test_bad_liveness_values_name_their_key(changes, key):
    errors = dataclasses.replace(LivenessConfig(), **changes).validate()
    assert key in [k for k, _ in errors], errors
    assert all(message for _, message in errors)


def test_liveness_model_policy_with_a_manifest_is_valid():
    assert LivenessConfig(policy="model", model_manifest="pad/minifasnet.toml").validate() == []
