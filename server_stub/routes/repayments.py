"""Repayment of credit: at the counter (POST /v1/repayments, server_stub/ledger.py), and
at the kiosk through a payment provider — what the patient owes (我的欠款), the order whose
QR they pay, and the provider's notification (server_stub/repayment_orders.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from kiosk.protocol import schemas
from server_stub import ledger, repayment_orders
from server_stub.clock import now_ms
from server_stub.payments.provider import make_provider
from server_stub.records.patients import user_row
from server_stub.repayment_orders import NOTIFY_PATH, Orders, order_view
from server_stub.routes.dependencies import Granted, IdempotencyKey, PathId, fingerprint, once
from server_stub.state import Platform


def router(platform: Platform) -> APIRouter:
    orders = Orders(platform, make_provider(platform.config.payments))
    db, config = platform.db, platform.config
    routes = APIRouter()

    @routes.post("/v1/repayments", response_model=schemas.Repayment, status_code=201,
                 tags=["money"])
    async def repay(request: Request, access: Granted, body: schemas.RepayRequest,
                    idempotency_key: IdempotencyKey = None) -> Response:
        def repay_in(conn: Connection, now: int) -> schemas.Repayment:
            user_row(conn, body.patient_id)
            access.patient(conn, body.patient_id, reason=body.reason)
            return ledger.repay(conn, actor=access.device.actor, req=body, config=config,
                                now=now)

        return await once(platform, request, access.device, idempotency_key, 201, repay_in)

    @routes.get("/v1/patients/{patient_id}/credit", response_model=schemas.CreditStatement,
                tags=["repayment"])
    def credit(access: Granted, patient_id: PathId) -> schemas.CreditStatement:
        def read(conn: Connection) -> schemas.CreditStatement:
            access.patient(conn, patient_id)  # first: without a token, nothing is looked up
            return repayment_orders.statement(conn, patient_id,
                                              timezone=config.server.timezone, now=now_ms(),
                                              repay_at_kiosk=orders.provider is not None)

        return access.look_up(db, read)

    @routes.post("/v1/repay-orders", response_model=schemas.RepayOrder, status_code=201,
                 tags=["repayment"])
    async def open_order(request: Request, access: Granted, body: schemas.RepayOrderRequest,
                         idempotency_key: IdempotencyKey = None) -> Response:
        return await orders.open_order(access, body, idempotency_key, fingerprint(request),
                                       request.state.nonce)

    @routes.get("/v1/repay-orders/{order_id}", response_model=schemas.RepayOrder,
                tags=["repayment"])
    def read_order(access: Granted, order_id: PathId) -> schemas.RepayOrder:
        row = orders.poll(order_id, access.device.site_id)
        with db.read() as conn:
            return order_view(conn, row)

    @routes.post("/v1/repay-orders/{order_id}/close", response_model=schemas.RepayOrder,
                 tags=["repayment"])
    def close_order(access: Granted, order_id: PathId) -> schemas.RepayOrder:
        row = orders.close(order_id, access.device.site_id)
        with db.read() as conn:
            return order_view(conn, row)

    @routes.post(NOTIFY_PATH, status_code=204, tags=["repayment", "public"],
                 responses={204: {"description": "verified and applied (or already)"}})
    def notify(request: Request) -> Response:
        """The provider's asynchronous payment notification (unsigned by any device: it is
        verified against the provider's certificate and APIv3 key)."""
        orders.notified(dict(request.headers), request.state.body)
        return Response(status_code=204)

    return routes
