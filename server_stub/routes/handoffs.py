"""Cashier hand-offs: a kiosk hands a session it cannot finish to the counter, which takes
it and resolves or dismisses it (server_stub/handoffs.py)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from kiosk.protocol import schemas
from server_stub import handoffs
from server_stub.clock import local_day, now_ms
from server_stub.permissions import Grant
from server_stub.routes.dependencies import Granted, PathId
from server_stub.state import Platform


def router(platform: Platform) -> APIRouter:
    db, config = platform.db, platform.config
    routes = APIRouter(tags=["handoffs"])

    @routes.post("/v1/handoffs", response_model=schemas.Handoff, status_code=201,
                 responses={200: {
                     "model": schemas.Handoff,
                     "description": "this device already handed this session over: that "
                                    "hand-off, unchanged"}})
    def open_handoff(response: Response, access: Granted,
                     body: schemas.HandoffRequest) -> schemas.Handoff:
        dev = access.device
        handoff, created = db.transact(lambda conn: handoffs.open_handoff(
            conn, device=dev, req=body, now=now_ms(),
            merge_window_s=config.handoffs.merge_window_s))
        if not created:
            response.status_code = 200
        return handoff

    @routes.get("/v1/handoffs", response_model=schemas.HandoffList)
    def handoffs_of_day(access: Granted,
                        open_only: Annotated[bool, Query(
                            alias="open", description="only those not yet taken")] = True,
                        date: Annotated[dt.date | None, Query()] = None
                        ) -> schemas.HandoffList:
        dev = access.device
        day = date or local_day(now_ms(), config.server.timezone)
        with db.read() as conn:
            return handoffs.handoffs_on(conn, site_id=dev.site_id, day=day,
                                        timezone=config.server.timezone, open_only=open_only)

    @routes.post("/v1/handoffs/{handoff_id}/take", response_model=schemas.Handoff)
    def take_handoff(access: Granted, handoff_id: PathId) -> schemas.Handoff:
        dev = access.device
        return db.transact(lambda conn: handoffs.take(conn, device=dev, handoff_id=handoff_id,
                                                      now=now_ms()))

    def close_handoff(access: Grant, handoff_id: str, state: schemas.HandoffState,
                      outcome: str, settlement_id: str | None = None) -> schemas.Handoff:
        return db.transact(lambda conn: handoffs.close(
            conn, device=access.device, handoff_id=handoff_id, state=state, outcome=outcome,
            settlement_id=settlement_id, now=now_ms()))

    @routes.post("/v1/handoffs/{handoff_id}/resolve", response_model=schemas.Handoff)
    def resolve_handoff(access: Granted, handoff_id: PathId,
                        body: schemas.HandoffResolveRequest) -> schemas.Handoff:
        return close_handoff(access, handoff_id, schemas.HandoffState.RESOLVED,
                             body.outcome.value, body.settlement_id)

    @routes.post("/v1/handoffs/{handoff_id}/dismiss", response_model=schemas.Handoff)
    def dismiss_handoff(access: Granted, handoff_id: PathId,
                        body: schemas.HandoffDismissRequest) -> schemas.Handoff:
        return close_handoff(access, handoff_id, schemas.HandoffState.DISMISSED,
                             body.reason.value)

    return routes
