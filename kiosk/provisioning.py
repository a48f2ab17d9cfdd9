"""Provisioning: give a kiosk its Ed25519 identity, register it, pin the server key, and
write the config. Also the one place a configured kiosk turns its config into a client."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import requests
import tomlkit
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from device.atomic import atomic_write
from kiosk.client import PlatformClient
from kiosk.config import KioskConfig
from kiosk.errors import ConfigError, KioskError
from kiosk.platform_clock import PlatformClock
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.keys import (
    fingerprint,
    generate_private_key,
    load_private_key_pem,
    load_public_key_b64,
    private_key_pem,
    public_key_b64,
)
from kiosk.protocol.signing import ResponseVerifier

log = logging.getLogger(__name__)


class ProvisionError(KioskError):
    code = "provision.failed"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Provisioned:
    device_id: str
    site_id: str
    site_name: str
    role: str
    server_fingerprint: str
    config_path: Path


def provision(server_url: str, token: str, config_path: Path, data_dir: Path, *,
              name: str | None = None, expect_fingerprint: str | None = None,
              rotate: bool = False, timeout_s: float = 10.0) -> Provisioned:
    """Register this kiosk with a one-time token. Re-running with a new token re-registers
    the same key (e.g. moved to another site); ``rotate`` makes a fresh key first."""
    server_url = server_url.rstrip("/")
    server_key = _fetch_server_key(server_url, timeout_s)
    fp = fingerprint(server_key)
    log.info("provision.step", extra={"step": "server_key", "server": server_url,
                                      "fingerprint": fp})
    if expect_fingerprint and expect_fingerprint.lower().removeprefix("sha256:") != fp:
        raise ProvisionError("provision.fingerprint_mismatch",
                             f"server key fingerprint is {fp}, expected {expect_fingerprint}: "
                             "wrong server or an interception; not registering")
    key_path = data_dir / "device.key"
    created = rotate or not key_path.exists()
    if not created:
        device_key = load_private_key_pem(key_path.read_bytes())
    else:
        device_key = generate_private_key()
        data_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(key_path, private_key_pem(device_key))
        os.chmod(key_path, 0o600)
    log.info("provision.step", extra={"step": "device_key", "path": str(key_path),
                                      "new_key": created})
    body = schemas.RegisterDeviceRequest(token=token, public_key=public_key_b64(device_key),
                                         name=name or socket.gethostname()[:64] or "kiosk")
    try:
        resp = requests.post(f"{server_url}/v1/devices/register",
                             data=body.model_dump_json(), timeout=timeout_s,
                             headers={"Content-Type": "application/json"})
    except requests.RequestException as exc:
        raise ProvisionError("provision.unreachable", f"{server_url}: {exc}") from exc
    _verify(resp, server_key)
    if resp.status_code != 201:
        log.warning("provision.step", extra={"step": "registered", "outcome": "refused",
                                             "status": resp.status_code})
        try:
            err = schemas.ErrorBody.model_validate_json(resp.content).error
            raise ProvisionError(err.code, f"registration refused: {err.message}")
        except ValueError as exc:
            raise ProvisionError("provision.failed", f"HTTP {resp.status_code}") from exc
    reg = schemas.RegisterDeviceResponse.model_validate_json(resp.content)
    if reg.server_key.fingerprint != fp:
        raise ProvisionError("provision.fingerprint_mismatch",
                             "registration answered with a different server key")
    log.info("provision.step", extra={"step": "registered", "device_id": reg.device_id,
                                      "site_id": reg.site_id, "role": reg.role.value})
    server_key_path = data_dir / "server.pub"
    atomic_write(server_key_path, (reg.server_key.public_key + "\n").encode())
    _write_config(config_path, server_url=server_url, site_id=reg.site_id,
                  site_name=reg.site_name, device_id=reg.device_id, kiosk_name=body.name,
                  fingerprint=fp,
                  device_key=key_path, server_key=server_key_path, data_dir=data_dir)
    log.info("provision.step", extra={"step": "config_written", "path": str(config_path)})
    return Provisioned(reg.device_id, reg.site_id, reg.site_name, reg.role.value, fp,
                       config_path)


def _fetch_server_key(server_url: str, timeout_s: float) -> Ed25519PublicKey:
    try:
        resp = requests.get(f"{server_url}/v1/server-key", timeout=timeout_s)
        info = schemas.ServerKey.model_validate_json(resp.content)
        key = load_public_key_b64(info.public_key)
    except requests.RequestException as exc:
        raise ProvisionError("provision.unreachable", f"{server_url}: {exc}") from exc
    except (ValueError, ProtocolError) as exc:
        raise ProvisionError("provision.bad_server", f"{server_url}: no server key") from exc
    _verify(resp, key)  # the server proves it holds the private half
    return key


def _verify(resp: requests.Response, key: Ed25519PublicKey) -> None:
    try:
        ResponseVerifier(key).verify(resp)
    except ProtocolError as exc:
        raise ProvisionError("provision.untrusted", f"server response not signed by its "
                             f"key: {exc.message}") from exc


def _write_config(path: Path, **v: object) -> None:
    """Update (or create) the TOML keeping IT's comments and other settings."""
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    for table, values in {
        "site": {"id": v["site_id"], "name": v["site_name"], "kiosk_id": v["device_id"],
                 "kiosk_name": v["kiosk_name"]},
        "server": {"url": v["server_url"], "server_key": str(v["server_key"]),
                   "server_key_fingerprint": f"sha256:{v['fingerprint']}",
                   "device_key": str(v["device_key"])},
        "paths": {"data_dir": str(v["data_dir"])},
    }.items():
        if table not in doc:
            doc[table] = tomlkit.table()
        for key, value in values.items():
            doc[table][key] = value  # type: ignore[index]
    atomic_write(path, tomlkit.dumps(doc).encode("utf-8"))


def connect(config: KioskConfig, clock: PlatformClock | None = None) -> PlatformClient:
    """A client from a provisioned config; refuses a server key that is not the pinned one.
    ``clock``: what the device's clock is taken to be (tests give one that is off)."""
    s = config.server
    if not (s.device_key and s.server_key and config.site.kiosk_id):
        raise ConfigError("this kiosk is not provisioned: run `kiosk provision --server URL "
                          "--token TOKEN`")
    try:
        device_key = load_private_key_pem(Path(s.device_key).read_bytes())
        server_key = load_public_key_b64(Path(s.server_key).read_text().strip())
    except (OSError, ValueError, ProtocolError) as exc:
        raise ConfigError(f"cannot load the kiosk's keys: {exc}") from exc
    if Path(s.device_key).stat().st_mode & 0o077:
        raise ConfigError(f"{s.device_key} is readable by others: chmod 600 it")
    pinned = s.server_key_fingerprint.lower().removeprefix("sha256:")
    if fingerprint(server_key) != pinned:
        raise ConfigError(f"{s.server_key} does not match the pinned fingerprint "
                          f"{s.server_key_fingerprint}")
    return PlatformClient(s.url, config.site.kiosk_id, device_key, server_key,
                          pack=config.models.pack, connect_timeout_s=s.connect_timeout_s,
                          read_timeout_s=s.read_timeout_s, clock=clock)
