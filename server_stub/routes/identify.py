"""Identifying a patient: by face (a gallery match the kiosk made), card or e-voucher, and
the second factor that confirms or narrows a face match (server_stub/identify.py). Each
answer carries the device's identification token for the patient (identification.py)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import Connection

from common.errors import ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub import gallery, identify
from server_stub.clock import now_ms
from server_stub.permissions import Grant
from server_stub.records.patients import patient_view, user_by_card, user_row
from server_stub.records.vouchers import resolve_voucher
from server_stub.routes.dependencies import Granted
from server_stub.state import Platform


def router(platform: Platform) -> APIRouter:
    db, config = platform.db, platform.config
    routes = APIRouter(tags=["identify"])

    def identified(access: Grant, view: schemas.PatientView) -> schemas.IdentifiedPatient:
        return platform.identifications.identify(access.device.device_id, view, now_ms())

    @routes.post("/v1/identify/face", response_model=schemas.IdentifiedPatient)
    def identify_face(access: Granted,
                      body: schemas.FaceIdentifyRequest) -> schemas.IdentifiedPatient:
        with db.read() as conn:
            access.patient(conn, body.patient_id)
            if not gallery.in_site_gallery(conn, site_id=access.device.site_id,
                                           pack=body.pack, patient_id=body.patient_id):
                raise ProtocolError(ErrorCode.PATIENT_NOT_FOUND,
                                    "no credit user with this patient id")
            view = patient_view(conn, user_row(conn, body.patient_id))
        return identified(access, view)

    @routes.post("/v1/identify/card", response_model=schemas.IdentifiedPatient)
    def identify_card(access: Granted,
                      body: schemas.CardLookupRequest) -> schemas.IdentifiedPatient:
        with db.read() as conn:
            user = user_by_card(conn, body.card_no)
            access.patient(conn, user.patient_id)
            view = patient_view(conn, user)
        return identified(access, view)

    @routes.post("/v1/identify/voucher", response_model=schemas.IdentifiedPatient)
    def identify_voucher(access: Granted,
                         body: schemas.VoucherLookupRequest) -> schemas.IdentifiedPatient:
        with db.read() as conn:
            user = resolve_voucher(conn, body.payload, now_ms())
            access.patient(conn, user.patient_id)
            view = patient_view(conn, user)
        return identified(access, view)

    @routes.post("/v1/second-factor/verify", response_model=schemas.SecondFactorVerifyResponse)
    def second_factor(access: Granted, body: schemas.SecondFactorVerifyRequest
                      ) -> schemas.SecondFactorVerifyResponse:
        def verify(conn: Connection) -> schemas.SecondFactorVerifyResponse:
            access.patient(conn, body.patient_id)
            return identify.verify_second_factor(conn, device=access.device, req=body,
                                                 config=config, now=now_ms())

        return db.transact(verify)

    @routes.post("/v1/second-factor/narrow", response_model=schemas.NarrowResponse)
    def narrow(access: Granted, body: schemas.NarrowRequest) -> schemas.NarrowResponse:
        dev = access.device
        with db.read() as conn:
            return schemas.NarrowResponse(patient_ids=identify.narrow(conn, device=dev,
                                                                      req=body))

    return routes
