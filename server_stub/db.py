"""The platform's schema: SQLAlchemy Core tables, the counters and the audit chain's head
(the transactions are server_stub/storage.py's, the group-commit writer server_stub/writer.py's).

Timestamps are integer milliseconds since the epoch (UTC) and money integer fen, so nothing
depends on a database's date or decimal types.

A new or changed table needs an Alembic revision too (server_stub/migrations/versions/);
tests/server/test_migrations.py fails until the revisions build exactly these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    update,
)

metadata = MetaData()

sites = Table(
    "sites", metadata,
    Column("site_id", String(64), primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

devices = Table(
    "devices", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("site_id", String(64), ForeignKey("sites.site_id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("name", String(64), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # active | revoked
    Column("registered_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger),
    Column("revoke_reason", String(200)),
)

enrolment_tokens = Table(
    "enrolment_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 hex: the token is not kept
    Column("site_id", String(64), ForeignKey("sites.site_id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("issued_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("used_ms", BigInteger),
    Column("device_id", String(64)),
)

users = Table(
    "users", metadata,
    Column("patient_id", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("national_id_masked", String(32), nullable=False),
    Column("phone_masked", String(32), nullable=False),
    Column("phone_last4", String(4), nullable=False),
    Column("card_no", String(32), unique=True),
    Column("category", String(16), nullable=False),
    Column("credit_limit_fen", BigInteger, nullable=False),
    Column("outstanding_fen", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_reason", String(64)),
    Column("overdue_count", Integer, nullable=False),
    Column("consent_version", String(32)),
    Column("consent_ms", BigInteger),
    Column("consent_withdrawn_ms", BigInteger),
    Column("created_ms", BigInteger, nullable=False),
)

templates = Table(
    "templates", metadata,
    Column("patient_id", String(64), ForeignKey("users.patient_id"), primary_key=True),
    Column("pack", String(64), primary_key=True),
    Column("dim", Integer, nullable=False),
    # AES-256-GCM (SM4-GCM under the gm crypto profile): nonce + ciphertext + tag
    Column("sealed", LargeBinary, nullable=False),
    Column("enrolled_ms", BigInteger, nullable=False),
)

relatives = Table(  # 亲情付: a patient's recorded consent that a relative may pay for them
    "relatives", metadata,
    Column("patient_id", String(64), ForeignKey("users.patient_id"), primary_key=True),
    Column("relative_id", String(64), ForeignKey("users.patient_id"), primary_key=True),
    Column("relation", String(16), nullable=False),
    Column("consent_version", String(64), nullable=False),
    Column("consented_ms", BigInteger, nullable=False),
    Column("authorised_ms", BigInteger, nullable=False),
    Column("authorised_by", String(80), nullable=False),
    Column("withdrawn_ms", BigInteger),
    Column("withdrawn_by", String(80)),
)

gallery_entries = Table(
    "gallery_entries", metadata,
    Column("site_id", String(64), primary_key=True),
    Column("pack", String(64), primary_key=True),
    Column("patient_id", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("present", Boolean, nullable=False),
    Index("ix_gallery_sync", "site_id", "pack", "version"),
    # a user's rows, read at every settlement (gallery.refresh_user): without it, a scan
    # of every site's gallery (316,800 rows at city scale) inside the money transaction
    Index("ix_gallery_patient", "patient_id"),
)

bills = Table(
    "bills", metadata,
    Column("bill_id", String(64), primary_key=True),
    Column("site_id", String(64), ForeignKey("sites.site_id"), nullable=False),
    Column("patient_id", String(64), ForeignKey("users.patient_id"), nullable=False),
    Column("visit_id", String(64), nullable=False),
    Column("category", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # pending | settled
    Column("total_fen", BigInteger, nullable=False),
    Column("eligible_fen", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("settlement_id", String(64)),
    Index("ix_bills_patient", "patient_id", "site_id", "status"),
)

bill_items = Table(
    "bill_items", metadata,
    Column("bill_id", String(64), ForeignKey("bills.bill_id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("description", String(128), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_fen", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("eligible", Boolean, nullable=False),
)

settlements = Table(
    "settlements", metadata,
    Column("settlement_id", String(64), primary_key=True),
    Column("receipt_no", String(48), nullable=False, unique=True),
    Column("bill_id", String(64), ForeignKey("bills.bill_id"), nullable=False, index=True),
    Column("site_id", String(64), nullable=False),
    Column("patient_id", String(64), nullable=False, index=True),
    Column("device_id", String(64), nullable=False),
    Column("method", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # settled | reversed
    Column("total_fen", BigInteger, nullable=False),
    Column("basic_pool_fen", BigInteger, nullable=False),
    Column("critical_illness_fen", BigInteger, nullable=False),
    Column("medical_aid_fen", BigInteger, nullable=False),
    Column("self_pay_fen", BigInteger, nullable=False),
    Column("charge_to_credit_fen", BigInteger, nullable=False),
    Column("pay_at_counter_fen", BigInteger, nullable=False),
    Column("year", Integer, nullable=False),
    Column("settled_ms", BigInteger, nullable=False),
    Column("reversed_ms", BigInteger),
    Column("reverse_reason", String(200)),
    Column("reversed_by", String(64)),
    Column("refund_fen", BigInteger),
    Index("ix_settlements_site_day", "site_id", "settled_ms"),
    Index("ix_settlements_site_reversed", "site_id", "reversed_ms"),
)

credit_charges = Table(
    "credit_charges", metadata,
    Column("settlement_id", String(64), ForeignKey("settlements.settlement_id"),
           primary_key=True),
    Column("patient_id", String(64), nullable=False, index=True),
    Column("amount_fen", BigInteger, nullable=False),
    Column("repaid_fen", BigInteger, nullable=False),
    Column("due_ms", BigInteger, nullable=False),
    Column("cancelled", Boolean, nullable=False),
)

repayments = Table(
    "repayments", metadata,
    Column("repayment_id", String(64), primary_key=True),
    Column("patient_id", String(64), ForeignKey("users.patient_id"), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("method", String(16), nullable=False),
    Column("reference", String(64)),
    Column("received_ms", BigInteger, nullable=False),
    Column("actor", String(80), nullable=False),
)

repayment_orders = Table(  # a kiosk's payment QR at the provider (server_stub/repayment_orders)
    "repayment_orders", metadata,
    Column("order_id", String(64), primary_key=True),  # the provider's out_trade_no
    Column("site_id", String(64), ForeignKey("sites.site_id"), nullable=False),
    Column("device_id", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("patient_id", String(64), ForeignKey("users.patient_id"), nullable=False),
    Column("settlement_id", String(64)),  # the charge chosen first, if any
    Column("amount_fen", BigInteger, nullable=False),
    Column("provider", String(32), nullable=False),
    Column("code_url", String(512), nullable=False),
    Column("state", String(16), nullable=False),  # open | paid | failed | closed | expired
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("ended_ms", BigInteger),
    Column("transaction_id", String(64), unique=True),  # the provider's: credited once
    Column("repayment_id", String(64), ForeignKey("repayments.repayment_id")),
    Column("refund_id", String(64)),  # money the provider took that was not credited
    Column("refund_fen", BigInteger),
    Column("paid_by", String(64)),  # a relative paying for the patient (亲情付), if one
    Index("ix_repayment_orders_open", "state", "expires_ms"),
)

vouchers = Table(
    "vouchers", metadata,
    Column("token", String(32), primary_key=True),
    Column("patient_id", String(64), ForeignKey("users.patient_id"), nullable=False),
    Column("issued_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger),
)

second_factor_failures = Table(
    "second_factor_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False),
    Column("session_id", String(64), nullable=False),
    Column("patient_id", String(64), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Index("ix_sf_session", "device_id", "session_id", "patient_id"),
    Index("ix_sf_patient", "patient_id", "at_ms"),
)

handoffs = Table(
    "handoffs", metadata,
    Column("handoff_id", String(64), primary_key=True),
    Column("site_id", String(64), ForeignKey("sites.site_id"), nullable=False),
    Column("kiosk_id", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("session_id", String(64), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("taken_by", String(64), ForeignKey("devices.device_id")),
    Column("taken_ms", BigInteger),
    Index("ux_handoffs_session", "kiosk_id", "session_id", unique=True),
    Index("ix_handoffs_site_day", "site_id", "created_ms"),
)

handoff_sessions = Table(  # sessions merged into an earlier open hand-off of their kiosk
    "handoff_sessions", metadata,
    Column("kiosk_id", String(64), ForeignKey("devices.device_id"), primary_key=True),
    Column("session_id", String(64), primary_key=True),
    Column("handoff_id", String(64), ForeignKey("handoffs.handoff_id"), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_handoff_sessions_handoff", "handoff_id"),
)

handoff_patients = Table(  # who and how much, when the kiosk knew (after a look-up)
    "handoff_patients", metadata,
    Column("handoff_id", String(64), ForeignKey("handoffs.handoff_id"), primary_key=True),
    Column("patient_id", String(64), ForeignKey("users.patient_id")),
    Column("amount_fen", BigInteger),
)

handoff_closures = Table(  # a counter resolved it (served) or dismissed it (with a reason)
    "handoff_closures", metadata,
    Column("handoff_id", String(64), ForeignKey("handoffs.handoff_id"), primary_key=True),
    Column("state", String(16), nullable=False),  # resolved | dismissed
    Column("outcome", String(32), nullable=False),  # a fixed code, never free text
    Column("settlement_id", String(64)),
    Column("closed_by", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("closed_ms", BigInteger, nullable=False),
)

his_bills = Table(  # bills fed by a hospital system, keyed by its own bill number
    "his_bills", metadata,
    Column("site_id", String(64), ForeignKey("sites.site_id"), primary_key=True),
    Column("bill_no", String(64), primary_key=True),
    Column("bill_id", String(64), ForeignKey("bills.bill_id"), nullable=False, unique=True),
    Column("device_id", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("created_hash", String(64), nullable=False),  # sha256 of the create request
    Column("revision", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

his_bill_lines = Table(  # each fed line's insurance class (甲/乙/丙), beside bill_items
    "his_bill_lines", metadata,
    Column("bill_id", String(64), ForeignKey("bills.bill_id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("insurance_class", String(1), nullable=False),
)

reminders = Table(  # one repayment reminder per credit charge and stage, at most
    "reminders", metadata,
    Column("settlement_id", String(64), ForeignKey("credit_charges.settlement_id"),
           primary_key=True),
    Column("stage", String(16), primary_key=True),  # before | due | overdue
    Column("patient_id", String(64), ForeignKey("users.patient_id"), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),  # still owed on this charge
    Column("due_ms", BigInteger, nullable=False),
    Column("text", Text, nullable=False),
    Column("state", String(16), nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("sent_ms", BigInteger),
    Column("gateway_ref", String(64)),
    Index("ix_reminders_state", "state", "created_ms"),
)

job_leases = Table(  # the platform's own schedules: who runs each job, and when next
    "job_leases", metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(80)),
    Column("lease_until_ms", BigInteger, nullable=False),
    Column("next_due_ms", BigInteger, nullable=False),
    Column("runs", BigInteger, nullable=False),
    Column("cursor", String(64)),  # a job's own progress (the last day exported)
    Column("last_started_ms", BigInteger),
    Column("last_finished_ms", BigInteger),
    Column("last_result", Text),
)

heartbeats = Table(  # the latest heartbeat of each device, replaced by the next one
    "heartbeats", metadata,
    Column("device_id", String(64), ForeignKey("devices.device_id"), primary_key=True),
    Column("received_ms", BigInteger, nullable=False),
    Column("report", Text, nullable=False),  # the HeartbeatRequest, as the device sent it
)

nonces = Table(
    "nonces", metadata,
    Column("key_id", String(64), primary_key=True),
    Column("nonce", String(128), primary_key=True),
    Column("expires_ms", BigInteger, nullable=False, index=True),
)

idempotency = Table(
    "idempotency", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_ms", BigInteger, nullable=False, index=True),
)

audit_log = Table(
    "audit_log", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

reported_anchors = Table(  # audit heads devices reported through POST /v1/reconcile
    "reported_anchors", metadata,
    Column("device_id", String(64), ForeignKey("devices.device_id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), primary_key=True),
    Column("reported_ms", BigInteger, nullable=False),
)

device_guard = Table(  # PostgreSQL's brute-force counters (server_stub/guard.py)
    "device_guard", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("window_ms", BigInteger, nullable=False),
    Column("requests", BigInteger, nullable=False),
    Column("fail_window_ms", BigInteger, nullable=False),
    Column("failures", BigInteger, nullable=False),
    Column("locked_until_ms", BigInteger, nullable=False),
)

counters = Table(
    "counters", metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

GENESIS_HASH = "0" * 64
AUDIT_HEAD = "audit_head"  # meta row "seq:hash": the chain's one serialisation point
COUNTERS = ("gallery_version", "receipt")


_NEXT = (update(counters).where(counters.c.name == bindparam("counter"))
         .values(value=counters.c.value + 1).returning(counters.c.value))


def next_value(conn: Connection, name: str) -> int:
    """Next number of a named counter, inside the caller's transaction."""
    return int(conn.execute(_NEXT, {"counter": name}).scalar_one())
