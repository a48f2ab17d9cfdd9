"""The apps as deploy/'s systemd units run them: ``python -m ui kiosk|cashier`` as real
processes against the real platform, telling a notify socket this test owns (standing in for
systemd's) READY=1 once the window is up and WATCHDOG=1 from the event loop after that; and
the kiosk window covering the whole screen of a bare X server with no window manager."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.demo.local_platform import LocalPlatform
from tests.sd_notify import NotifySocket
from ui.watchdog import watchdog_interval_ms

ROOT = Path(__file__).resolve().parents[2]
START_S = 90  # engine, gallery sync and Qt start-up on a slow CI machine


def _devices(root: Path) -> str:
    """Simulated devices named explicitly (a bare config has none configured)."""
    return ("[demo]\nsimulated_devices = true\n"
            "[devices.camera]\ndriver = \"synthetic\"\n"
            "[devices.scanner]\ndriver = \"wedge\"\n"
            "[devices.card]\ndriver = \"simulated\"\n"
            f"[devices.printer]\ndriver = \"file\"\npath = \"{root}/printer\"\n"
            f"spool_dir = \"{root}/receipts\"\n")


def _provision(platform: LocalPlatform, role: str, name: str, extra: str) -> Path:
    """A newly provisioned device's config file."""
    platform.device(role, name, extra)
    return platform.root / f"{name}.toml"


def _start(command: str, config: Path, notify: NotifySocket, log: Path, *args: str,
           **env: str) -> subprocess.Popen[bytes]:
    full = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "NOTIFY_SOCKET": str(notify.path),
            "WATCHDOG_USEC": "1000000", **env}
    full.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "ui", command, "--config", str(config),
                                 *args],
                                cwd=ROOT, env=full, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def running() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The app processes a test started, terminated afterwards."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _assert_pings(notify: NotifySocket, proc: subprocess.Popen[bytes], log: Path,
                  ready_at: float) -> None:
    """WATCHDOG=1 repeatedly after READY=1, at about half of WATCHDOG_USEC (1 s)."""
    pings = [notify.wait_for("WATCHDOG=1", 10, proc, log) for _ in range(4)]
    assert pings[0] >= ready_at
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert all(0.2 < gap < 2.0 for gap in gaps), gaps


def test_watchdog_interval_is_half_of_systemds():
    assert watchdog_interval_ms({"WATCHDOG_USEC": "20000000"}) == 10_000
    assert watchdog_interval_ms({"WATCHDOG_USEC": "1000"}) == 1  # never a 0 ms busy timer
    assert watchdog_interval_ms({}) is None
    assert watchdog_interval_ms({"WATCHDOG_USEC": "0"}) is None


@pytest.mark.slow
def test_kiosk_tells_systemd_ready_then_pings_the_watchdog(
        platform: LocalPlatform, tmp_path: Path, notify: NotifySocket, running):
    config = _provision(platform, "kiosk", "notify-kiosk", _devices(tmp_path))
    log = tmp_path / "kiosk.log"
    proc = _start("kiosk", config, notify, log)
    running.append(proc)
    ready_at = notify.wait_for("READY=1", START_S, proc, log)
    _assert_pings(notify, proc, log, ready_at)


@pytest.mark.slow
def test_cashier_console_tells_systemd_ready_then_pings_the_watchdog(
        platform: LocalPlatform, tmp_path: Path, notify: NotifySocket, running):
    pin_hash = subprocess.run([sys.executable, "-m", "ui", "pin-hash", "--stdin"],
                              input="482916\n", cwd=ROOT, text=True, capture_output=True,
                              env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
                              timeout=60, check=True).stdout.strip()
    extra = _devices(tmp_path) + f'[cashier]\npin_hash = "{pin_hash}"\n'
    config = _provision(platform, "counter", "notify-counter", extra)
    log = tmp_path / "cashier.log"
    proc = _start("cashier", config, notify, log, "--fullscreen")  # as the unit runs it
    running.append(proc)
    ready_at = notify.wait_for("READY=1", START_S, proc, log)
    _assert_pings(notify, proc, log, ready_at)


def _top_level_geometries(display: str) -> list[str]:
    """``WxH+X+Y`` of every mapped child of the root window (xwininfo's absolute corner)."""
    tree = subprocess.run(["xwininfo", "-root", "-children"], env={**os.environ,
                          "DISPLAY": display}, capture_output=True, text=True, timeout=10,
                          check=True).stdout
    geometries = []
    for line in tree.splitlines():
        match = re.search(r"^\s+(0x[0-9a-f]+) .*\s(\d+x\d+)\+-?\d+\+-?\d+\s+(\+-?\d+\+-?\d+)$",
                          line)
        if match is None:
            continue
        window, size, corner = match.groups()
        attrs = subprocess.run(["xwininfo", "-id", window], env={**os.environ,
                               "DISPLAY": display}, capture_output=True, text=True,
                               timeout=10, check=True).stdout
        if "Map State: IsViewable" in attrs:
            geometries.append(size + corner)
    return geometries


@pytest.mark.slow
def test_kiosk_window_fills_a_bare_x_screen(platform: LocalPlatform, tmp_path: Path, xvfb: str,
                                            notify: NotifySocket, running):
    if shutil.which("xwininfo") is None:
        pytest.skip("xwininfo not installed (Debian's x11-utils; make system-deps)")
    config = _provision(platform, "kiosk", "x-kiosk", _devices(tmp_path))
    log = tmp_path / "kiosk.log"
    proc = _start("kiosk", config, notify, log, QT_QPA_PLATFORM="xcb", DISPLAY=xvfb)
    running.append(proc)
    notify.wait_for("READY=1", START_S, proc, log)
    deadline = time.monotonic() + 10
    while (shown := _top_level_geometries(xvfb)) != ["1280x1024+0+0"]:
        assert time.monotonic() < deadline, f"mapped top-level windows: {shown}"
        time.sleep(0.2)

