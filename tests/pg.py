"""Throwaway PostgreSQL clusters for the tests and benchmarks, made with the machine's own
binaries (``initdb``/``pg_ctl`` of the Debian ``postgresql`` package) in a temporary folder
on a free loopback port. PostgreSQL refuses to run as root, so as root the cluster belongs
to the ``postgres`` system user and every server command runs through ``runuser``.

One cluster serves a whole test session; each test gets a database of its own
(``Cluster.database()``), which is far cheaper than a cluster each.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

from common.net import free_port

HOST = "127.0.0.1"
SUPERUSER = "postgres"


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's binaries, or None when there are none."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                      else 0)
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", SUPERUSER, "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], *, timeout: float = 120) -> None:
    done = subprocess.run(_as_owner(argv), capture_output=True, text=True, timeout=timeout,
                          cwd="/")
    if done.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} failed ({done.returncode}): "
                           f"{done.stderr.strip() or done.stdout.strip()}")


def _private_dir(prefix: str) -> Path:
    """A folder the cluster's owner can write and nobody else can read."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(path, SUPERUSER, SUPERUSER)
    return path


@dataclass
class Cluster:
    data: Path
    port: int
    bin: Path
    name: str = "primary"

    @classmethod
    def create(cls, *, settings: dict[str, str] | None = None) -> Cluster:
        """A new primary, started. ``settings`` go to postgresql.conf."""
        binaries = bin_dir()
        if binaries is None:
            raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        home = _private_dir("kiosk-pg-")
        data = home / "primary"
        _run([str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
              "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        cluster = cls(data, free_port(HOST), binaries)
        cluster.configure({"max_connections": "300", "shared_buffers": "64MB",
                           "max_wal_senders": "4", "wal_level": "replica",
                           "hot_standby": "on", "wal_keep_size": "256MB",
                           **(settings or {})})
        cluster.start()
        return cluster

    def configure(self, settings: dict[str, str]) -> None:
        lines = [f"{key} = '{value}'" for key, value in {
            "listen_addresses": HOST, "port": str(self.port),
            "unix_socket_directories": str(self.data), **settings}.items()]
        with (self.data / "postgresql.auto.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n".join(lines) + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.data / "postgresql.auto.conf", SUPERUSER, SUPERUSER)

    def standby(self, name: str = "standby1") -> Cluster:
        """A streaming hot standby of this cluster (``pg_basebackup -R``), started; it is
        synchronous once the primary names it in ``synchronous_standby_names``."""
        data = self.data.parent / name
        _run([str(self.bin / "pg_basebackup"), "-D", str(data), "-h", HOST, "-p",
              str(self.port), "-U", SUPERUSER, "-X", "stream", "-R", "--no-sync"])
        standby = Cluster(data, free_port(HOST), self.bin, name)
        # the copy carries the primary's settings: once promoted, a standby still naming
        # a synchronous standby of its own would wait for it at every commit, for ever
        standby.configure({"primary_conninfo": f"host={HOST} port={self.port} "
                           f"user={SUPERUSER} application_name={name}",
                           "synchronous_standby_names": ""})
        standby.start()
        return standby

    def start(self) -> None:
        _run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
              str(self.data / "server.log"), "-w", "-t", "60", "start"])

    def running(self) -> bool:
        pid_file = self.data / "postmaster.pid"
        return pid_file.exists() and Path(f"/proc/{pid_file.read_text().split()[0]}").exists()

    def stop(self) -> None:
        if self.running():
            _run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                  "stop"])

    def promote(self) -> None:
        _run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "promote"])

    def kill(self) -> None:
        """SIGKILL to the postmaster and every backend at once, as a power cut would."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for victim in (pid, *map(int, children)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.02)

    def destroy(self) -> None:
        """Stop it and delete its files (a primary's folder holds its standbys' too)."""
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)
        if self.name == "primary":
            for other in self.data.parent.iterdir():
                Cluster(other, 0, self.bin, other.name).stop()
            shutil.rmtree(self.data.parent, ignore_errors=True)

    def dsn(self, database: str = "postgres") -> str:
        return f"host={HOST} port={self.port} user={SUPERUSER} dbname={database}"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> list[tuple[object, ...]]:
        with psycopg.connect(self.dsn(database), autocommit=True) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def database(self, prefix: str = "t") -> str:
        """A new empty database; its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def multi_host_url(database: str, *clusters: Cluster) -> str:
    """A libpq multi-host URL: the client connects to whichever host is the primary."""
    hosts = ",".join(HOST for _ in clusters)
    ports = ",".join(str(c.port) for c in clusters)
    return (f"postgresql+psycopg://{SUPERUSER}@/{database}?host={hosts}&port={ports}"
            "&target_session_attrs=read-write&connect_timeout=2")
