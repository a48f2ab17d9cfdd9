"""Money at the kiosk and the counter: quotes, settlements (paying a bill, on credit or
otherwise), the day's list, one settlement, and reversals (server_stub/ledger.py). The
money routes run once per Idempotency-Key (``dependencies.once``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from kiosk.protocol import schemas
from server_stub import ledger
from server_stub.clock import local_day, now_ms
from server_stub.routes.dependencies import Granted, IdempotencyKey, PathId, once
from server_stub.state import Platform


def router(platform: Platform) -> APIRouter:
    db, config = platform.db, platform.config
    routes = APIRouter(tags=["money"])

    @routes.post("/v1/quotes", response_model=schemas.Quote)
    def quote(access: Granted, body: schemas.QuoteRequest) -> schemas.Quote:
        dev = access.device
        with db.read() as conn:
            access.identified(conn, body.patient_id)
            return ledger.quote(conn, device=dev, req=body, config=config, now=now_ms())

    @routes.post("/v1/settlements", response_model=schemas.Settlement, status_code=201)
    async def settle(request: Request, access: Granted, body: schemas.SettleRequest,
                     idempotency_key: IdempotencyKey = None) -> Response:
        dev = access.device
        return await once(platform, request, dev, idempotency_key, 201,
                          lambda conn, now: ledger.settle(conn, device=dev, req=body,
                                                          config=config, now=now))

    @routes.get("/v1/settlements", response_model=schemas.SettlementList)
    def settlements_of_day(access: Granted,
                           date: Annotated[dt.date | None, Query()] = None
                           ) -> schemas.SettlementList:
        dev = access.device
        day = date or local_day(now_ms(), config.server.timezone)
        with db.read() as conn:
            return ledger.settlements_on(conn, site_id=dev.site_id, day=day, config=config)

    @routes.get("/v1/settlements/{settlement_id}", response_model=schemas.Settlement)
    def settlement(access: Granted, settlement_id: PathId) -> schemas.Settlement:
        dev = access.device
        with db.read() as conn:
            return ledger.settlement_view(conn, settlement_id, site_id=dev.site_id,
                                          timezone=config.server.timezone)

    @routes.post("/v1/settlements/{settlement_id}/reverse", response_model=schemas.Settlement)
    async def reverse(request: Request, access: Granted, settlement_id: PathId,
                      body: schemas.ReverseRequest, idempotency_key: IdempotencyKey = None
                      ) -> Response:
        dev = access.device
        return await once(platform, request, dev, idempotency_key, 200,
                          lambda conn, now: ledger.reverse(
                              conn, device=dev, settlement_id=settlement_id,
                              reason=body.reason, config=config, now=now))

    return routes
