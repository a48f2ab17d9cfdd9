"""The routes any caller may use unsigned: health, the platform's key, device registration
(provisioning with an enrolment token)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from sqlalchemy import Connection

from kiosk.protocol import schemas
from server_stub import __version__, tls
from server_stub.clock import now_ms
from server_stub.records.devices import active_device, register_device
from server_stub.state import Platform


def router(platform: Platform) -> APIRouter:
    db, config = platform.db, platform.config
    routes = APIRouter(tags=["public"])
    # signed with the key devices pin: binds the TLS certificate to the platform's identity
    server_identity = platform.identity.describe().model_copy(
        update={"tls_fingerprint": tls.configured_fingerprint(config.server)})

    @routes.get("/v1/health", response_model=schemas.Health)
    def health() -> schemas.Health:
        return schemas.Health(status="ok", version=__version__, time=dt.datetime.now(dt.UTC),
                              skew_window_s=config.security.skew_seconds,
                              timezone=config.server.timezone)

    @routes.get("/v1/server-key", response_model=schemas.ServerKey)
    def server_key() -> schemas.ServerKey:
        return server_identity

    @routes.post("/v1/devices/register", response_model=schemas.RegisterDeviceResponse,
                 status_code=201)
    def register(body: schemas.RegisterDeviceRequest) -> schemas.RegisterDeviceResponse:
        def register_in(conn: Connection) -> tuple[str, Any, schemas.Role]:
            device_id, site = register_device(conn, body, now_ms(), platform.profile)
            return device_id, site, active_device(conn, device_id).role

        device_id, site, role = db.transact(register_in)
        return schemas.RegisterDeviceResponse(device_id=device_id, site_id=site.site_id,
                                              site_name=site.name, role=role,
                                              server_key=server_identity)

    return routes
