"""The one TOML loader, as both configs use it: every mistake refused, all at once, with the
file, line and key named, and the nearest valid name for a typo."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.config_loader import ConfigError
from kiosk.config import parse_config
from server_stub.config import PlatformConfigError, load_config


def problems(path: Path, text: str) -> list[str]:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlatformConfigError) as info:
        load_config(path)
    return info.value.errors


def test_a_typo_names_the_file_line_section_and_the_nearest_key(tmp_path: Path):
    path = tmp_path / "server.toml"
    errors = problems(path, '[server]\nhost = "127.0.0.1"\nprot = 8601\n')
    assert errors == [f"{path}:3: unknown key 'server.prot' in [server] (did you mean 'port'?)"]


def test_an_unknown_section_is_refused_with_the_nearest_section(tmp_path: Path):
    errors = problems(tmp_path / "s.toml", "[secruity]\nskew_seconds = 60\n")
    assert len(errors) == 1
    assert ":1: unknown section '[secruity]' (did you mean 'security'?)" in errors[0]
    with pytest.raises(ConfigError) as info:
        parse_config("[devices.camrea]\ndriver = 'opencv'\n", "kiosk.toml")
    assert info.value.context["errors"] == [
        "kiosk.toml:1: unknown section '[devices.camrea]' (did you mean 'camera'?)"]


def test_a_name_far_from_every_key_lists_the_valid_ones(tmp_path: Path):
    (error,) = problems(tmp_path / "s.toml", "[handoffs]\nzzz = 1\n")
    assert error.endswith("unknown key 'handoffs.zzz' in [handoffs] (valid: merge_window_s)")


def test_wrong_types_name_the_type_expected_on_both_sides(tmp_path: Path):
    errors = problems(tmp_path / "s.toml",
                      '[server]\nport = "8600"\n[schedule]\nenabled = 1\n[credit]\n'
                      'repayment_days = 30.0\n')
    assert [e.split(": ", 1)[1] for e in errors] == [
        "'server.port' must be int, got str '8600'",
        "'schedule.enabled' must be bool, got int 1",
        "'credit.repayment_days' must be int, got float 30.0"]
    with pytest.raises(ConfigError) as info:
        parse_config("[server]\nurl = 5\n[voice]\nmute = 'no'\n", "k.toml")
    assert info.value.context["errors"] == [
        "k.toml:2: 'server.url' must be str or a list of str, got int 5",
        "k.toml:4: 'voice.mute' must be bool, got str 'no'"]


def test_a_partial_table_keeps_the_defaults_of_its_parent(tmp_path: Path):
    path = tmp_path / "s.toml"
    path.write_text("[policy.employee]\nbasic_ratio_bp = 9000\n", encoding="utf-8")
    employee = load_config(path).policy.employee
    assert (employee.basic_ratio_bp, employee.deductible_fen) == (9000, 1_000)
    assert load_config(path).source == str(path)


def test_a_section_that_is_not_a_table_is_refused(tmp_path: Path):
    (error,) = problems(tmp_path / "s.toml", 'server = "localhost"\n')
    assert error.endswith(":1: [server] must be a table")
