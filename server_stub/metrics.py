"""``/metrics`` in the Prometheus text format (prometheus-client), for operators only.

The platform may run several worker processes (``[server] workers``) and any of them may
answer a scrape, so no metric may live in one process's memory alone:

* Request metrics (``platform_request_seconds``, ``platform_rejected_requests_total``,
  ``platform_reconcile_mismatches_total``) are counted by the process that served the
  request. With more than one worker, ``kiosk-server run`` points
  ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before the workers start
  (``multiprocess_dir``): prometheus-client then keeps every process's values in files
  there, and a scrape sums them all (``MultiProcessCollector``). With one worker (and no
  such variable) they are plain in-memory metrics.
* Business metrics (``platform_settlements_total``, ``platform_devices``,
  ``platform_outbox_oldest_seconds``) are read from the database at scrape time
  (``DatabaseCollector``): the same whichever process answers, and right after a restart.

The route is closed unless ``[server] metrics_token`` is set, and then needs
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from starlette.routing import BaseRoute, Match

from common.errors import ErrorCode
from kiosk.protocol.errors import ProtocolError
from server_stub import heartbeats
from server_stub.clock import now_ms
from server_stub.config import FleetSection
from server_stub.db import settlements
from server_stub.fleet import counts
from server_stub.storage import Database

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"  # the route label of a request no route matches
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class DatabaseCollector:
    """Settlement totals and device gauges, from the database at every scrape."""

    def __init__(self, db: Database, limits: FleetSection) -> None:
        self.db = db
        self.limits = limits

    def collect(self) -> Iterable[Metric]:
        now = now_ms()
        with self.db.read() as conn:
            made = conn.execute(select(settlements.c.site_id, settlements.c.method,
                                       func.count()).group_by(settlements.c.site_id,
                                                              settlements.c.method)).all()
            entries = heartbeats.fleet(conn, now=now, limits=self.limits)
        settled = CounterMetricFamily(
            "platform_settlements", "Settlements made (later reversals included)",
            labels=["site", "method"])
        for site, method, n in made:
            settled.add_metric([site, method], n)
        status = GaugeMetricFamily("platform_devices", "Active devices by fleet status",
                                   labels=["status"])
        for name, n in counts(entries).items():
            status.add_metric([str(name)], n)
        oldest = GaugeMetricFamily(
            "platform_outbox_oldest_seconds",
            "Age of the oldest undelivered outbox row at the device's last heartbeat",
            labels=["device"])
        for entry in entries:
            if entry.report is not None:
                oldest.add_metric([entry.device_id], entry.report.outbox_oldest_s or 0.0)
        return [settled, status, oldest]


class Metrics:
    """One platform process's metrics and the registry a scrape reads."""

    def __init__(self, db: Database, limits: FleetSection, token: str) -> None:
        self.token = token
        # registry=None: in multiprocess mode the values go to files, which the
        # MultiProcessCollector reads back; registering them as well would count them twice
        self.request_seconds = Histogram(
            "platform_request_seconds", "Time to answer a request, by route template",
            ["route", "method"], registry=None, buckets=BUCKETS)
        self.rejected = Counter("platform_rejected_requests",
                                "Requests answered with an error, by error code", ["code"],
                                registry=None)
        self.reconcile_mismatches = Counter(
            "platform_reconcile_mismatches",
            "Device reconciliations that found a discrepancy, by kind", ["kind"], registry=None)
        self.registry = CollectorRegistry()
        if os.environ.get(MULTIPROC_ENV):
            MultiProcessCollector(self.registry)
        else:
            for metric in (self.request_seconds, self.rejected, self.reconcile_mismatches):
                self.registry.register(metric)
        self.registry.register(DatabaseCollector(db, limits))

    def observe(self, *, route: str, method: str, seconds: float, status: int,
                code: str) -> None:
        self.request_seconds.labels(route, method).observe(seconds)
        if status >= 400:
            self.rejected.labels(code or f"http.{status}").inc()

    def exposition(self, authorization: str | None) -> bytes:
        """The scrape's body, for the holder of the token only."""
        if not self.token:
            raise ProtocolError(ErrorCode.ROUTE_NOT_FOUND, "no such route")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 self.token.encode()):
            raise ProtocolError(ErrorCode.OPERATOR_TOKEN_INVALID,
                                "Authorization: Bearer <[server] metrics_token> required")
        return generate_latest(self.registry)


def route_template(scope: MutableMapping[str, Any], routes: Sequence[BaseRoute]) -> str:
    """The route's path template (``/v1/patients/{patient_id}``), never the raw path: one
    label value per route, not one per patient. Requests refused before routing (a bad
    signature) are matched here against the same routes."""
    route = scope.get("route")
    if route is not None:
        return str(route.path)
    for candidate in _flat(routes):
        if scope.get("type") == "http" and candidate.matches(scope)[0] is not Match.NONE:
            return str(getattr(candidate, "path", UNMATCHED))
    return UNMATCHED


def _flat(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """The app's routes with those of included routers (server_stub/routes) in their place:
    FastAPI keeps an included router as one entry, whose routes carry the full path."""
    for route in routes:
        inner = getattr(route, "effective_route_contexts", None)
        yield from inner() if inner is not None else (route,)


@contextmanager
def multiprocess_dir() -> Iterator[None]:
    """An empty ``PROMETHEUS_MULTIPROC_DIR`` for the worker processes about to start: the
    operator's (emptied: old values would be counted again), else a temporary one."""
    chosen = os.environ.get(MULTIPROC_ENV)
    if chosen:
        Path(chosen).mkdir(parents=True, exist_ok=True)
        for stale in Path(chosen).glob("*.db"):
            stale.unlink()
        yield
        return
    made = tempfile.mkdtemp(prefix="platform-metrics-")
    os.environ[MULTIPROC_ENV] = made
    try:
        yield
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(made, ignore_errors=True)
