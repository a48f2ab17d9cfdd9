"""Provisioning: give a kiosk its identity (a key of the crypto profile, protocol §2.1),
register it, pin the server key and the platform's TLS certificate, and write the config.
Also the one place a configured kiosk turns its config into a client.

The certificate is pinned only when the platform's *signed* server-key answer names the
certificate this kiosk sees (protocol §1.1): an interceptor with a certificate of its own
cannot produce that signature, so it cannot get pinned even while relaying to the platform.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
import tomlkit

from common.atomic import atomic_write
from common.config_loader import ConfigError
from common.errors import ErrorCode
from kiosk.client import PlatformClient
from kiosk.config import KioskConfig
from kiosk.errors import KioskError
from kiosk.platform_clock import PlatformClock
from kiosk.protocol import schemas
from kiosk.protocol.crypto_profile import (
    DEFAULT_PROFILE,
    PrivateKey,
    PublicKey,
    get_profile,
    profile_of,
)
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.keys import (
    fingerprint,
    generate_private_key,
    load_private_key_pem,
    load_public_key_b64,
    pinned_fingerprint,
    private_key_pem,
    public_key_b64,
)
from kiosk.protocol.signing import ResponseVerifier
from kiosk.protocol.transport import normalise_fingerprint
from kiosk.transport import TransportError, mount_pin, peer_fingerprint, require_secure_url

log = logging.getLogger(__name__)


class ProvisionError(KioskError):
    code = ErrorCode.PROVISION_FAILED

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message, code=code)


@dataclass(frozen=True)
class Provisioned:
    device_id: str
    site_id: str
    site_name: str
    role: str
    server_fingerprint: str
    config_path: Path
    tls_fingerprint: str = ""  # "": plain HTTP on loopback


def provision(server_url: str, token: str, config_path: Path, data_dir: Path, *,
              name: str | None = None, expect_fingerprint: str | None = None,
              expect_tls_fingerprint: str | None = None, crypto_profile: str = DEFAULT_PROFILE,
              rotate: bool = False, timeout_s: float = 10.0) -> Provisioned:
    """Register this kiosk with a one-time token. Re-running with a new token re-registers
    the same key (e.g. moved to another site); ``rotate`` makes a fresh key first. The
    platform must use ``crypto_profile`` too (protocol §2.1): it is checked first."""
    server_url = server_url.rstrip("/")
    profile = get_profile(crypto_profile)
    http, tls_pin = _channel(server_url, expect_tls_fingerprint, timeout_s)
    server_key, info = _fetch_server_key(http, server_url, timeout_s)
    if profile_of(server_key) is not profile:
        raise ProvisionError(ErrorCode.PROVISION_CRYPTO_PROFILE_MISMATCH,
                             f"the platform uses crypto profile {info.crypto_profile!r} "
                             f"(alg {info.alg}), this kiosk {profile.name!r}: set [server] "
                             f"crypto_profile = \"{info.crypto_profile}\" (or give "
                             f"--crypto-profile) and provision again; not registering")
    fp = fingerprint(server_key)
    log.info("provision.step", extra={"step": "server_key", "server": server_url,
                                      "fingerprint": fp, "crypto_profile": profile.name})
    if expect_fingerprint and expect_fingerprint.lower().removeprefix(
            f"{profile.fingerprint_prefix}:") != fp:
        raise ProvisionError(ErrorCode.PROVISION_FINGERPRINT_MISMATCH,
                             f"server key fingerprint is {fp}, expected {expect_fingerprint}: "
                             "wrong server or an interception; not registering")
    _bind_certificate(info, tls_pin, expect_tls_fingerprint)
    key_path = data_dir / "device.key"
    created = rotate or not key_path.exists()
    if not created:
        try:
            device_key = load_private_key_pem(key_path.read_bytes(), profile)
        except ValueError as exc:
            raise ProvisionError(ErrorCode.PROVISION_CRYPTO_PROFILE_MISMATCH,
                                 f"{key_path}: {exc}; give --rotate for a new key") from None
    else:
        device_key = generate_private_key(profile)
        data_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(key_path, private_key_pem(device_key))
        os.chmod(key_path, 0o600)
    log.info("provision.step", extra={"step": "device_key", "path": str(key_path),
                                      "new_key": created})
    body = schemas.RegisterDeviceRequest(token=token, public_key=public_key_b64(device_key),
                                         name=name or socket.gethostname()[:64] or "kiosk")
    try:
        resp = http.post(f"{server_url}/v1/devices/register",
                         data=body.model_dump_json(), timeout=timeout_s,
                         headers={"Content-Type": "application/json"})
    except requests.RequestException as exc:
        raise ProvisionError(ErrorCode.PROVISION_UNREACHABLE, f"{server_url}: {exc}") from exc
    _verify(resp, server_key)
    if resp.status_code != 201:
        log.warning("provision.step", extra={"step": "registered", "outcome": "refused",
                                             "status": resp.status_code})
        try:
            detail = schemas.ErrorBody.model_validate_json(resp.content).error
        except ValueError as exc:
            raise ProvisionError(ErrorCode.PROVISION_FAILED, f"HTTP {resp.status_code}") from exc
        err = ProtocolError.from_body(resp.status_code, {"error": detail.model_dump()})
        raise ProvisionError(err.code, f"registration refused: {err.message}")
    reg = schemas.RegisterDeviceResponse.model_validate_json(resp.content)
    if (reg.server_key.fingerprint, reg.server_key.tls_fingerprint) != (fp, info.tls_fingerprint):
        raise ProvisionError(ErrorCode.PROVISION_FINGERPRINT_MISMATCH,
                             "registration answered with a different server key")
    log.info("provision.step", extra={"step": "registered", "device_id": reg.device_id,
                                      "site_id": reg.site_id, "role": reg.role.value})
    server_key_path = data_dir / "server.pub"
    atomic_write(server_key_path, (reg.server_key.public_key + "\n").encode())
    _write_config(config_path, server_url=server_url, site_id=reg.site_id,
                  site_name=reg.site_name, device_id=reg.device_id, kiosk_name=body.name,
                  fingerprint=pinned_fingerprint(server_key), tls_fingerprint=tls_pin,
                  crypto_profile=profile.name,
                  device_key=key_path, server_key=server_key_path, data_dir=data_dir)
    log.info("provision.step", extra={"step": "config_written", "path": str(config_path)})
    return Provisioned(reg.device_id, reg.site_id, reg.site_name, reg.role.value, fp,
                       config_path, tls_pin)


def repin(config: KioskConfig, *, expect_tls_fingerprint: str | None = None,
          timeout_s: float = 10.0) -> str:
    """After IT rotated the platform's certificate: pin the one it serves now, if the
    platform's answer signed with the *already pinned* key names it. Returns the new pin."""
    _, server_key = _keys(config)
    if not config.source:
        raise ConfigError("name the kiosk's config (--config or $KIOSK_CONFIG) to re-pin it")
    url = config.server.urls[0].rstrip("/")  # the hosts of one platform share a certificate
    if urlsplit(url).scheme != "https":
        raise ProvisionError(ErrorCode.INSECURE_TRANSPORT,
                             f"{url} is plain HTTP on loopback: there is no certificate to pin")
    http, tls_pin = _channel(url, expect_tls_fingerprint, timeout_s)
    _, info = _fetch_server_key(http, url, timeout_s, pinned=server_key)
    _bind_certificate(info, tls_pin, expect_tls_fingerprint)
    path = Path(config.source)
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    doc["server"]["tls_fingerprint"] = tls_pin  # type: ignore[index]
    atomic_write(path, tomlkit.dumps(doc).encode("utf-8"))
    log.info("provision.step", extra={"step": "tls_repinned", "fingerprint": tls_pin})
    return tls_pin


def _channel(url: str, expected: str | None, timeout_s: float) -> tuple[requests.Session, str]:
    """A session for provisioning and the certificate it is held to ("" on loopback HTTP):
    every request goes to the certificate seen first, so it cannot change in between."""
    try:
        require_secure_url(url)
    except TransportError as exc:
        raise ProvisionError(exc.code, exc.message) from exc
    session = requests.Session()
    if urlsplit(url).scheme != "https":
        if expected:
            raise ProvisionError(ErrorCode.PROVISION_BAD_FINGERPRINT, f"{url} is plain HTTP on "
                                 "loopback: there is no TLS certificate to check")
        return session, ""
    try:
        seen = peer_fingerprint(url, timeout_s)
    except OSError as exc:
        raise ProvisionError(ErrorCode.PROVISION_UNREACHABLE,
                             f"{url}: no TLS server: {exc}") from exc
    if expected and _pin(expected) != seen:
        raise ProvisionError(ErrorCode.TLS_PIN_MISMATCH,
                             f"the platform's TLS certificate is {seen}, expected "
                             f"{expected}: wrong server or an interception; not registering")
    return mount_pin(session, seen), seen


def _pin(text: str) -> str:
    try:
        return normalise_fingerprint(text)
    except ValueError as exc:
        raise ProvisionError(ErrorCode.PROVISION_BAD_FINGERPRINT, str(exc)) from exc


def _bind_certificate(info: schemas.ServerKey, seen: str, expected: str | None) -> None:
    """The certificate seen must be the one the platform signs as its own; a platform that
    does not say (TLS ended by a proxy in front of it) is trusted only on IT's word."""
    if not seen or info.tls_fingerprint == seen:
        return
    if info.tls_fingerprint is None and expected:
        return  # _channel already compared ``seen`` with IT's expected fingerprint
    stated = info.tls_fingerprint or "none (give --tls-fingerprint to pin it anyway)"
    raise ProvisionError(ErrorCode.TLS_PIN_MISMATCH,
                         f"the TLS certificate seen is {seen}, the platform's signed key "
                         f"answer names {stated}: an interception or a proxy; not pinning")


def _fetch_server_key(http: requests.Session, server_url: str, timeout_s: float, *,
                      pinned: PublicKey | None = None
                      ) -> tuple[PublicKey, schemas.ServerKey]:
    """The platform's key and its signed description; ``pinned``: must be signed by it."""
    try:
        resp = http.get(f"{server_url}/v1/server-key", timeout=timeout_s)
        info = schemas.ServerKey.model_validate_json(resp.content)
        key = load_public_key_b64(info.public_key, info.crypto_profile)
    except requests.RequestException as exc:
        raise ProvisionError(ErrorCode.PROVISION_UNREACHABLE, f"{server_url}: {exc}") from exc
    except (ValueError, ProtocolError) as exc:
        raise ProvisionError(ErrorCode.PROVISION_BAD_SERVER,
                             f"{server_url}: no server key") from exc
    _verify(resp, pinned or key)  # the server proves it holds the private half
    if pinned is not None and fingerprint(key) != fingerprint(pinned):
        raise ProvisionError(ErrorCode.PROVISION_FINGERPRINT_MISMATCH,
                             "the platform now names another signing key: provision again")
    return key, info


def _verify(resp: requests.Response, key: PublicKey) -> None:
    try:
        ResponseVerifier(key).verify(resp)
    except ProtocolError as exc:
        raise ProvisionError(ErrorCode.PROVISION_UNTRUSTED, f"server response not signed by its "
                             f"key: {exc.message}") from exc


def _write_config(path: Path, **v: object) -> None:
    """Update (or create) the TOML keeping IT's comments and other settings."""
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    for table, values in {
        "site": {"id": v["site_id"], "name": v["site_name"], "kiosk_id": v["device_id"],
                 "kiosk_name": v["kiosk_name"]},
        "server": {"url": v["server_url"], "server_key": str(v["server_key"]),
                   "server_key_fingerprint": v["fingerprint"],
                   "crypto_profile": v["crypto_profile"],
                   "tls_fingerprint": v["tls_fingerprint"],
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
    device_key, server_key = _keys(config)
    unpinned = [u for u in s.urls if urlsplit(u).scheme == "https"]
    if unpinned and not s.tls_fingerprint:
        raise ConfigError(f"no TLS certificate is pinned for {unpinned[0]}: run `kiosk "
                          "provision` (or `kiosk tls repin`) against it")
    return PlatformClient(s.urls, config.site.kiosk_id, device_key, server_key,
                          pack=config.models.pack, connect_timeout_s=s.connect_timeout_s,
                          read_timeout_s=s.read_timeout_s, clock=clock,
                          tls_fingerprint=s.tls_fingerprint)


def _keys(config: KioskConfig) -> tuple[PrivateKey, PublicKey]:
    """The device key and the pinned server key of a provisioned config, checked."""
    s = config.server
    if not (s.device_key and s.server_key and config.site.kiosk_id):
        raise ConfigError("this kiosk is not provisioned: run `kiosk provision --server URL "
                          "--token TOKEN`")
    try:
        device_key = load_private_key_pem(Path(s.device_key).read_bytes(), s.crypto_profile)
        server_key = load_public_key_b64(Path(s.server_key).read_text().strip(),
                                         s.crypto_profile)
    except (OSError, ValueError, ProtocolError) as exc:
        raise ConfigError(f"cannot load the kiosk's keys ([server] crypto_profile = "
                          f"{s.crypto_profile!r}): {exc}") from exc
    if Path(s.device_key).stat().st_mode & 0o077:
        raise ConfigError(f"{s.device_key} is readable by others: chmod 600 it")
    pinned = s.server_key_fingerprint.lower().removeprefix(
        f"{get_profile(s.crypto_profile).fingerprint_prefix}:")
    if fingerprint(server_key) != pinned:
        raise ConfigError(f"{s.server_key} does not match the pinned fingerprint "
                          f"{s.server_key_fingerprint}")
    return device_key, server_key
