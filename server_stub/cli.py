"""``kiosk-server``: run the platform and administer it (sites, devices, users, bills, vouchers,
demo data, reconciliation, overdue handling, audit verification, fleet health).

Admin commands write straight to the database in one transaction each (they may run while
the server is up). Results are printed as one JSON object (``fleet``: a table, unless
``--json``); errors as one line on stderr.
Exit codes: 0 done, 1 internal error, 2 bad input, 3 set-up problem (config, keys).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from common.argtypes import positive_int
from common.paths import absolute_path
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub import audit, gallery, ledger, recon, seed, tls
from server_stub.clock import from_datetime, local_day, now_ms
from server_stub.config import PlatformConfigError, ServerConfig, load_config
from server_stub.records import AdminError
from server_stub.records.bills import NewItem, create_bill
from server_stub.records.devices import issue_enrolment_token, revoke_device
from server_stub.records.patients import (
    NewUser,
    enrol_user,
    patient_view,
    set_user_status,
    user_row,
)
from server_stub.records.sites import create_site, require_site
from server_stub.records.vouchers import issue_voucher, revoke_voucher
from server_stub.storage import Database

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_SETUP = 0, 1, 2, 3
Args = argparse.Namespace


def _emit(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str) + "\n")


def _database(config: ServerConfig, *, upgrade: bool = True) -> Database:
    """The platform's existing database (its schema brought up to date unless ``upgrade``
    is False). Only ``init`` and ``run`` create one: an admin command run against the wrong
    config or from another folder must say which database it looked for, not answer from a
    new empty one."""
    url = make_url(config.server.db_url)
    file = url.database if url.get_backend_name() == "sqlite" else None
    if file not in (None, "", ":memory:") and not Path(file).is_file():
        raise PlatformConfigError(f"no platform database at {file} (config: "
                                  f"{config.source or 'built-in defaults'}); `kiosk-server init` "
                                  "creates one")
    db = Database(config.server.db_url)
    if upgrade:
        db.create_schema()
    return db


def cmd_init(args: argparse.Namespace, config: ServerConfig) -> int:
    """Create the database, the response-signing key and the template key (idempotent)."""
    from server_stub.state import Platform

    platform = Platform(config)
    fingerprint = platform.identity.describe().fingerprint
    platform.db.dispose()
    _emit({"db_url": make_url(config.server.db_url).render_as_string(hide_password=True),
           "key_file": config.server.key_file, "data_key_file": config.server.data_key_file,
           "key_fingerprint": fingerprint})
    return EXIT_OK


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError("must be a TCP port 1-65535")
    return int(text)


def _check_port_free(host: str, port: int) -> None:
    """Refuse a busy port before start-up rather than after uvicorn's 'startup complete'."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise PlatformConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise PlatformConfigError(f"cannot listen on {host}:{port}: {exc.strerror} "
                                      "(another platform already running? choose --port)") from exc


def _in_transaction(action: Callable[..., Any]) -> Callable[[argparse.Namespace,
                                                             ServerConfig], int]:
    """Run ``action(conn, args, config, now)`` in one write transaction and print its result."""
    def command(args: argparse.Namespace, config: ServerConfig) -> int:
        db = _database(config)
        try:
            with db.write() as conn:
                result = action(conn, args, config, now_ms())
        finally:
            db.dispose()
        _emit(result)
        return EXIT_OK
    return command


def _workers(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError("must be a whole number 1-64")
    return int(text)


def cmd_run(args: argparse.Namespace, config: ServerConfig) -> int:
    import uvicorn

    from common.logs import setup_logging
    from server_stub.api import create_asgi_app
    from server_stub.state import Platform

    setup_logging(config.server.log_level, config.server.log_dir, "server")
    host = args.host or config.server.host
    port = args.port if args.port is not None else config.server.port
    certificate = tls.for_listening(config.server, host)  # no plain HTTP off loopback
    _check_port_free(host, port)
    platform = Platform(config)  # schema, keys and scope policy: once, before any worker
    workers = args.workers or config.server.workers
    options: dict[str, Any] = dict(host=host, port=port, log_config=None, access_log=False,
                                   server_header=False)
    if certificate is not None:
        # asyncio waits up to 30 s for each idle keep-alive client to answer TLS close_notify,
        # and a kiosk's idle connection never reads: without a bound every restart would hang
        # until systemd's SIGKILL. In-flight requests finish well within it; one that does
        # not is retried by its device under the same Idempotency-Key.
        options.update(ssl_certfile=certificate.cert_file, ssl_keyfile=certificate.key_file,
                       timeout_graceful_shutdown=tls.DRAIN_S)
    if workers > 1:
        platform.db.dispose()
        if config.source:
            os.environ["KIOSK_SERVER_CONFIG"] = config.source  # read again by each worker
        from server_stub.metrics import multiprocess_dir

        with multiprocess_dir():  # every worker's request metrics, summed at each scrape
            uvicorn.run("server_stub.api:app_from_environment", factory=True,
                        workers=workers, **options)
        return EXIT_OK
    try:
        uvicorn.run(create_asgi_app(platform), **options)
    finally:
        platform.db.dispose()  # commits whatever is still queued (purges)
    return EXIT_OK


def _site_create(conn: Connection, args: Args, config: ServerConfig, now: int) -> Any:
    return {"site_id": create_site(conn, code=args.code, name=args.name, now=now)}


def _device_token(conn: Connection, args: Args, config: ServerConfig, now: int) -> Any:
    token = issue_enrolment_token(conn, site_id=args.site, role=args.role,
                                            ttl_hours=args.ttl_hours, now=now)
    return {"site_id": args.site, "role": args.role, "token": token,
            "expires_in_hours": args.ttl_hours}


def _device_revoke(conn: Connection, args: Args, config: ServerConfig, now: int) -> Any:
    revoke_device(conn, device_id=args.device_id, reason=args.reason, now=now)
    return {"device_id": args.device_id, "status": "revoked"}


def _user_enrol(conn: Connection, args: Args, config: ServerConfig, now: int) -> Any:
    enrol_user(conn, NewUser(
        patient_id=args.patient_id, name=args.name, national_id=args.national_id,
        phone=args.phone, category=args.category, card_no=args.card_no,
        credit_limit_fen=args.limit_fen, consent_version=args.consent_version), config, now)
    return patient_view(conn, user_row(conn, args.patient_id)
                                  ).model_dump(mode="json")


def _user_status(status: str) -> Callable[..., Any]:
    def action(conn: Connection, args: Args, config: ServerConfig, now: int) -> Any:
        set_user_status(conn, patient_id=args.patient_id, status=status,
                                  reason=args.reason, actor="admin", now=now)
        gallery.refresh_user(conn, args.patient_id, config.gallery.scope)
        return {"patient_id": args.patient_id, "status": status}
    return action


def _parse_item(text: str) -> NewItem:
    """``kind:description:quantity:unit_fen[:self]`` (``self``: not insurance-eligible)."""
    parts = text.split(":")
    if len(parts) not in (4, 5) or (len(parts) == 5 and parts[4] != "self"):
        raise AdminError(f"item {text!r}: want kind:description:quantity:unit_fen[:self]")
    try:
        quantity, unit = int(parts[2]), int(parts[3])
    except ValueError:
        raise AdminError(f"item {text!r}: quantity and unit_fen are integers") from None
    if parts[0] not in {k.value for k in schemas.ItemKind}:
        raise AdminError(f"item kind must be one of {[k.value for k in schemas.ItemKind]}")
    return NewItem(parts[0], parts[1], quantity, unit, eligible=len(parts) == 4)


def _bill_create(conn: Connection, args: Args, config: ServerConfig, now: int) -> Any:
    bill_id = create_bill(conn, site_id=args.site, patient_id=args.patient,
                                    visit_id=args.visit, config=config, now=now,
                                    items=[_parse_item(i) for i in args.item],
                                    bill_id=args.bill_id)
    gallery.refresh_user(conn, args.patient, config.gallery.scope)
    return {"bill_id": bill_id}


def _voucher_issue(conn: Connection, args: Args, config: ServerConfig, now: int) -> Any:
    return {"patient_id": args.patient, "payload": issue_voucher(
        conn, patient_id=args.patient, ttl_hours=args.ttl_hours, now=now)}


def _voucher_revoke(conn: Connection, args: Args, config: ServerConfig, now: int) -> Any:
    revoke_voucher(conn, payload=args.payload, now=now)
    return {"status": "revoked"}


def _seed_demo(conn: Connection, args: Args, config: ServerConfig, now: int) -> Any:
    return seed.seed_demo(conn, config, now)


def _overdue(conn: Connection, args: Args, config: ServerConfig, now: int) -> Any:
    at = from_datetime(args.as_of) if args.as_of else now
    return {"as_of_ms": at, **ledger.process_overdue(conn, config=config, now=at)}


def _rate(text: str) -> float:
    try:
        rate = float(text.removesuffix("/s"))
    except ValueError:
        raise argparse.ArgumentTypeError("must be a rate such as 5 or 5/s") from None
    if not 0 < rate <= 10_000:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 10000 per second")
    return rate


def cmd_his_simulate(args: argparse.Namespace, config: ServerConfig) -> int:
    from server_stub import his_sim

    url = (args.url or f"http://{config.server.host}:{config.server.port}").rstrip("/")
    try:
        who = his_sim.identity(url, args.state, args.token, args.name)
        patients = [p for p in args.patients.split(",") if p]
        if not patients:
            raise AdminError("--patients: at least one patient id")
        day = args.date or local_day(now_ms(), config.server.timezone)
        bills = his_sim.day_of_bills(args.bills, patients, day, args.seed)
        _emit(his_sim.simulate(url, who, bills, rate=args.rate, amend_every=args.amend_every,
                               cancel_every=args.cancel_every))
    except his_sim.SimError as exc:
        raise PlatformConfigError(str(exc)) from exc
    return EXIT_OK


def cmd_schedule_status(args: argparse.Namespace, config: ServerConfig) -> int:
    from sqlalchemy import select

    from server_stub.clock import to_datetime
    from server_stub.db import job_leases

    db = _database(config)
    try:
        with db.read() as conn:
            rows = list(conn.execute(select(job_leases).order_by(job_leases.c.name)))
    finally:
        db.dispose()

    def at(ms: int | None) -> str | None:
        return to_datetime(ms).isoformat() if ms else None

    _emit({"enabled": config.schedule.enabled, "jobs": [{
        "name": r.name, "runs": r.runs, "running_on": r.holder, "next_due": at(r.next_due_ms),
        "lease_until": at(r.lease_until_ms), "last_started": at(r.last_started_ms),
        "last_finished": at(r.last_finished_ms), "cursor": r.cursor,
        "last_result": json.loads(r.last_result) if r.last_result else None} for r in rows]})
    return EXIT_OK


def cmd_recon(args: argparse.Namespace, config: ServerConfig) -> int:
    db = _database(config)
    with db.read() as conn:
        require_site(conn, args.site)
        report = recon.reconcile(conn, site_id=args.site, day=args.date, config=config)
    db.dispose()
    if args.format == "csv":
        sys.stdout.write(recon.to_csv(report))
    else:
        _emit(report.model_dump(mode="json"))
    return EXIT_OK


def cmd_fleet(args: argparse.Namespace, config: ServerConfig) -> int:
    from server_stub import fleet, heartbeats

    db = _database(config)
    now = now_ms()
    try:
        with db.read() as conn:
            if args.site is not None:
                require_site(conn, args.site)
            entries = heartbeats.fleet(conn, now=now, limits=config.fleet, site_id=args.site)
    finally:
        db.dispose()
    if args.json:
        _emit({"devices": [e.model_dump(mode="json") for e in entries],
               "counts": fleet.counts(entries)})
    else:
        sys.stdout.write(fleet.render(entries, now))
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace, config: ServerConfig) -> int:
    """The chain, and every anchor kept outside it: the anchor file's and the heads devices
    reported (a restored earlier copy of the database lacks them)."""
    from sqlalchemy import select

    from server_stub import anchors as anchor_file
    from server_stub.db import reported_anchors

    path = config.server.audit_anchor_path
    found, unreadable = anchor_file.read(path)
    db = _database(config)
    try:
        with db.read() as conn:
            reported = [audit.Anchor(r.seq, r.hash, f"reported by {r.device_id}")
                        for r in conn.execute(select(reported_anchors))]
            report = audit.verify_chain(conn, [*found, *reported])
    finally:
        db.dispose()
    _emit({"records": report.records, "ok": report.ok, "first_bad_seq": report.first_bad_seq,
           "reason": report.reason, "anchor_file": path, "anchors_checked":
           report.anchors_checked, "anchor_lines_unreadable": unreadable,
           "rollbacks": report.rollbacks})
    if report.rollbacks:
        _fail(f"{report.reason}" + (f" (and {len(report.rollbacks) - 1} more)"
                                    if len(report.rollbacks) > 1 else ""))
    return EXIT_OK if report.ok else EXIT_BAD_INPUT


def cmd_db_upgrade(args: argparse.Namespace, config: ServerConfig) -> int:
    """Migrate the schema to ``--to`` (default: the newest revision); safe while platform
    hosts are running old code only for additive revisions (docs: Platform database)."""
    from server_stub import migrations

    db = _database(config, upgrade=False)
    try:
        before, after = migrations.upgrade(db, args.to)
    finally:
        db.dispose()
    _emit({"from": before, "to": after, "head": migrations.head()})
    return EXIT_OK


def cmd_db_current(args: argparse.Namespace, config: ServerConfig) -> int:
    """The database's revision and the code's newest; exit 2 when they differ."""
    from server_stub import migrations

    db = _database(config, upgrade=False)
    try:
        with db.read() as conn:
            at = migrations.current(conn)
    finally:
        db.dispose()
    newest = migrations.head()
    _emit({"current": at, "head": newest, "up_to_date": at == newest})
    return EXIT_OK if at == newest else EXIT_BAD_INPUT


def cmd_db_revision(args: argparse.Namespace, config: ServerConfig) -> int:
    """Write a new revision: what ``metadata`` has that the existing revisions do not
    build, autogenerated on a scratch SQLite database (review it before committing)."""
    import tempfile

    from alembic import command

    from server_stub import migrations

    with tempfile.TemporaryDirectory() as scratch:
        db = Database(f"sqlite:///{scratch}/scratch.db")
        try:
            with db.migrating() as conn:
                command.upgrade(migrations.alembic_config(conn), "head")
                script = command.revision(migrations.alembic_config(conn), message=args.message,
                                          autogenerate=True, rev_id=migrations.next_id())
        finally:
            db.dispose()
    _emit({"revision": getattr(script, "revision", None), "path": getattr(script, "path", None)})
    return EXIT_OK


def cmd_tls_init(args: argparse.Namespace, config: ServerConfig) -> int:
    """The platform's TLS key and self-signed certificate, where the config (or --cert and
    --key) says; prints the fingerprint the devices will pin."""
    cert_file = args.cert or config.server.tls_cert_file
    key_file = args.key or config.server.tls_key_file
    if not (cert_file and key_file):
        raise PlatformConfigError("no TLS files configured: set [server] tls_cert_file and "
                                  "tls_key_file in the platform's config, or give --cert and --key")
    made = tls.generate(Path(cert_file), Path(key_file), args.name or tls.default_names(),
                        days=args.days, force=args.force)
    _emit(made.describe())
    return EXIT_OK


def cmd_tls_show(args: argparse.Namespace, config: ServerConfig) -> int:
    if not config.server.tls_cert_file:
        raise PlatformConfigError("no TLS certificate configured ([server] tls_cert_file): the "
                                  "platform serves plain HTTP, on loopback only")
    _emit(tls.load(config.server.tls_cert_file, config.server.tls_key_file).describe())
    return EXIT_OK


def cmd_key_show(args: argparse.Namespace, config: ServerConfig) -> int:
    from server_stub.keys import ServerIdentity

    _emit(ServerIdentity.load(config.server.key_file, config.security.crypto_profile)
          .describe().model_dump())
    return EXIT_OK


def _aware(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2026-12-31T00:00:00+08:00")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk-server", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=absolute_path, help="TOML (default: $KIOSK_SERVER_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="serve the API (HTTPS with [server] tls_cert_file; "
                       "plain HTTP on loopback only)")
    p.add_argument("--host")
    p.add_argument("--port", type=_port)
    p.add_argument("--workers", type=_workers, help="processes (default: [server] workers)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("init", help="create the database and keys (run does too)")
    p.set_defaults(func=cmd_init)

    site = sub.add_parser("site", help="hospitals").add_subparsers(dest="sub", required=True)
    p = site.add_parser("create")
    p.add_argument("--code", required=True)
    p.add_argument("--name", required=True)
    p.set_defaults(func=_in_transaction(_site_create))

    device = sub.add_parser("device", help="kiosks and counters").add_subparsers(
        dest="sub", required=True)
    p = device.add_parser("token", help="issue a one-time enrolment token")
    p.add_argument("--site", required=True)
    p.add_argument("--role", choices=[r.value for r in schemas.Role], required=True)
    p.add_argument("--ttl-hours", type=int, default=24)
    p.set_defaults(func=_in_transaction(_device_token))
    p = device.add_parser("revoke", help="every later request from it fails")
    p.add_argument("device_id")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=_in_transaction(_device_revoke))

    user = sub.add_parser("user", help="credit users").add_subparsers(dest="sub", required=True)
    p = user.add_parser("enrol")
    p.add_argument("--patient-id", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--national-id", required=True, help="stored masked only")
    p.add_argument("--phone", required=True, help="stored masked (and last 4) only")
    p.add_argument("--category", choices=[c.value for c in schemas.InsuranceCategory],
                   required=True)
    p.add_argument("--card-no")
    p.add_argument("--limit-fen", type=int)
    p.add_argument("--consent-version", help="credit-pay consent text version signed")
    p.set_defaults(func=_in_transaction(_user_enrol))
    for name, status in (("suspend", "suspended"), ("blacklist", "blacklisted"),
                         ("reinstate", "active")):
        p = user.add_parser(name)
        p.add_argument("patient_id")
        p.add_argument("--reason", required=True)
        p.set_defaults(func=_in_transaction(_user_status(status)))

    p = sub.add_parser("bill", help="bills (stands in for the hospital information system)"
                       ).add_subparsers(dest="sub", required=True).add_parser("create")
    p.add_argument("--site", required=True)
    p.add_argument("--patient", required=True)
    p.add_argument("--visit", required=True)
    p.add_argument("--bill-id")
    p.add_argument("--item", action="append", required=True,
                   help="kind:description:quantity:unit_fen[:self], repeatable")
    p.set_defaults(func=_in_transaction(_bill_create))

    p = sub.add_parser("his", help="a simulated hospital information system").add_subparsers(
        dest="sub", required=True).add_parser(
        "simulate", help="feed a day of signed bills at a rate (a his device of its own)")
    p.add_argument("--url", help="platform base URL (default: [server] host and port)")
    p.add_argument("--state", type=absolute_path, required=True,
                   help="folder keeping the simulator's key and device id")
    p.add_argument("--token", help="his enrolment token, on the first run only")
    p.add_argument("--name", default="his-simulator", help="device name, on the first run")
    p.add_argument("--bills", type=positive_int, default=200)
    p.add_argument("--rate", type=_rate, default=10.0, help="bills per second (N or N/s)")
    p.add_argument("--patients", default=",".join(u[0] for u in seed.DEMO_USERS),
                   help="comma-separated patient ids (default: the demo's)")
    p.add_argument("--date", type=dt.date.fromisoformat, help="the bills' day (default today)")
    p.add_argument("--seed", type=int, default=1, help="same seed: same bill numbers")
    p.add_argument("--amend-every", type=int, default=0, help="amend every Nth bill")
    p.add_argument("--cancel-every", type=int, default=0, help="cancel every Nth bill")
    p.set_defaults(func=cmd_his_simulate)

    voucher = sub.add_parser("voucher", help="e-vouchers (QR)").add_subparsers(
        dest="sub", required=True)
    p = voucher.add_parser("issue")
    p.add_argument("--patient", required=True)
    p.add_argument("--ttl-hours", type=int, default=24)
    p.set_defaults(func=_in_transaction(_voucher_issue))
    p = voucher.add_parser("revoke")
    p.add_argument("payload")
    p.set_defaults(func=_in_transaction(_voucher_revoke))

    p = sub.add_parser("seed", help="demo data").add_subparsers(
        dest="sub", required=True).add_parser("demo")
    p.set_defaults(func=_in_transaction(_seed_demo))

    p = sub.add_parser("recon", help="a day's reconciliation for a site")
    p.add_argument("--site", required=True)
    p.add_argument("--date", type=dt.date.fromisoformat, required=True)
    p.add_argument("--format", choices=["json", "csv"], default="json")
    p.set_defaults(func=cmd_recon)

    p = sub.add_parser("credit", help="credit").add_subparsers(
        dest="sub", required=True).add_parser("overdue", help="suspend/blacklist overdue users")
    p.add_argument("--as-of", type=_aware, help="ISO time with zone (default: now)")
    p.set_defaults(func=_in_transaction(_overdue))

    p = sub.add_parser("schedule", help="the platform's own jobs").add_subparsers(
        dest="sub", required=True).add_parser(
        "status", help="each job: runs, holder, next due time, last result")
    p.set_defaults(func=cmd_schedule_status)

    p = sub.add_parser("fleet", help="every device: ok, degraded or offline, and why")
    p.add_argument("--site", help="one site only")
    p.add_argument("--json", action="store_true", help="one JSON object, reports included")
    p.set_defaults(func=cmd_fleet)

    p = sub.add_parser("audit", help="audit log").add_subparsers(
        dest="sub", required=True).add_parser("verify", help="recompute the hash chain")
    p.set_defaults(func=cmd_audit_verify)

    db = sub.add_parser("db", help="schema migrations (Alembic)").add_subparsers(
        dest="sub", required=True)
    p = db.add_parser("upgrade", help="migrate the schema to the newest revision")
    p.add_argument("--to", default="head", help="a revision id (default: head)")
    p.set_defaults(func=cmd_db_upgrade)
    p = db.add_parser("current", help="the database's revision; exit 2 when not the newest")
    p.set_defaults(func=cmd_db_current)
    p = db.add_parser("revision", help="developers: autogenerate a revision from db.py")
    p.add_argument("-m", "--message", required=True)
    p.set_defaults(func=cmd_db_revision)

    tls_cmd = sub.add_parser("tls", help="the HTTPS certificate devices pin").add_subparsers(
        dest="sub", required=True)
    p = tls_cmd.add_parser("init", help="make the TLS key and a self-signed certificate")
    p.add_argument("--name", action="append", help="a host name or IP address devices use "
                   "for the platform (repeat; default: this machine's names)")
    p.add_argument("--days", type=int, default=tls.DEFAULT_DAYS, help="validity in days")
    p.add_argument("--cert", type=absolute_path, help="default: [server] tls_cert_file")
    p.add_argument("--key", type=absolute_path, help="default: [server] tls_key_file")
    p.add_argument("--force", action="store_true",
                   help="replace existing files (rotation: devices re-pin)")
    p.set_defaults(func=cmd_tls_init)
    p = tls_cmd.add_parser("show", help="the configured certificate's fingerprint and names")
    p.set_defaults(func=cmd_tls_show)

    p = sub.add_parser("key", help="server key").add_subparsers(
        dest="sub", required=True).add_parser("show", help="public key and fingerprint")
    p.set_defaults(func=cmd_key_show)
    return parser


def _fail(message: str) -> None:
    sys.stderr.write(f"kiosk-server: error: {message.splitlines()[0] if message else 'failed'}\n")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
        return int(args.func(args, config) or 0)
    except PlatformConfigError as exc:
        _fail(str(exc))
        return EXIT_SETUP
    except ProtocolError as exc:
        _fail(f"{exc.code}: {exc.message}")
        return EXIT_BAD_INPUT
    except (AdminError, ValueError) as exc:
        _fail(str(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # last resort: one line for the operator, not a traceback
        _fail(f"internal error: {type(exc).__name__}: {exc}")
        return EXIT_INTERNAL
