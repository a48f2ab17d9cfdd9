"""The production launchers start against a real platform and keep running (smoke test:
the window itself is covered by tests/ui; here the wiring of devices, keys and client)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from kiosk.counter.pin import hash_pin


def _run_for(args: list[str], seconds: float, cwd) -> tuple[bool, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "ui", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(seconds)
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    return alive, err.decode(errors="replace")


@pytest.mark.parametrize("role", ["kiosk", "counter"])
def test_launcher_starts_and_stays_up(platform, tmp_path, role):
    pin = f'[cashier]\npin_hash = "{hash_pin("135790")}"\n' if role == "counter" else ""
    extra = (f'{pin}[demo]\nsimulated_devices = true\n'
             f'[devices.printer]\ndriver = "file"\npath = "{tmp_path / "printer"}"\n'
             f'spool_dir = "{tmp_path / "receipts"}"\n')
    config = platform.device(role, f"launch-{role}", extra)
    command = ["kiosk", "--windowed"] if role == "kiosk" else ["cashier"]
    alive, err = _run_for([*command, "--config", config.source], 12, tmp_path)
    assert alive, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    if role == "kiosk":  # the replay camera's face walked up: greeted (and said so aloud),
        data = config.paths.data_path()  # never recognised, since nobody chose face pay
        assert any("idle.greet" in p.name for p in (data / "voice").glob("*.wav")), err[-3000:]
        audit = data / "audit.jsonl"
        assert not audit.exists() or "session.started" not in audit.read_text()


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
