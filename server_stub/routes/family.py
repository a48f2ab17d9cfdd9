"""The 亲情付 routes: a counter records or withdraws a patient's authorisation of a relative;
an identified relative asks whom they may pay for and gets a token for each (§8.3)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import Connection

from common.errors import ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub import relatives
from server_stub.clock import now_ms
from server_stub.records.patients import credit_state, masked_patient, user_row
from server_stub.routes.dependencies import Granted, PathId
from server_stub.state import Platform


def router(platform: Platform) -> APIRouter:
    db, keys = platform.db, platform.identifications
    routes = APIRouter(tags=["family"])

    @routes.post("/v1/patients/{patient_id}/relatives", status_code=201,
                 response_model=schemas.RelativeAuthorisation)
    def authorise(access: Granted, patient_id: PathId,
                  body: schemas.AuthoriseRelativeRequest) -> schemas.RelativeAuthorisation:
        def record(conn: Connection) -> schemas.RelativeAuthorisation:
            access.patient(conn, patient_id)
            return relatives.authorise(conn, patient_id=patient_id, req=body,
                                       actor=access.device.actor, now=now_ms())

        return db.transact(record)

    @routes.get("/v1/patients/{patient_id}/relatives", response_model=schemas.RelativeList)
    def listed(access: Granted, patient_id: PathId) -> schemas.RelativeList:
        def read(conn: Connection) -> schemas.RelativeList:
            access.patient(conn, patient_id)
            return relatives.of_patient(conn, patient_id)

        return access.look_up(db, read)

    @routes.post("/v1/patients/{patient_id}/relatives/{relative_id}/withdraw",
                 response_model=schemas.RelativeAuthorisation)
    def withdraw(access: Granted, patient_id: PathId,
                 relative_id: PathId) -> schemas.RelativeAuthorisation:
        def record(conn: Connection) -> schemas.RelativeAuthorisation:
            access.patient(conn, patient_id)
            return relatives.withdraw(conn, patient_id=patient_id, relative_id=relative_id,
                                      actor=access.device.actor, now=now_ms())

        return db.transact(record)

    @routes.get("/v1/patients/{patient_id}/dependants", response_model=schemas.DependantList)
    def dependants(access: Granted, patient_id: PathId) -> schemas.DependantList:
        """``patient_id`` is the relative, identified as themselves: a token issued via a
        relative opens no further family."""
        now = now_ms()

        def read(conn: Connection) -> schemas.DependantList:
            if access.patient(conn, patient_id):
                raise ProtocolError(ErrorCode.IDENTIFICATION_REQUIRED,
                                    "the relative must identify as themselves")
            user_row(conn, patient_id)
            return schemas.DependantList(dependants=[schemas.Dependant(
                patient=masked_patient(row), relation=relation,
                credit=credit_state(conn, row),
                identification=keys.issue(access.device.device_id, row.patient_id, now,
                                          via=patient_id))
                for row, relation in relatives.dependants_of(conn, patient_id)])

        return access.look_up(db, read)

    return routes
