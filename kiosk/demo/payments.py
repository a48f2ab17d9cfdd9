"""The simulated payment provider as a process of its own (``server_stub.payments.simulator``)
on a free loopback port, its keys made on first run under its directory, and the platform's
``[payments]`` table pointing at it: the demo's kiosk takes repayments by QR through it, and
the platform's and UI's tests pay, fail, hold and repeat notifications with it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from common.net import free_port
from kiosk.demo.local_platform import die_with_parent

HOST = "127.0.0.1"


@dataclass
class PaymentSimulator:
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.directory / "simulator.log"

    def config(self, platform_port: int, order_ttl_s: int | None = None) -> str:
        """The platform's ``[payments]`` table for this provider (``order_ttl_s``: how long
        a QR is payable, else the platform's default)."""
        ttl = f"order_ttl_s = {order_ttl_s}\n" if order_ttl_s is not None else ""
        return (f'\n[payments]\nprovider = "simulated"\napi_base = "{self.url}"\n'
                f'merchant_token_file = "{self.directory}/merchant.token"\n'
                f'api_v3_key_file = "{self.directory}/apiv3.key"\n'
                f'provider_cert_file = "{self.directory}/provider_cert.pem"\n'
                f'notify_url = "http://{HOST}:{platform_port}/v1/payments/notify"\n{ttl}')

    def start(self) -> PaymentSimulator:
        """Start the process and wait until it answers its health check."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server_stub.payments.simulator", "--dir",
                 str(self.directory), "--host", HOST, "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if requests.get(f"{self.url}/sim/health", timeout=0.5).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the payment simulator did not start:\n" + self.log_file.read_text())

    def pay(self, code_url: str, outcome: str = "success") -> requests.Response:
        """What the payer's phone does with the QR's link: pay it (or fail to)."""
        return requests.post(code_url, json={"outcome": outcome}, timeout=10)

    def faults(self, **faults: Any) -> dict[str, Any]:
        """Set the simulator's faults (``copies``, ``hold``…; none: deliver normally)."""
        reply = requests.post(f"{self.url}/sim/faults", json=faults, timeout=10)
        reply.raise_for_status()
        return dict(reply.json())

    def health(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.url}/sim/health", timeout=10).json())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None


def start_payment_simulator(directory: Path) -> PaymentSimulator:
    return PaymentSimulator(directory, free_port()).start()
