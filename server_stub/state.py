"""Everything a running platform holds: config, database, keys, and request authentication."""

from __future__ import annotations

import logging
import threading
from typing import Any

import anyio
from pydantic import BaseModel
from sqlalchemy import Connection, bindparam, select

from common.errors import ErrorCode
from kiosk.protocol.crypto_profile import PublicKey, get_profile, profile_of
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.signing import (
    RequestVerifier,
    VerifiedRequest,
    WireRequest,
    claimed_key_id,
)
from server_stub import audit, engines, gallery, guard, idempotency, nonces
from server_stub.anchors import AnchorFile
from server_stub.clock import now_ms
from server_stub.config import ServerConfig
from server_stub.db import devices
from server_stub.identification import IdentificationKeys
from server_stub.keys import ServerIdentity, TemplateSealer
from server_stub.metrics import Metrics
from server_stub.records.devices import Device, active_device
from server_stub.storage import Database

log = logging.getLogger("server_stub")
PURGE_EVERY_MS = 60_000
_DEVICE_EXISTS = select(devices.c.device_id).where(devices.c.device_id == bindparam("device_id"))


class Platform:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.db = Database(config.server.db_url)
        self.db.create_schema()
        self.profile = get_profile(config.security.crypto_profile)
        self.identity = ServerIdentity.load(config.server.key_file, self.profile)
        self.sealer = TemplateSealer.load(config.server.data_key_file, self.profile)
        self.identifications = IdentificationKeys.derive(config.server.data_key_file,
                                                         config.security.identification_ttl_s)
        self.inflight = idempotency.InFlight()
        self.metrics = Metrics(self.db, config.fleet, config.server.metrics_token)
        self.anchors = AnchorFile(config.server.audit_anchor_path)
        database = self.db.url.database
        on_file = self.db.is_sqlite and bool(database) and database != ":memory:"
        self.read_nonces = (nonces.NonceStore(f"{database}.nonces.sqlite", self.db)
                            if on_file else None)
        self.guard = (guard.DeviceGuard(f"{database}.guard.sqlite", config.security)
                      if on_file else None if self.db.is_sqlite
                      else guard.DeviceGuard(None, config.security,
                                             engines.counters_engine(self.db.url)))
        self._next_purge_ms = 0
        self._purge_lock = threading.Lock()
        self._devices: dict[str, Device] = {}
        with self.db.write() as conn:
            changed = gallery.apply_scope_policy(conn, config.gallery.scope)
        if changed:
            log.info("gallery scope applied", extra={"scope": config.gallery.scope,
                                                     "rows_changed": changed})
        self.purge_expired()

    def purge_expired(self) -> None:
        """Forget nonces past their window and idempotency keys past retention."""
        now = now_ms()
        with self._purge_lock:
            if now < self._next_purge_ms:
                return
            self._next_purge_ms = now + PURGE_EVERY_MS
        retention = self.config.security.idempotency_retention_hours

        def purge(conn: Connection) -> None:
            nonces.purge(conn, now=now)
            idempotency.purge(conn, now=now, retention_hours=retention)

        self.db.transact_later(purge)

    async def authenticate(self, request: WireRequest, body: bytes) -> tuple[Device,
                                                                             VerifiedRequest]:
        """Verify the RFC 9421 signature on the event loop, after the device's guard counted
        the request (server_stub/guard.py); the device's status is read when the nonce is
        recorded (server_stub/nonces.py)."""
        claimed = self._registered(claimed_key_id(request.headers))
        if claimed is not None and self.guard is not None:
            await anyio.to_thread.run_sync(self.guard.admit, claimed, now_ms())
        verifier = RequestVerifier(self._device_key, profile=self.profile,
                                   skew_s=self.config.security.skew_seconds)
        try:
            verified = verifier.verify(request.method, request.url, request.headers, body)
        except ProtocolError as exc:
            if claimed is not None and self.guard is not None and exc.code in guard.COUNTED:
                await anyio.to_thread.run_sync(self._failed, claimed)
            raise
        return self._devices[verified.key_id], verified

    def _registered(self, device_id: str | None) -> str | None:
        """``device_id`` if it names a device (active or not), else None."""
        if device_id is None:
            return None
        if device_id in self._devices:
            return device_id
        with self.db.read() as conn:
            found = conn.execute(_DEVICE_EXISTS, {"device_id": device_id}).first()
        return device_id if found is not None else None

    def _failed(self, device_id: str) -> None:
        """A failed authentication; the lockout it may start is audited once."""
        assert self.guard is not None
        now = now_ms()
        if self.guard.failed(device_id, now):
            self.db.transact(lambda conn: audit.append(
                conn, at_ms=now, actor=f"device:{device_id}", action="device.locked",
                subject=device_id, details={"lockout_s": self.config.security.lockout_s}))

    def _device_key(self, device_id: str) -> PublicKey:
        """A device's site, role and key never change, so each is read once per process;
        only its status can, and that is read on every request."""
        device = self._devices.get(device_id)
        if device is None:
            with self.db.read() as conn:
                device = self._devices.setdefault(device_id, active_device(conn, device_id))
        if profile_of(device.public_key) is not self.profile:
            raise ProtocolError(
                ErrorCode.CRYPTO_PROFILE_MISMATCH,
                f"this device was registered with an {profile_of(device.public_key).key_kind} "
                f"key; the platform now uses crypto profile {self.profile.name!r}: provision "
                f"the device again", crypto_profile=self.profile.name)
        return device.public_key

    def pending_nonce(self, verified: VerifiedRequest) -> nonces.PendingNonce:
        self.purge_expired()
        return nonces.pending(verified.key_id, verified.nonce, verified.created,
                              self.config.security.skew_seconds)

    async def spend_nonce(self, nonce: nonces.PendingNonce, *, read_only: bool = False) -> None:
        """Record ``nonce`` in a transaction of its own, unless one already did: a read-only
        request's in the nonce store, off the main database's writer (server_stub/nonces.py)."""
        if nonce.spent:
            return
        if read_only and self.read_nonces is not None:
            await anyio.to_thread.run_sync(self.read_nonces.spend, nonce)
            return
        await self.db.run(nonce.record)
        nonce.spent = True

    async def anchor(self, result: BaseModel) -> None:
        """After a money change committed: its audit head to the anchor file."""
        head = getattr(result, "audit_head", None)
        if head is not None:
            await anyio.to_thread.run_sync(self.anchors.append, head)

    def record_rejection(self, *, method: str, path: str, status: int, code: str,
                         device: Device | None) -> None:
        """Every rejected request leaves an audit record (no body, no personal data)."""
        details: dict[str, Any] = {"method": method, "path": path[:200], "status": status,
                                   "code": code}
        self.db.transact(lambda conn: audit.append(
            conn, at_ms=now_ms(), actor=device.actor if device else "anonymous",
            action="request.rejected", subject=path[:128], details=details))
