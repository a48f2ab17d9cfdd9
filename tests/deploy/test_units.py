"""deploy/'s systemd units and sysusers.d file, checked by systemd's own tools offline.

``systemd-analyze verify`` fails a unit whose ExecStart binary is missing, so the check runs
on copies in which the install prefix points at this venv's real entry points (and xinit, on
a build machine without it, at a stand-in file); every other line is verified as shipped.
Unknown keys are only warnings there, so any output at all fails the test.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
PREFIX = "/opt/hospital-face-kiosk"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (Debian's systemd package)")
    return path


def _unit(path: Path) -> dict[str, list[str]]:
    """``Key -> [values]`` of one unit file (all sections)."""
    keys: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            keys.setdefault(key, []).append(value)
    return keys


def test_every_unit_verifies(tmp_path: Path):
    analyze = _tool("systemd-analyze")
    venv_bin = tmp_path / "prefix" / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    for entry in ("python", "kiosk-server"):
        (venv_bin / entry).symlink_to(Path(sys.executable).parent / entry)
    xinit = shutil.which("xinit")
    if xinit is None:
        stand_in = tmp_path / "xinit"
        stand_in.write_text("#!/bin/sh\n")
        stand_in.chmod(0o755)
        xinit = str(stand_in)
    copies = tmp_path / "units"
    copies.mkdir()
    for unit in UNITS:
        text = unit.read_text().replace(PREFIX, str(tmp_path / "prefix"))
        (copies / unit.name).write_text(text.replace("/usr/bin/xinit", xinit))
    assert [u.name for u in UNITS] == ["hospital-counter.service", "hospital-kiosk.service",
                                       "hospital-platform.service"]
    proc = subprocess.run([analyze, "verify", *sorted(str(p) for p in copies.iterdir())],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and not proc.stdout + proc.stderr, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ["hospital-kiosk.service", "hospital-counter.service"])
def test_apps_are_watched_notify_services(name: str):
    unit = _unit(DEPLOY / "systemd" / name)
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["all"]
    assert unit["KillMode"] == ["control-group"] and unit["Restart"] == ["always"]
    assert unit["User"] == ["kiosk"] and unit["StandardError"] == ["journal"]
    assert int(unit["WatchdogSec"][0]) > 0
    (start,) = unit["ExecStart"]
    app = "kiosk" if name == "hospital-kiosk.service" else "cashier --fullscreen"
    assert re.match(rf"/usr/bin/xinit {PREFIX}/venv/bin/python -m ui {app} -- /usr/bin/Xorg :0 ",
                    start), start


def test_platform_unit_takes_its_worker_count_from_the_environment_file():
    unit = _unit(DEPLOY / "systemd" / "hospital-platform.service")
    assert unit["ExecStart"] == [f"{PREFIX}/venv/bin/kiosk-server run "
                                 "--workers ${KIOSK_SERVER_WORKERS}"]
    assert unit["EnvironmentFile"] == ["-/etc/hospital-kiosk/platform.env"]
    assert unit["Type"] == ["exec"] and unit["User"] == ["kiosk-platform"]
    env = dict(line.split("=", 1) for line in (DEPLOY / "platform.env").read_text().splitlines()
               if line and not line.startswith("#"))
    help_text = subprocess.run([sys.executable, "-m", "server_stub", "run", "--help"],
                               capture_output=True, text=True, timeout=60, check=True).stdout
    assert "--workers" in help_text and 1 <= int(env["KIOSK_SERVER_WORKERS"]) <= 64


def test_sysusers_creates_the_service_users(tmp_path: Path):
    """Applied for real to an empty root: the users, no login, in the devices' groups."""
    sysusers = _tool("systemd-sysusers")
    (tmp_path / "etc").mkdir()
    proc = subprocess.run([sysusers, f"--root={tmp_path}",
                           str(DEPLOY / "sysusers.d" / "hospital-kiosk.conf")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    users = {line.split(":")[0]: line.split(":")
             for line in (tmp_path / "etc" / "passwd").read_text().splitlines()}
    assert users["kiosk"][5:] == ["/var/lib/hospital-kiosk", "/usr/sbin/nologin"]
    assert users["kiosk-platform"][5:] == ["/var/lib/hospital-platform", "/usr/sbin/nologin"]
    members = {line.split(":")[0]: line.split(":")[3].split(",")
               for line in (tmp_path / "etc" / "group").read_text().splitlines()}
    for group in ("video", "input", "dialout", "lp"):
        assert members[group] == ["kiosk"], members
