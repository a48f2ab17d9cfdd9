"""The interactive demo (a real window on a real X server) ends on Ctrl+C and on SIGTERM, and
takes its platform subprocess with it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests


def _start_demo(display: str, workdir: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    proc = subprocess.Popen([sys.executable, "-m", "ui", "demo", "--workdir", str(workdir)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not url:
        line = proc.stdout.readline()
        if not line:
            break
        found = re.search(r"platform on (http://127\.0\.0\.1:\d+)", line)
        url = found.group(1) if found else ""
    assert url, proc.stderr.read() if proc.poll() is not None else "no platform line"
    return proc, url


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interactive_demo_stops_on_signal_with_its_platform(xvfb, tmp_path, signum):
    proc, url = _start_demo(xvfb, tmp_path / "demo")
    try:
        assert requests.get(f"{url}/v1/health", timeout=5).ok
        time.sleep(3)  # the window is up and the event loop is running
        assert proc.poll() is None
        proc.send_signal(signum)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err, err[-3000:]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/v1/health", timeout=1)
        except requests.ConnectionError:
            return
        time.sleep(0.2)
    pytest.fail("the demo's platform still answers after the demo ended")
