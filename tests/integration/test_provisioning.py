"""Provisioning as IT does it: the CLI, re-provisioning, key rotation, pinning, revocation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common.config_loader import ConfigError
from kiosk.config import load_config
from kiosk.provisioning import ProvisionError, connect, provision


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def test_cli_provision_writes_a_valid_config_keeping_comments(platform, tmp_path):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text("# IT: terminal 3, lobby\n[flow]\nreview_timeout_s = 45.0\n")
    data = tmp_path / "data"
    proc = kiosk("provision", "--server", platform.url, "--token", platform.token("kiosk"),
                 "--write-config", str(cfg), "--data-dir", str(data), "--name", "lobby-3")
    assert proc.returncode == 0, proc.stderr
    assert "pinned server key sha256:" in proc.stdout
    text = cfg.read_text()
    assert "# IT: terminal 3, lobby" in text and "review_timeout_s = 45.0" in text
    config = load_config(cfg)
    assert config.site.id == platform.seed["site_id"] and config.flow.review_timeout_s == 45.0
    assert (data / "device.key").stat().st_mode & 0o777 == 0o600
    assert kiosk("config", "validate", str(cfg)).returncode == 0
    connect(config).sync_gallery(0)  # the device is accepted


def test_provision_creates_the_config_named_by_config_from_another_folder(platform, tmp_path):
    """`kiosk --config new.toml provision ...`: the file is created, relative to the cwd,
    and the data dir defaults to beside it."""
    elsewhere = tmp_path / "terminal"
    elsewhere.mkdir()
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", "new.toml",
                           "provision", "--server", platform.url, "--token",
                           platform.token("kiosk")], capture_output=True, text=True,
                          timeout=60, cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert f"config written to {elsewhere / 'new.toml'}" in proc.stdout
    config = load_config(elsewhere / "new.toml")
    assert config.paths.data_dir == str(elsewhere / "var" / "kiosk")
    assert (elsewhere / "var" / "kiosk" / "device.key").is_file()
    connect(config).sync_gallery(0)


def test_reprovision_keeps_the_key_and_rotation_replaces_it(platform, tmp_path):
    cfg, data = tmp_path / "k.toml", tmp_path / "d"
    first = provision(platform.url, platform.token("kiosk"), cfg, data)
    key_before = (data / "device.key").read_bytes()
    again = provision(platform.url, platform.token("kiosk"), cfg, data)
    assert (data / "device.key").read_bytes() == key_before
    rotated = provision(platform.url, platform.token("kiosk"), cfg, data, rotate=True)
    assert (data / "device.key").read_bytes() != key_before
    assert len({first.device_id, again.device_id, rotated.device_id}) >= 2
    connect(load_config(cfg)).sync_gallery(0)


def test_wrong_fingerprint_and_used_token_are_refused(platform, tmp_path):
    token = platform.token("kiosk")
    with pytest.raises(ProvisionError) as err:
        provision(platform.url, token, tmp_path / "a.toml", tmp_path / "a",
                  expect_fingerprint="sha256:" + "0" * 64)
    assert err.value.code == "provision.fingerprint_mismatch"
    assert not (tmp_path / "a.toml").exists()
    provision(platform.url, token, tmp_path / "b.toml", tmp_path / "b")
    with pytest.raises(ProvisionError) as err:
        provision(platform.url, token, tmp_path / "c.toml", tmp_path / "c")
    assert err.value.code == "device.token_invalid"


def test_tampered_pinned_key_and_unprovisioned_config_refuse_to_connect(platform, tmp_path):
    cfg, data = tmp_path / "k.toml", tmp_path / "d"
    provision(platform.url, platform.token("kiosk"), cfg, data)
    (data / "server.pub").write_text("A" * 43 + "=\n")
    with pytest.raises(ConfigError, match="pinned fingerprint"):
        connect(load_config(cfg))
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="not provisioned"):
        connect(load_config(empty))


def test_doctor_reports_a_healthy_terminal_and_a_missing_platform(platform, tmp_path):
    cfg, data = tmp_path / "k.toml", tmp_path / "d"
    provision(platform.url, platform.token("kiosk"), cfg, data)
    fresh = kiosk("--config", str(cfg), "doctor")
    assert fresh.returncode == 3, fresh.stdout
    for device in ("camera", "scanner", "card", "printer"):
        assert f"FAIL {device:9s} {device}.not_configured" in fresh.stdout, fresh.stdout
    assert "PASS platform" in fresh.stdout and "PASS models" in fresh.stdout

    provisioned = cfg.read_text()
    cfg.write_text(provisioned + '[devices.camera]\ndriver = "synthetic"\n')
    simulated = kiosk("--config", str(cfg), "doctor")
    assert simulated.returncode == 3
    assert "FAIL camera    camera.simulated: driver 'synthetic' is a simulator" in simulated.stdout

    cfg.write_text(provisioned + '[devices.camera]\ndriver = "opencv"\n'
                   'device = "/dev/video-unplugged"\n')
    unplugged = kiosk("--config", str(cfg), "doctor")
    assert unplugged.returncode == 3
    camera = next(line for line in unplugged.stdout.splitlines() if " camera " in line)
    assert camera.startswith("FAIL camera") and "not_configured" not in camera, camera

    cfg.write_text("[demo]\nsimulated_devices = true\n" + provisioned)
    proc = kiosk("--config", str(cfg), "doctor")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "demo mode: simulators allowed" in proc.stdout
    assert "PASS platform" in proc.stdout and "PASS models" in proc.stdout
    assert "FAIL" not in proc.stdout
    broken = tmp_path / "broken.toml"
    broken.write_text(cfg.read_text().replace(platform.url, "http://127.0.0.1:9"))
    proc = kiosk("--config", str(broken), "doctor")
    assert proc.returncode == 3 and "FAIL platform" in proc.stdout
