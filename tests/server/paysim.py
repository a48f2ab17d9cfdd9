"""The simulated payment provider as a process of its own (``server_stub.payments.simulator``)
on a free loopback port, and the ``[payments]`` config that points a platform at it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.server.live import HOST, free_port


@dataclass
class PaySim:
    directory: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def config(self, platform_port: int, ttl_s: int = 60) -> str:
        """The platform's ``[payments]`` table for this simulator."""
        return (f'\n[payments]\nprovider = "simulated"\napi_base = "{self.base}"\n'
                f'merchant_token_file = "{self.directory}/merchant.token"\n'
                f'api_v3_key_file = "{self.directory}/apiv3.key"\n'
                f'provider_cert_file = "{self.directory}/provider_cert.pem"\n'
                f'notify_url = "http://{HOST}:{platform_port}/v1/payments/notify"\n'
                f"order_ttl_s = {ttl_s}\n")

    def pay(self, code_url: str, outcome: str = "success") -> requests.Response:
        """The payer's phone scans the QR and pays (or the payment fails)."""
        return requests.post(code_url, json={"outcome": outcome}, timeout=10)

    def faults(self, **faults: Any) -> dict[str, Any]:
        reply = requests.post(f"{self.base}/sim/faults", json=faults, timeout=10)
        reply.raise_for_status()
        return dict(reply.json())

    def health(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.base}/sim/health", timeout=10).json())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


def start_paysim(directory: Path) -> PaySim:
    port = free_port()
    log = (directory / "paysim.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "server_stub.payments.simulator", "--dir", str(directory),
         "--host", HOST, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    sim = PaySim(directory, port, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError((directory / "paysim.log").read_text())
        try:
            if requests.get(f"{sim.base}/sim/health", timeout=1).ok:
                return sim
        except requests.RequestException:
            time.sleep(0.05)
    raise AssertionError("the payment simulator did not start")
