"""A patient's record: the masked view, pending bills, template enrolment and consent
withdrawal (server_stub/records/, gallery.py)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import Connection

from kiosk.protocol import schemas
from server_stub import gallery
from server_stub.clock import now_ms
from server_stub.records.bills import pending_bills
from server_stub.records.patients import patient_view, user_row
from server_stub.routes.dependencies import Granted, PathId
from server_stub.state import Platform


def router(platform: Platform) -> APIRouter:
    db, config = platform.db, platform.config
    scope = config.gallery.scope
    routes = APIRouter(tags=["patients"])

    @routes.get("/v1/patients/{patient_id}", response_model=schemas.PatientView)
    def patient(access: Granted, patient_id: PathId) -> schemas.PatientView:
        def view(conn: Connection) -> schemas.PatientView:
            user = user_row(conn, patient_id)
            access.patient(conn, patient_id)
            return patient_view(conn, user)

        return access.look_up(db, view)

    @routes.get("/v1/patients/{patient_id}/bills", response_model=schemas.PendingBills)
    def bills(access: Granted, patient_id: PathId) -> schemas.PendingBills:
        def pending(conn: Connection) -> schemas.PendingBills:
            access.patient(conn, patient_id)
            user_row(conn, patient_id)
            return pending_bills(conn, site_id=access.device.site_id,
                                           patient_id=patient_id)

        return access.look_up(db, pending)

    @routes.post("/v1/patients/{patient_id}/templates", status_code=201,
                 response_model=schemas.EnrolTemplateResponse)
    def enrol_template(access: Granted, patient_id: PathId,
                       body: schemas.EnrolTemplateRequest) -> schemas.EnrolTemplateResponse:
        def enrol(conn: Connection) -> schemas.EnrolTemplateResponse:
            access.patient(conn, patient_id)
            return gallery.enrol_template(conn, device=access.device, patient_id=patient_id,
                                          req=body, sealer=platform.sealer, scope=scope,
                                          now=now_ms())

        return db.transact(enrol)

    @routes.post("/v1/patients/{patient_id}/consent/withdraw",
                 response_model=schemas.WithdrawConsentResponse)
    def withdraw(access: Granted, patient_id: PathId,
                 body: schemas.WithdrawConsentRequest) -> schemas.WithdrawConsentResponse:
        def withdraw_in(conn: Connection) -> schemas.WithdrawConsentResponse:
            access.patient(conn, patient_id)
            return gallery.withdraw_consent(conn, actor=access.device.actor,
                                            patient_id=patient_id, reason=body.reason,
                                            scope=scope, now=now_ms())

        return db.transact(withdraw_in)

    return routes
