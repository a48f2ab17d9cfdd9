"""Reconciliation: a device reports its day and audit head (server_stub/reconcile.py), and
a site reads the platform's day report, JSON or CSV (server_stub/recon.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response

from kiosk.protocol import schemas
from server_stub import recon, reconcile
from server_stub.routes.dependencies import Granted
from server_stub.state import Platform


def router(platform: Platform) -> APIRouter:
    db, config = platform.db, platform.config
    routes = APIRouter(tags=["money"])

    @routes.post("/v1/reconcile", response_model=schemas.ReconcileResponse)
    def reconcile_device(access: Granted,
                         body: schemas.ReconcileRequest) -> schemas.ReconcileResponse:
        dev = access.device
        return reconcile.reconcile(db, platform.metrics, device=dev, req=body, config=config)

    @routes.get("/v1/reconciliation/{date}", response_model=schemas.Reconciliation,
                responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                                 "description": "JSON, or CSV with ?format=csv: one row per "
                                                "line, then total:settled/reversed/net rows"}})
    def reconciliation(access: Granted, date: dt.date,
                       format: Literal["json", "csv"] = "json") -> Any:
        dev = access.device
        with db.read() as conn:
            report = recon.reconcile(conn, site_id=dev.site_id, day=date, config=config)
        if format == "csv":
            return Response(recon.to_csv(report), media_type="text/csv; charset=utf-8")
        return report

    return routes
