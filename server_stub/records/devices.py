"""Devices (kiosks and counters): one-time enrolment tokens, registration with the device's
key, the active device a signature names, revocation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from common.errors import ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.crypto_profile import CryptoProfile, PublicKey
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.keys import load_public_key_b64, public_key_b64
from server_stub import audit
from server_stub.db import devices, enrolment_tokens
from server_stub.records import AdminError, new_id
from server_stub.records.sites import require_site

TOKEN_PREFIX = "enrol-"


def issue_enrolment_token(conn: Connection, *, site_id: str, role: str, ttl_hours: int,
                          now: int) -> str:
    """A one-time token; only its hash is stored, so a database leak enrols nobody."""
    require_site(conn, site_id)
    schemas.Role(role)
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    conn.execute(insert(enrolment_tokens).values(
        token_hash=hashlib.sha256(token.encode()).hexdigest(), site_id=site_id, role=role,
        issued_ms=now, expires_ms=now + ttl_hours * 3_600_000))
    audit.append(conn, at_ms=now, actor="admin", action="device.token_issued", subject=site_id,
                 details={"role": role, "ttl_hours": ttl_hours})
    return token


def register_device(conn: Connection, req: schemas.RegisterDeviceRequest, now: int,
                    profile: CryptoProfile) -> tuple[str, Any]:
    """Consume the token and bind the device key, which must be of the platform's crypto
    profile; returns (device_id, site row)."""
    public_key = load_public_key_b64(req.public_key, profile)
    token_hash = hashlib.sha256(req.token.encode()).hexdigest()
    token = conn.execute(select(enrolment_tokens).where(
        enrolment_tokens.c.token_hash == token_hash).with_for_update()).first()
    if token is None or token.used_ms is not None or token.expires_ms < now:
        raise ProtocolError(ErrorCode.TOKEN_INVALID,
                            "enrolment token unknown, already used or expired")
    device_id = new_id("dev")
    conn.execute(insert(devices).values(
        device_id=device_id, site_id=token.site_id, role=token.role, name=req.name,
        public_key=public_key_b64(public_key), status="active", registered_ms=now))
    conn.execute(update(enrolment_tokens).where(enrolment_tokens.c.token_hash == token_hash)
                 .values(used_ms=now, device_id=device_id))
    audit.append(conn, at_ms=now, actor=f"device:{device_id}", action="device.registered",
                 subject=device_id, details={"site_id": token.site_id, "role": token.role})
    return device_id, require_site(conn, token.site_id)


@dataclass(frozen=True)
class Device:
    device_id: str
    site_id: str
    role: schemas.Role
    public_key: PublicKey

    @property
    def actor(self) -> str:
        return f"device:{self.device_id}"


_key_cache: dict[str, PublicKey] = {}


_DEVICE = select(devices.c.site_id, devices.c.role, devices.c.public_key, devices.c.status
                 ).where(devices.c.device_id == bindparam("device_id"))


def active_device(conn: Connection, device_id: str) -> Device:
    """The device a signature's keyid names; UNKNOWN_KEY / DEVICE_REVOKED otherwise."""
    row = conn.execute(_DEVICE, {"device_id": device_id}).first()
    if row is None:
        raise ProtocolError(ErrorCode.UNKNOWN_KEY, "no device has this keyid")
    if row.status != "active":
        raise ProtocolError(ErrorCode.DEVICE_REVOKED, "this device has been revoked")
    key = _key_cache.get(row.public_key)
    if key is None:  # of whichever profile it was registered under: the platform checks
        key = _key_cache.setdefault(row.public_key, load_public_key_b64(row.public_key, None))
    return Device(device_id, row.site_id, schemas.Role(row.role), key)


def revoke_device(conn: Connection, *, device_id: str, reason: str, now: int) -> None:
    done = conn.execute(update(devices).where(devices.c.device_id == device_id,
                                              devices.c.status == "active")
                        .values(status="revoked", revoked_ms=now, revoke_reason=reason))
    if done.rowcount != 1:
        raise AdminError(f"no active device {device_id!r}")
    audit.append(conn, at_ms=now, actor="admin", action="device.revoked", subject=device_id,
                 details={"reason": reason})
