"""A real platform for the tests: ``python -m server_stub run`` on a free loopback port, a
temporary SQLite file (or a PostgreSQL database of the session's cluster, tests/pg.py), and
devices that sign with ``kiosk.protocol`` like a kiosk would."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from common.net import free_port
from kiosk.protocol.keys import generate_private_key, load_public_key_b64, public_key_b64
from kiosk.protocol.signing import DeviceSigner, ResponseVerifier

if TYPE_CHECKING:
    from server_stub.config import ServerConfig
    from server_stub.storage import Database

HOST = "127.0.0.1"


def write_config(directory: Path, extra: str = "", db_url: str | None = None) -> Path:
    path = directory / "server.toml"
    path.write_text(
        f'[server]\ndb_url = "{db_url or f"sqlite:///{directory}/server.db"}"\n'
        f'key_file = "{directory}/server_key.pem"\ndata_key_file = "{directory}/data.key"\n'
        f"max_body_bytes = 65536\n{extra}", encoding="utf-8")
    return path


def sql(config: Path, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    """The rows of a query on the database of the platform configured by ``config`` (its
    server.toml), on either engine (named ``:param`` placeholders)."""
    from sqlalchemy import create_engine, text

    from server_stub.config import load_config

    engine = create_engine(load_config(config).server.db_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(statement), params)]
    finally:
        engine.dispose()


@contextmanager
def platform_database(config: Path) -> Iterator[tuple[ServerConfig, Database]]:
    """The platform's config and database, opened in this process as its admin commands
    open them (the SQLite writer lock included), closed afterwards."""
    from server_stub.config import load_config
    from server_stub.storage import Database

    loaded = load_config(config)
    db = Database(loaded.server.db_url)
    try:
        yield loaded, db
    finally:
        db.dispose()


def audit_details(config: Path, action: str) -> list[dict[str, Any]]:
    """The details of the platform's audit rows of ``action``, oldest first."""
    return [json.loads(details) for (details,) in sql(
        config, "SELECT details FROM audit_log WHERE action = :a ORDER BY seq", a=action)]


def admin(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The admin CLI as an operator runs it: a separate process on the same database."""
    result = subprocess.run([sys.executable, "-m", "server_stub", "--config", str(config), *args],
                            capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"admin {args} failed: {result.stderr}")
    return result


@dataclass
class Server:
    config: Path
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    seed: dict[str, Any] = field(default_factory=dict)
    log: Path | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def db_file(self) -> Path:
        return self.directory / "server.db"

    def start(self, preexec_fn: Callable[[], None] | None = None) -> None:
        self.log = self.directory / f"server-{time.time_ns()}.log"
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server_stub", "--config", str(self.config), "run",
                 "--host", HOST, "--port", str(self.port)],
                stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,  # its own process group: workers included in kill()
                preexec_fn=preexec_fn)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()}")
            try:
                if requests.get(f"{self.base}/v1/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.05)
        raise AssertionError("server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)

    def kill(self) -> None:
        """SIGKILL to the platform and its worker processes at once: no cleanup, no flush,
        no goodbye."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)

    def admin(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return admin(self.config, *args, check=check)

    def sql(self, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        return sql(self.config, statement, **params)

    def _pg_dsn(self) -> str | None:
        """The libpq connection string of a PostgreSQL platform, None for SQLite."""
        from sqlalchemy.engine import make_url

        from server_stub.config import load_config

        url = make_url(load_config(self.config).server.db_url)
        if url.get_backend_name() != "postgresql":
            return None
        return f"host={url.host} port={url.port} user={url.username} dbname={url.database}"

    def backup(self, to: Path) -> None:
        """A consistent copy of the live database (SQLite's online backup API; pg_dump),
        as a nightly backup job would take it."""
        from tests.pg import bin_dir

        dsn = self._pg_dsn()
        if dsn is not None:
            subprocess.run([str(bin_dir() / "pg_dump"), "-Fc", "-f", str(to), "-d", dsn],
                           check=True, capture_output=True, timeout=120)
            return
        source, copy = sqlite3.connect(self.db_file), sqlite3.connect(to)
        try:
            source.backup(copy)
        finally:
            source.close()
            copy.close()

    def restore(self, copy: Path) -> None:
        """Stop the platform and put an earlier copy of its database back, as an operator
        restoring a backup would (only the database: the anchor file stays)."""
        from tests.pg import bin_dir

        self.stop()
        dsn = self._pg_dsn()
        if dsn is not None:
            subprocess.run([str(bin_dir() / "pg_restore"), "--clean", "--if-exists",
                            "--single-transaction", "-d", dsn, str(copy)],
                           check=True, capture_output=True, timeout=120)
        else:
            for journal in ("-wal", "-shm"):
                Path(f"{self.db_file}{journal}").unlink(missing_ok=True)
            shutil.copyfile(copy, self.db_file)
        self.start()

    def token(self, role: str = "kiosk") -> str:
        """A one-time enrolment token for the seeded site, issued as ``kiosk-server device
        token`` issues it but in this process (a second less than the command, which
        test_his, test_handoffs and test_payments run as IT would)."""
        from server_stub.clock import now_ms
        from server_stub.records.devices import issue_enrolment_token

        with platform_database(self.config) as (_config, db), db.write() as conn:
            return issue_enrolment_token(conn, site_id=self.seed["site_id"], role=role,
                                         ttl_hours=24, now=now_ms())

    def device(self, role: str = "kiosk") -> Device:
        return Device.register(self, self.token(role))


@dataclass
class Device:
    """A registered kiosk or counter: signs every request, verifies every response."""

    server: Server
    device_id: str
    session: requests.Session
    verifier: ResponseVerifier
    role: str

    @classmethod
    def register(cls, server: Server, token: str, name: str = "test-device") -> Device:
        """A key of the platform's crypto profile (protocol §2.1), as a kiosk would make."""
        profile = requests.get(f"{server.base}/v1/server-key", timeout=10).json()[
            "crypto_profile"]
        key = generate_private_key(profile)
        reply = requests.post(f"{server.base}/v1/devices/register", timeout=10, json={
            "token": token, "public_key": public_key_b64(key), "name": name})
        assert reply.status_code == 201, reply.text
        data = reply.json()
        verifier = ResponseVerifier(load_public_key_b64(data["server_key"]["public_key"],
                                                        profile))
        verifier.verify(reply)
        session = requests.Session()
        session.auth = DeviceSigner(data["device_id"], key)
        return cls(server, data["device_id"], session, verifier, data["role"])

    def call(self, method: str, path: str, *, key: str | None = None,
             **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if key is not None:
            headers["Idempotency-Key"] = key
        reply = self.session.request(method, f"{self.server.base}{path}", headers=headers,
                                     timeout=30, **kwargs)
        self.verifier.verify(reply)  # every answer, errors included, is signed by the server
        return reply

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json_body: Any, *, key: str | None = None,
             **kwargs: Any) -> requests.Response:
        return self.call("POST", path, json=json_body, key=key, **kwargs)

    def identify(self, patient_id: str) -> str:
        """This device's identification token for the patient (docs/protocol.md §8.2): by
        the seeded insurance card or e-voucher, else by face once a counter has enrolled a
        template (the face match itself is the kiosk's; the platform checks the gallery)."""
        seeded = {p["patient_id"]: p["card_no"] for p in self.server.seed.get("patients", [])}
        voucher = self.server.seed.get("voucher", {})
        if seeded.get(patient_id):
            reply = self.post("/v1/identify/card", {"card_no": seeded[patient_id]})
        elif voucher.get("patient_id") == patient_id:
            reply = self.post("/v1/identify/voucher", {"payload": voucher["payload"]})
        else:
            counter = self.server.device("counter")
            enrolled = counter.post(f"/v1/patients/{patient_id}/templates", {
                "template": face_template(patient_id), "consent": {
                    "text_version": "face-pay-v1", "consented_at": "2026-01-01T00:00:00+00:00"}})
            assert enrolled.status_code == 201, enrolled.text
            reply = self.post("/v1/identify/face", {"patient_id": patient_id, "pack": PACK})
        assert reply.status_code == 200, reply.text
        return str(reply.json()["identification"]["token"])

    def bills(self, patient_id: str) -> requests.Response:
        """``GET …/bills`` as a kiosk sends it after identifying the patient."""
        return self.get(f"/v1/patients/{patient_id}/bills",
                        params={"identification": self.identify(patient_id)})

    def settle(self, bill_id: str, patient_id: str, method: str = "card",
               key: str | None = None, **extra: Any) -> requests.Response:
        return self.post("/v1/settlements", {"bill_id": bill_id, "patient_id": patient_id,
                                             "method": method, **extra},
                         key=key or str(uuid.uuid4()))


PACK = "opencv-zoo-sface"


def face_template(patient_id: str, dim: int = 128) -> dict[str, Any]:
    """A well-formed template, different for each patient."""
    seed = (sum(patient_id.encode()) % 97) / 97
    values = [seed + i / dim for i in range(dim)]
    return {"pack": PACK, "dim": dim,
            "vector": base64.b64encode(struct.pack(f"<{dim}f", *values)).decode()}


def error_code(reply: requests.Response) -> str:
    return str(reply.json()["error"]["code"])


def start_server(directory: Path, extra_config: str = "", seed: bool = True,
                 db_url: str | None = None) -> Server:
    config = write_config(directory, extra_config, db_url)
    server = Server(config=config, directory=directory, port=free_port())
    admin(config, "init")
    if seed:
        server.seed = json.loads(admin(config, "seed", "demo").stdout)
    server.start()
    return server


def another_host(server: Server, directory: Path, extra_config: str = "") -> Server:
    """One more platform host on ``server``'s database, as another machine would run it:
    its own folder, port and logs, the same provisioned key files, nothing else shared."""
    from server_stub.config import load_config

    for name in ("server_key.pem", "data.key"):
        shutil.copyfile(server.directory / name, directory / name)
    url = load_config(server.config).server.db_url
    host = Server(config=write_config(directory, extra_config, url), directory=directory,
                  port=free_port(), seed=server.seed)
    host.start()
    return host


def make_bill(server: Server, patient_id: str, items: list[tuple[str, int, int, bool]],
              bill_id: str | None = None) -> str:
    """A pending bill, written to the platform's database as the hospital system would."""
    from server_stub import gallery
    from server_stub.clock import now_ms
    from server_stub.records.bills import NewItem, create_bill

    with platform_database(server.config) as (config, db), db.write() as conn:
        made = create_bill(conn, site_id=server.seed["site_id"], patient_id=patient_id,
                           visit_id=f"V-{uuid.uuid4().hex[:8]}", config=config,
                           now=now_ms(), bill_id=bill_id,
                           items=[NewItem(kind, "item", qty, unit, eligible)
                                  for kind, qty, unit, eligible in items])
        gallery.refresh_user(conn, patient_id, config.gallery.scope)
    return made


def seed_load(server: Server, *, patients: int, bills_each: int,
              tokens: int) -> tuple[list[tuple[str, str]], list[str]]:
    """Many pending bills and enrolment tokens at once, written as the admin CLI would."""
    from server_stub.clock import now_ms
    from server_stub.records.bills import NewItem, create_bill
    from server_stub.records.devices import issue_enrolment_token
    from server_stub.records.patients import NewUser, enrol_user

    made: list[tuple[str, str]] = []
    with platform_database(server.config) as (config, db), db.write() as conn:
        now, site = now_ms(), server.seed["site_id"]
        for p in range(patients):
            pid = f"LD{p:03d}"
            enrol_user(conn, NewUser(pid, "负载", f"33078419900101{p:04d}", f"1370000{p:04d}",
                                     "resident", credit_limit_fen=500_000_000), config, now)
            for b in range(bills_each):
                made.append((create_bill(
                    conn, site_id=site, patient_id=pid, visit_id=f"V{p}-{b}", config=config,
                    now=now, items=[NewItem("exam", "e", 1, 10_000 + b, True),
                                    NewItem("other", "o", 1, 77, False)]), pid))
        issued = [issue_enrolment_token(conn, site_id=site, role="counter", ttl_hours=1,
                                        now=now) for _ in range(tokens)]
    return made, issued
