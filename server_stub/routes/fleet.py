"""POST /v1/heartbeat: a device's health report (server_stub/heartbeats.py)."""

from __future__ import annotations

from fastapi import APIRouter

from kiosk.protocol import schemas
from server_stub import heartbeats
from server_stub.clock import now_ms
from server_stub.routes.dependencies import Granted
from server_stub.state import Platform


def router(platform: Platform) -> APIRouter:
    db, config = platform.db, platform.config
    routes = APIRouter(tags=["fleet"])

    @routes.post("/v1/heartbeat", response_model=schemas.HeartbeatResponse)
    def heartbeat(access: Granted, body: schemas.HeartbeatRequest) -> schemas.HeartbeatResponse:
        dev = access.device
        return db.transact(lambda conn: heartbeats.record(conn, device=dev, req=body,
                                                          now=now_ms(),
                                                          security=config.security))

    return routes
