"""The simulated payment provider for the demo: ``server_stub.payments.simulator`` as a process
of its own on a free loopback port (its keys made on first run under its directory), and the
platform's ``[payments]`` table pointing at it, so the demo's kiosk takes repayments by QR."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from kiosk.demo.local_platform import die_with_parent, free_port

HOST = "127.0.0.1"


@dataclass
class PaymentSimulator:
    directory: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def config(self, platform_port: int) -> str:
        """The platform's ``[payments]`` table for this provider."""
        return (f'[payments]\nprovider = "simulated"\napi_base = "{self.url}"\n'
                f'merchant_token_file = "{self.directory}/merchant.token"\n'
                f'api_v3_key_file = "{self.directory}/apiv3.key"\n'
                f'provider_cert_file = "{self.directory}/provider_cert.pem"\n'
                f'notify_url = "http://{HOST}:{platform_port}/v1/payments/notify"\n')

    def start(self) -> PaymentSimulator:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "simulator.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server_stub.payments.simulator", "--dir",
             str(self.directory), "--host", HOST, "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if requests.get(f"{self.url}/sim/health", timeout=0.5).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("the payment simulator did not start:\n"
                           + (self.directory / "simulator.log").read_text())

    def pay(self, code_url: str) -> requests.Response:
        """What the payer's phone does with the QR's link: pay it."""
        return requests.post(code_url, json={"outcome": "success"}, timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)
        self.proc = None


def start_payment_simulator(directory: Path) -> PaymentSimulator:
    return PaymentSimulator(directory, free_port()).start()
