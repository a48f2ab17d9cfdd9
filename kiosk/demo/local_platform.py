"""A real local platform: ``server_stub`` as a subprocess on a free loopback port with its own
SQLite file, seeded with the demo hospital, and devices provisioned against it. Used by
``kiosk demo`` and by the integration tests (the kiosk talks to it only over HTTP)."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from common.net import free_port
from common.paths import absolute_path
from kiosk.config import KioskConfig, load_config
from kiosk.provisioning import provision

if TYPE_CHECKING:
    from kiosk.demo.payments import PaymentSimulator

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> None:
    """In a child (platform, payment simulator): SIGTERM it when the demo (its parent) dies,
    however it dies, so nothing is left holding a port after a killed demo or test."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class LocalPlatform:
    root: Path
    port: int
    seed: dict
    proc: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)
    scheme: str = "http"  # https: server.toml names a TLS certificate
    verify: str | bool = True  # how start() checks the health answer: a CA file for https

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.root / "server.toml"

    def admin(self, *args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "server_stub", "--config", str(self.config),
                               *args], capture_output=True, text=True, cwd=self.root,
                              timeout=60, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"kiosk-server {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def start(self) -> None:
        log = (self.root / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server_stub", "--config", str(self.config), "run",
             "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=self.root, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env},
            preexec_fn=die_with_parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/v1/health", timeout=0.5, verify=self.verify).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("server did not start:\n" + (self.root / "server.log").read_text())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=15)
        self.proc = None

    def token(self, role: str) -> str:
        out = json.loads(self.admin("device", "token", "--site", self.seed["site_id"],
                                    "--role", role))
        return out["token"]

    def feed_bills(self, bills: int, rate: float, patients: list[str]) -> dict:
        """The day's bills from the simulated hospital system (``kiosk-server his simulate``,
        a ``his`` device of its own, provisioned on the first call), as a real HIS feeds them."""
        state = self.root / "his-sim"
        token = [] if (state / "his.json").exists() else ["--token", self.token("his")]
        return json.loads(self.admin("his", "simulate", "--url", self.url, "--state", str(state),
                                     *token, "--bills", str(bills), "--rate", str(rate),
                                     "--patients", ",".join(patients)))

    def device(self, role: str, name: str, extra_config: str = "") -> KioskConfig:
        """Provision a new kiosk/counter and return its loaded config."""
        token = self.seed["enrolment_tokens"].pop(role, None) or self.token(role)
        data = self.root / name
        cfg = self.root / f"{name}.toml"
        cfg.write_text(f'[paths]\ndata_dir = "{data}"\n{extra_config}')
        provision(self.url, token, cfg, data, name=name)
        return load_config(cfg)


def make_platform(root: Path, scope: str = "all_active",
                  payments: PaymentSimulator | None = None) -> LocalPlatform:
    """Fresh database and keys under ``root``, demo data seeded, server started; with
    ``payments``, kiosks take repayments by QR through that provider."""
    root = absolute_path(root)
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (root / "server.toml").write_text(
        "[server]\n"
        f'db_url = "sqlite:///{root}/server.db"\n'
        f'key_file = "{root}/server_key.pem"\n'
        f'data_key_file = "{root}/data_key.bin"\n'
        "[gallery]\n"
        f'scope = "{scope}"\n'
        + (payments.config(port) if payments is not None else "")
    )
    platform = LocalPlatform(root, port, {})
    platform.admin("init")
    platform.seed = json.loads(platform.admin("seed", "demo"))
    platform.start()
    return platform
