"""The platform's /v1 routes, one router per resource; ``server_stub.api.build_app``
includes them in ``ROUTERS`` order.

Each module has ``router(platform) -> APIRouter``. Routes are thin: a transaction around a
service call. The permission dependency and the path/header types they share are in
``routes.dependencies``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from server_stub.routes import (
    family,
    fleet,
    gallery,
    handoffs,
    his,
    identify,
    metrics,
    patients,
    public,
    reconciliation,
    repayments,
    settlements,
)
from server_stub.state import Platform

ROUTERS: tuple[Callable[[Platform], APIRouter], ...] = (
    public.router, metrics.router, fleet.router, gallery.router, identify.router,
    handoffs.router, patients.router, settlements.router, repayments.router,
    reconciliation.router, his.router, family.router)
