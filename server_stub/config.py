"""The platform's own TOML config (it may not import ``kiosk.config``: only the protocol is shared).

Every key has a safe default, so an empty file (or none) runs a development server with
SQLite in WAL mode under ./var. Relative paths in a file are relative to that file's folder.
Unknown sections and keys, wrong types and out-of-range values are errors naming the file,
the line and the key (``common.config_loader``, the kiosk's loader too).
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url

from common.config_loader import ConfigError, load_file
from common.errors import ErrorCode
from common.paths import absolute_path
from kiosk.protocol.crypto_profile import PROFILES
from kiosk.protocol.schemas import MAX_FEN, GalleryScope, InsuranceCategory


class PlatformConfigError(ConfigError):
    """The platform's config, or a setting of an admin command, cannot be used."""

    code = ErrorCode.SERVER_CONFIG_INVALID


@dataclass(frozen=True)
class ServerSection:
    host: str = "127.0.0.1"
    port: int = 8600
    db_url: str = "sqlite:///var/server.db"
    # response-signing key (created on first run): Ed25519, or SM2 under crypto_profile "gm"
    key_file: str = "var/server_key.pem"
    # key for face templates at rest (created on first run): AES-256-GCM, or SM4-GCM under "gm"
    data_key_file: str = "var/data_key.bin"
    max_body_bytes: int = 256 * 1024
    timezone: str = "Asia/Shanghai"  # what "a day" means for reconciliation
    log_level: str = "INFO"
    # JSON lines, one size-rotated file per process (server.jsonl, server.2.jsonl, ...:
    # workers never rotate a file another process writes); also on stderr
    log_dir: str = "var/logs"
    # processes serving requests: each holds the GIL of one core; nonces, idempotency keys
    # and the audit chain live in the database, so they agree across processes
    workers: int = 1
    # `Authorization: Bearer <token>` opens /metrics; empty: /metrics is 404
    metrics_token: str = ""
    # the head of every money reply, appended outside the database (server_stub/anchors.py);
    # empty: beside the SQLite file, `<db>.anchors.jsonl` (var/audit.anchors.jsonl otherwise).
    # Keep it out of database backups and restores: that is what makes a rollback visible.
    audit_anchor_path: str = ""
    # HTTPS (server_stub/tls.py, `kiosk-server tls init`): both or neither; required unless
    # `host` is loopback, and set on loopback too it forces TLS there
    tls_cert_file: str = ""
    tls_key_file: str = ""

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if not 0 < self.port < 65536:
            errors.append(("port", "must be 1-65535"))
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            errors.append(("tls_cert_file", "and 'server.tls_key_file' go together: set both "
                           "or neither"))
        if self.metrics_token and not (16 <= len(self.metrics_token) <= 256
                                       and self.metrics_token.isascii()
                                       and self.metrics_token.isprintable()
                                       and " " not in self.metrics_token):
            errors.append(("metrics_token", "must be 16-256 visible ASCII characters"))
        if not 1 <= self.workers <= 64:
            errors.append(("workers", "must be 1-64"))
        if not 1024 <= self.max_body_bytes <= 64 * 1024 * 1024:
            errors.append(("max_body_bytes", "must be between 1 KiB and 64 MiB"))
        if self.audit_anchor_path.endswith(("/", os.sep)) or "\0" in self.audit_anchor_path:
            errors.append(("audit_anchor_path", "must name a file"))
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(("timezone", f"unknown time zone {self.timezone!r}"))
        return errors


@dataclass(frozen=True)
class SecuritySection:
    # "ed25519" (Ed25519, SHA-256, AES-256-GCM) or "gm" (国密: SM2, SM3, SM4-GCM), protocol
    # §2.1; every device must be provisioned under the same profile
    crypto_profile: str = "ed25519"
    skew_seconds: int = 300
    idempotency_retention_hours: int = 48
    second_factor_attempts: int = 3  # per kiosk session and patient, then locked
    second_factor_daily_failures: int = 10  # per patient per day, across sessions
    rate_limit_per_minute: int = 600  # signed requests per device per minute (server_stub/guard)
    lockout_failures: int = 20  # failed authentications of one device within lockout_window_s
    lockout_window_s: int = 60
    lockout_s: int = 300  # ... lock it out this long
    # how long a kiosk may read a patient's bills and credit after identifying them
    # (server_stub/identification.py): a checkout or a repayment at the kiosk, not a day
    identification_ttl_s: int = 900

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if self.crypto_profile not in PROFILES:
            errors.append(("crypto_profile", f"must be one of {', '.join(PROFILES)}"))
        if not 10 <= self.rate_limit_per_minute <= 100_000:
            errors.append(("rate_limit_per_minute", "must be 10-100000"))
        if not 3 <= self.lockout_failures <= 1000:
            errors.append(("lockout_failures", "must be 3-1000"))
        if not 1 <= self.lockout_window_s <= 3600:
            errors.append(("lockout_window_s", "must be 1-3600"))
        if not 1 <= self.lockout_s <= 86_400:
            errors.append(("lockout_s", "must be 1-86400"))
        if not 60 <= self.identification_ttl_s <= 3600:
            errors.append(("identification_ttl_s", "must be 60-3600"))
        if not 30 <= self.skew_seconds <= 3600:
            errors.append(("skew_seconds", "must be 30-3600"))
        if self.idempotency_retention_hours < 24:
            errors.append(("idempotency_retention_hours", "must be at least 24"))
        if not 1 <= self.second_factor_attempts <= 10:
            errors.append(("second_factor_attempts", "must be 1-10"))
        if self.second_factor_daily_failures < self.second_factor_attempts:
            errors.append(("second_factor_daily_failures", "must be >= second_factor_attempts"))
        return errors


@dataclass(frozen=True)
class GallerySection:
    scope: str = GalleryScope.OPEN_BILLS.value
    page_size: int = 500

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if self.scope not in {s.value for s in GalleryScope}:
            errors.append(("scope", f"must be one of {[s.value for s in GalleryScope]}"))
        if not 1 <= self.page_size <= 5000:
            errors.append(("page_size", "must be 1-5000"))
        return errors


@dataclass(frozen=True)
class CreditSection:
    default_limit_fen: int = 200_000  # 2,000 yuan
    repayment_days: int = 30
    blacklist_after_overdue: int = 3  # overdue episodes before the 黑名单
    max_bill_fen: int = 100_000_000  # 1,000,000 yuan: larger bills are refused as absurd

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if not 0 <= self.default_limit_fen <= MAX_FEN:
            errors.append(("default_limit_fen", f"must be 0-{MAX_FEN}"))
        if not 1 <= self.repayment_days <= 365:
            errors.append(("repayment_days", "must be 1-365"))
        if self.blacklist_after_overdue < 1:
            errors.append(("blacklist_after_overdue", "must be at least 1"))
        if not 1 <= self.max_bill_fen <= MAX_FEN:
            errors.append(("max_bill_fen", f"must be 1-{MAX_FEN}"))
        return errors


@dataclass(frozen=True)
class FleetSection:
    """When a device that still sends heartbeats counts as degraded (``server_stub.fleet``)."""

    outbox_oldest_s: int = 900  # a settlement undelivered this long: the link is bad
    clock_offset_s: int = 30  # receipts and signatures depend on the clock
    min_disk_free_mb: int = 1024

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if not 10 <= self.outbox_oldest_s <= 7 * 86400:
            errors.append(("outbox_oldest_s", "must be 10 s to 7 days"))
        if not 1 <= self.clock_offset_s <= 3600:
            errors.append(("clock_offset_s", "must be 1-3600"))
        if self.min_disk_free_mb < 0:
            errors.append(("min_disk_free_mb", "must not be negative"))
        return errors


@dataclass(frozen=True)
class HandoffSection:
    """A kiosk that hands several sessions over for the same reason within the window is one
    problem at one place: the counter sees one hand-off with a count (``server_stub.handoffs``)."""

    merge_window_s: int = 300  # 0: every session is a hand-off of its own

    def validate(self) -> list[tuple[str, str]]:
        if not 0 <= self.merge_window_s <= 3600:
            return [("merge_window_s", "must be 0-3600 seconds")]
        return []


@dataclass(frozen=True)
class ScheduleSection:
    """Jobs the platform runs itself (server_stub/scheduler.py): every serving process runs
    the scheduler, and a lease row in the database lets one of them execute each job."""

    enabled: bool = True
    tick_s: int = 30  # how often each process looks for a due job
    lease_s: int = 600  # a job whose holder died is taken over after this long
    overdue_every_s: int = 3600  # overdue -> suspended -> blacklisted
    reminders_every_s: int = 3600
    purge_every_s: int = 600  # spent nonces and expired idempotency keys
    recon_export_at: str = "01:30"  # local time (server.timezone) of the daily export
    recon_export_dir: str = "var/recon"  # one CSV per site and day (the day before)

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if not 1 <= self.tick_s <= 3600:
            errors.append(("tick_s", "must be 1-3600"))
        if not 10 <= self.lease_s <= 86_400:
            errors.append(("lease_s", "must be 10-86400"))
        for name in ("overdue_every_s", "reminders_every_s", "purge_every_s"):
            if not 10 <= getattr(self, name) <= 86_400:
                errors.append((name, "must be 10-86400 seconds"))
        hour, _, minute = self.recon_export_at.partition(":")
        if not (hour.isdigit() and minute.isdigit() and len(minute) == 2
                and int(hour) < 24 and int(minute) < 60):
            errors.append(("recon_export_at", "must be HH:MM"))
        if not self.recon_export_dir:
            errors.append(("recon_export_dir", "must name a folder"))
        return errors


@dataclass(frozen=True)
class RemindersSection:
    """Repayment reminders (server_stub/reminders.py): before, on and after the due day."""

    days_before: int = 3  # the "before" reminder goes out this many days ahead of the due day
    gateway: str = "simulator"  # the SMS gateway adapter (server_stub/notify.py)
    # the simulator's record of what it would have sent, one JSON line each;
    # empty: beside the SQLite file, `<db>.sms-outbox.jsonl` (var/sms-outbox.jsonl otherwise)
    outbox_path: str = ""
    signature: str = "【先看病后付费】"  # the SMS signature (签名) that opens every text
    max_attempts: int = 3  # a gateway failure is retried on later runs, then left failed

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if not 1 <= self.days_before <= 30:
            errors.append(("days_before", "must be 1-30"))
        if self.gateway not in ("simulator",):
            errors.append(("gateway", "must be 'simulator' (the only adapter shipped)"))
        if not 1 <= self.max_attempts <= 10:
            errors.append(("max_attempts", "must be 1-10"))
        if not 0 < len(self.signature) <= 16:
            errors.append(("signature", "must be 1-16 characters"))
        return errors


PROVIDERS = ("", "simulated")  # "": no repayment at kiosks; a real provider adds its name


@dataclass(frozen=True)
class PaymentsSection:
    """The payment provider kiosk repayments go through (``server_stub.payments``). The
    simulated one speaks the WeChat Pay v3 shape: its API at ``api_base``, notifications
    signed with its key (``provider_cert_file``) and encrypted with the shared APIv3 key."""

    provider: str = ""
    api_base: str = "http://127.0.0.1:8700"
    merchant_id: str = "1900000001"
    merchant_token_file: str = "var/payments/merchant.token"  # the merchant API credential
    api_v3_key_file: str = "var/payments/apiv3.key"  # 32 bytes: notification resources
    provider_cert_file: str = "var/payments/provider_cert.pem"  # verifies notifications
    # where the provider posts notifications: the platform's public callback as seen from it
    notify_url: str = "http://127.0.0.1:8600/v1/payments/notify"
    order_ttl_s: int = 180  # a payment QR is payable this long
    notification_max_age_s: int = 300  # older Wechatpay-Timestamp: refused as a replay
    timeout_s: int = 5  # each call to the provider's API

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if self.provider not in PROVIDERS:
            errors.append(("provider", f"must be one of {list(PROVIDERS)}"))
        if not 30 <= self.order_ttl_s <= 3600:
            errors.append(("order_ttl_s", "must be 30-3600"))
        if not 30 <= self.notification_max_age_s <= 3600:
            errors.append(("notification_max_age_s", "must be 30-3600"))
        for name in ("api_base", "notify_url"):
            if not getattr(self, name).startswith(("http://", "https://")):
                errors.append((name, "must be an http(s) URL"))
        return errors


@dataclass(frozen=True)
class CategoryPolicy:
    """One insurance category's rules. Ratios are basis points (8072 = 80.72 %)."""

    deductible_fen: int = 0  # per bill, borne by the patient before the basic pool pays
    basic_ratio_bp: int = 8072
    basic_annual_cap_fen: int = 20_000_000
    critical_threshold_fen: int = 1_500_000  # per bill, eligible cost left after basic
    critical_ratio_bp: int = 6000
    critical_annual_cap_fen: int = 30_000_000
    aid_ratio_bp: int = 0  # medical aid on what is still left (poverty relief)
    aid_annual_cap_fen: int = 0

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        for name in ("basic_ratio_bp", "critical_ratio_bp", "aid_ratio_bp"):
            if not 0 <= getattr(self, name) <= 10_000:
                errors.append((name, "must be 0-10000 basis points"))
        for name in ("deductible_fen", "basic_annual_cap_fen", "critical_threshold_fen",
                     "critical_annual_cap_fen", "aid_annual_cap_fen"):
            if not 0 <= getattr(self, name) <= MAX_FEN:
                errors.append((name, f"must be 0-{MAX_FEN} fen"))
        return errors


@dataclass(frozen=True)
class PolicySection:
    """Seed figures: employees 80.72 %, residents 72.17 %, poverty relief ≈ 90 % overall."""

    employee: CategoryPolicy = field(default_factory=lambda: CategoryPolicy(
        deductible_fen=1_000, basic_ratio_bp=8072, basic_annual_cap_fen=20_000_000))
    resident: CategoryPolicy = field(default_factory=lambda: CategoryPolicy(
        deductible_fen=2_000, basic_ratio_bp=7217, basic_annual_cap_fen=10_000_000))
    poverty_relief: CategoryPolicy = field(default_factory=lambda: CategoryPolicy(
        deductible_fen=0, basic_ratio_bp=7217, basic_annual_cap_fen=10_000_000,
        aid_ratio_bp=6407, aid_annual_cap_fen=5_000_000))

    def for_category(self, category: InsuranceCategory | str) -> CategoryPolicy:
        return typing.cast(CategoryPolicy, getattr(self, InsuranceCategory(category).value))


@dataclass(frozen=True)
class ServerConfig:
    server: ServerSection = field(default_factory=ServerSection)
    security: SecuritySection = field(default_factory=SecuritySection)
    gallery: GallerySection = field(default_factory=GallerySection)
    credit: CreditSection = field(default_factory=CreditSection)
    policy: PolicySection = field(default_factory=PolicySection)
    fleet: FleetSection = field(default_factory=FleetSection)
    handoffs: HandoffSection = field(default_factory=HandoffSection)
    payments: PaymentsSection = field(default_factory=PaymentsSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)
    reminders: RemindersSection = field(default_factory=RemindersSection)
    source: str = ""


def load_config(path: str | Path | None = None) -> ServerConfig:
    """``path``, else $KIOSK_SERVER_CONFIG, else all defaults."""
    chosen = path if path is not None else os.environ.get("KIOSK_SERVER_CONFIG")
    if not chosen:
        return absolute_paths(ServerConfig(), Path.cwd())
    chosen = absolute_path(chosen)
    return absolute_paths(load_file(chosen, ServerConfig(), PlatformConfigError), chosen.parent)


def absolute_paths(config: ServerConfig, base: Path) -> ServerConfig:
    """The database file, key files and log folder made absolute against ``base`` (the config file's
    folder, or the working directory for the defaults): an admin command run from another
    folder, or a worker process, must open the same files."""
    server = config.server
    url = make_url(server.db_url)
    db_file: Path | None = None
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        db_file = absolute_path(base / url.database)
        url = url.set(database=str(db_file))
    if server.audit_anchor_path:
        anchors = absolute_path(base / server.audit_anchor_path)
    elif db_file is not None:
        anchors = db_file.with_name(db_file.name + ".anchors.jsonl")
    else:
        anchors = absolute_path(base / "var" / "audit.anchors.jsonl")
    if db_file is not None and str(anchors) in {f"{db_file}{suffix}" for suffix in (
            "", "-wal", "-shm", "-journal")}:
        raise PlatformConfigError(f"{config.source or 'config'}: 'server.audit_anchor_path' "
                                  "must not be the database file or one of its journals")
    outbox = (absolute_path(base / config.reminders.outbox_path) if config.reminders.outbox_path
              else Path(f"{db_file}.sms-outbox.jsonl") if db_file is not None
              else absolute_path(base / "var" / "sms-outbox.jsonl"))
    config = dataclasses.replace(
        config, reminders=dataclasses.replace(config.reminders, outbox_path=str(outbox)),
        schedule=dataclasses.replace(config.schedule, recon_export_dir=str(
            absolute_path(base / config.schedule.recon_export_dir))))
    return dataclasses.replace(config, server=dataclasses.replace(
        server, db_url=url.render_as_string(hide_password=False),
        key_file=str(absolute_path(base / server.key_file)),
        tls_cert_file=str(absolute_path(base / server.tls_cert_file)) if server.tls_cert_file
        else "",
        tls_key_file=str(absolute_path(base / server.tls_key_file)) if server.tls_key_file
        else "",
        data_key_file=str(absolute_path(base / server.data_key_file)),
        log_dir=str(absolute_path(base / server.log_dir)), audit_anchor_path=str(anchors)),
        payments=dataclasses.replace(config.payments, **{
            name: str(absolute_path(base / getattr(config.payments, name))) for name in (
                "merchant_token_file", "api_v3_key_file", "provider_cert_file")}))
