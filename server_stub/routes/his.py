"""The /v1/his routes: the hospital information system's signed bill feed (server_stub/his.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import Connection

from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub import his
from server_stub.clock import now_ms
from server_stub.routes.dependencies import Granted, PathId
from server_stub.state import Platform


def router(platform: Platform) -> APIRouter:
    db, config = platform.db, platform.config
    routes = APIRouter(prefix="/v1/his", tags=["his"])

    def answer(outcome: schemas.HisBill | ProtocolError) -> schemas.HisBill:
        if isinstance(outcome, ProtocolError):
            raise outcome  # committed with its hand-off: the refusal goes out now
        return outcome

    @routes.post("/bills", response_model=schemas.HisBill, status_code=201, responses={
        200: {"model": schemas.HisBill,
              "description": "this bill number already holds this content: that bill"}})
    def create_bill(response: Response, access: Granted,
                    body: schemas.HisBillCreate) -> schemas.HisBill:
        bill, created = db.transact(lambda conn: his.create(
            conn, device=access.device, req=body, config=config, now=now_ms()))
        if not created:
            response.status_code = 200
        return bill

    @routes.get("/bills/{bill_no}", response_model=schemas.HisBill)
    def read_bill(access: Granted, bill_no: PathId) -> schemas.HisBill:
        with db.read() as conn:
            return his.view(conn, access.device.site_id, bill_no)

    @routes.post("/bills/{bill_no}/amend", response_model=schemas.HisBill)
    def amend_bill(access: Granted, bill_no: PathId,
                   body: schemas.HisBillAmend) -> schemas.HisBill:

        def amend(conn: Connection) -> schemas.HisBill | ProtocolError:
            return his.amend(conn, device=access.device, bill_no=bill_no, req=body,
                             config=config, now=now_ms())

        return answer(db.transact(amend))

    @routes.post("/bills/{bill_no}/cancel", response_model=schemas.HisBill)
    def cancel_bill(access: Granted, bill_no: PathId,
                    body: schemas.HisBillCancel) -> schemas.HisBill:

        def cancel(conn: Connection) -> schemas.HisBill | ProtocolError:
            return his.cancel(conn, device=access.device, bill_no=bill_no, req=body,
                              config=config, now=now_ms())

        return answer(db.transact(cancel))

    return routes
