"""The production launchers start against a real platform and do their work: each tells the
notify socket READY=1 once its window is up, its first signed heartbeat puts it in the
platform's fleet view as ok with the devices the config wired (the window itself is covered
by tests/ui; here the wiring of devices, keys and client), and the kiosk greets the replay
camera's face aloud without starting a checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.counter.pin import hash_pin
from tests.sd_notify import NotifySocket

START_S = 90  # engine, gallery sync and Qt start-up on a slow CI machine


def _until(check: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path,
           timeout_s: float = 30.0) -> bool:
    """Whether ``check()`` came true within the time, polled while the app keeps running."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert proc.poll() is None, f"app exited {proc.returncode}:\n{log.read_text()[-3000:]}"
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _fleet_report(platform, device_id: str) -> dict | None:
    """The platform's view of the device's last signed heartbeat (None before the first)."""
    listed = json.loads(platform.admin("fleet", "--json"))["devices"]
    return next(d for d in listed if d["device_id"] == device_id)["report"]


def _reasons(report: dict | None) -> dict[str, str]:
    return {d["device"]: d["reason"] for d in (report or {}).get("devices", [])}


# What each launcher wires from the config above: simulated card, wedge scanner, the replay
# camera once it delivers frames, a file printer (checked when it first prints), the platform
# clock, and the kiosk's speaker and settlement outbox.
WIRED = {
    "kiosk": {"camera": "ok", "card": "card.simulated", "clock": "ok", "outbox": "ok",
              "printer": "printer.unchecked", "scanner": "scanner.wedge_unverified",
              "speaker": "ok"},
    "counter": {"camera": "ok", "clock": "ok", "printer": "printer.unchecked"},
}


@pytest.mark.parametrize("role", ["kiosk", "counter"])
def test_launcher_starts_and_stays_up(platform, tmp_path, notify: NotifySocket, role):
    pin = f'[cashier]\npin_hash = "{hash_pin("135790")}"\n' if role == "counter" else ""
    extra = (f'{pin}[demo]\nsimulated_devices = true\n[server]\nheartbeat_s = 1.0\n'
             f'[devices.printer]\ndriver = "file"\npath = "{tmp_path / "printer"}"\n'
             f'spool_dir = "{tmp_path / "receipts"}"\n')
    config = platform.device(role, f"launch-{role}", extra)
    command = ["kiosk", "--windowed"] if role == "kiosk" else ["cashier"]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "NOTIFY_SOCKET": str(notify.path)}
    log = tmp_path / f"{role}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ui", *command, "--config", config.source],
                                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        notify.wait_for("READY=1", START_S, proc, log)
        device_id = config.site.kiosk_id
        _until(lambda: _reasons(_fleet_report(platform, device_id)) == WIRED[role], proc, log)
        report = _fleet_report(platform, device_id)
        assert _reasons(report) == WIRED[role], log.read_text()[-3000:]
        assert report["interval_s"] == 1.0  # the config's [server] heartbeat_s
        data = config.paths.data_path()
        if role == "kiosk":  # the replay camera's face walked up: greeted (and said so aloud),
            assert report["last_sync_at"] is not None  # the gallery came from the platform
            assert _until(  # never recognised, since nobody chose face pay
                lambda: any("idle.greet" in p.name for p in (data / "voice").glob("*.wav")),
                proc, log), log.read_text()[-3000:]
            audit = data / "audit.jsonl"
            assert not audit.exists() or "session.started" not in audit.read_text()
        assert proc.poll() is None, log.read_text()[-3000:]
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text()[-3000:]


@pytest.mark.parametrize("role", ["kiosk", "counter"])
def test_launcher_refuses_a_simulator_outside_demo_mode(platform, tmp_path, role):
    """A terminal configured with the synthetic camera but not in demo mode must not scan
    (or enrol) the bundled photo: one line, exit 3."""
    config = platform.device(role, f"refuse-{role}", '[devices.camera]\ndriver = "synthetic"\n')
    proc = subprocess.run([sys.executable, "-m", "ui", role if role == "kiosk" else "cashier",
                           "--config", config.source], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 3
    assert "kiosk: error: config.simulated_device:" in proc.stderr
    assert "devices.camera.driver = 'synthetic' is a simulator" in proc.stderr
    assert "Traceback" not in proc.stderr
