"""Repayment reminders: before the due day, on it, and once overdue (docs/protocol.md §16).

``produce`` writes at most one reminder per credit charge and stage — the primary key
(settlement_id, stage) decides, so two platform processes running it at once still make
one — for charges still owed by users who have not withdrawn consent. ``deliver`` hands
them to the SMS gateway (server_stub/notify.py): each is claimed (``sending``) in a
transaction of its own before it is sent, so a crash mid-send leaves it ``sending`` and it
is never sent twice; a gateway refusal marks it ``failed`` and a later run tries again, up
to ``[reminders] max_attempts``. Stages by the platform-zone calendar day: ``before`` from
``days_before`` days ahead of the due day, ``due`` on it, ``overdue`` after it; a run that
finds a charge already past a stage writes only the current one (no stale "due soon").
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from server_stub.clock import local_day
from server_stub.config import ServerConfig
from server_stub.db import credit_charges, reminders, settlements, sites, users
from server_stub.notify import GatewayError, Sms, SmsGateway
from server_stub.storage import Database

log = logging.getLogger("server_stub.reminders")
DAY_MS = 86_400_000
BEFORE, DUE, OVERDUE = "before", "due", "overdue"

# Simplified Chinese: the patients' language; {site} is the hospital, {date} the due day
TEXTS = {
    BEFORE: "{signature}您在{site}先看病后付费的欠款{amount}元将于{date}到期，"
            "请按时还款（人工窗口或自助机均可办理）。",
    DUE: "{signature}您在{site}先看病后付费的欠款{amount}元今天（{date}）到期，"
         "请于今日还款，逾期将暂停先看病后付费。",
    OVERDUE: "{signature}您在{site}先看病后付费的欠款{amount}元已于{date}到期，"
             "先看病后付费已暂停，还清后自动恢复。请尽快到人工窗口或自助机还款。",
}

_c, _u = credit_charges.c, users.c
_OWED = (select(_c.settlement_id, _c.patient_id, _c.due_ms,
                (_c.amount_fen - _c.repaid_fen).label("owed"), sites.c.name.label("site"))
         .join(settlements, settlements.c.settlement_id == _c.settlement_id)
         .join(sites, sites.c.site_id == settlements.c.site_id)
         .join(users, _u.patient_id == _c.patient_id)
         .where(_c.cancelled.is_(False), _c.repaid_fen < _c.amount_fen,
                _u.consent_withdrawn_ms.is_(None)))


def stage_on(due_ms: int, now: int, *, days_before: int, timezone: str) -> str | None:
    due_day, today = local_day(due_ms, timezone), local_day(now, timezone)
    if today > due_day:
        return OVERDUE
    if today == due_day:
        return DUE
    if today >= due_day - dt.timedelta(days=days_before):
        return BEFORE
    return None


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def produce(conn: Connection, *, config: ServerConfig, now: int) -> int:
    """Write the reminders due now that do not exist yet; returns how many were written."""
    horizon = now + (config.reminders.days_before + 1) * DAY_MS  # nothing later can be due
    timezone, made = config.server.timezone, 0
    for charge in conn.execute(_OWED.where(_c.due_ms < horizon)):
        stage = stage_on(charge.due_ms, now, days_before=config.reminders.days_before,
                         timezone=timezone)
        if stage is None or conn.execute(select(reminders.c.state).where(
                reminders.c.settlement_id == charge.settlement_id,
                reminders.c.stage == stage)).first() is not None:
            continue
        text = TEXTS[stage].format(signature=config.reminders.signature, site=charge.site,
                                   amount=_yuan(charge.owed),
                                   date=local_day(charge.due_ms, timezone).isoformat())
        try:
            with conn.begin_nested():
                conn.execute(insert(reminders).values(
                    settlement_id=charge.settlement_id, stage=stage,
                    patient_id=charge.patient_id, amount_fen=charge.owed,
                    due_ms=charge.due_ms, text=text, state="pending", attempts=0,
                    created_ms=now))
            made += 1
        except IntegrityError:
            continue  # another process wrote this one first
    return made


_OPEN = (select(reminders.c.settlement_id, reminders.c.stage)
         .where(reminders.c.state.in_(("pending", "failed")))
         .order_by(reminders.c.created_ms))


def _claim(conn: Connection, settlement_id: str, stage: str, max_attempts: int) -> Sms | None:
    """Mark the reminder ``sending`` if this process may send it; None if it may not (sent
    or claimed by another, out of attempts, or no longer to be sent: then ``skipped``)."""
    row = conn.execute(
        select(reminders, _u.phone_masked, _u.consent_withdrawn_ms,
               (_c.amount_fen - _c.repaid_fen).label("owed"), _c.cancelled)
        .join(users, _u.patient_id == reminders.c.patient_id)
        .join(credit_charges, _c.settlement_id == reminders.c.settlement_id)
        .where(reminders.c.settlement_id == settlement_id, reminders.c.stage == stage)
        .with_for_update(of=reminders)).first()
    if row is None or row.state not in ("pending", "failed") or row.attempts >= max_attempts:
        return None
    key = (reminders.c.settlement_id == settlement_id, reminders.c.stage == stage,
           reminders.c.state == row.state)
    if row.consent_withdrawn_ms is not None or row.cancelled or row.owed <= 0:
        conn.execute(update(reminders).where(*key).values(state="skipped"))
        return None
    done = conn.execute(update(reminders).where(*key).values(
        state="sending", attempts=row.attempts + 1))
    if done.rowcount != 1:
        return None
    return Sms(key=f"{settlement_id}:{stage}", patient_id=row.patient_id,
               phone_masked=row.phone_masked, text=row.text)


def deliver(db: Database, gateway: SmsGateway, *, config: ServerConfig,
            now: int) -> dict[str, int]:
    """Send every open reminder once; counts by outcome."""
    counts = {"sent": 0, "failed": 0, "skipped": 0}
    with db.read() as conn:
        open_ones = list(conn.execute(_OPEN.where(
            reminders.c.attempts < config.reminders.max_attempts)))
    for settlement_id, stage in open_ones:
        message = db.transact(lambda conn, s=settlement_id, t=stage: _claim(
            conn, s, t, config.reminders.max_attempts))
        if message is None:
            counts["skipped"] += 1
            continue
        where = (reminders.c.settlement_id == settlement_id, reminders.c.stage == stage)
        try:
            reference = gateway.send(message)
        except GatewayError as exc:
            log.warning("reminder.failed", extra={"key": message.key[:12], "error": str(exc)})
            db.transact(lambda conn, w=where: conn.execute(
                update(reminders).where(*w).values(state="failed")))
            counts["failed"] += 1
            continue
        db.transact(lambda conn, w=where, r=reference: conn.execute(
            update(reminders).where(*w).values(state="sent", sent_ms=now,
                                               gateway_ref=r[:64])))
        counts["sent"] += 1
    return counts


def run(db: Database, gateway: SmsGateway, *, config: ServerConfig, now: int) -> dict[str, int]:
    """One reminder round: produce what is due, then deliver whatever is open."""
    produced = db.transact(lambda conn: produce(conn, config=config, now=now))
    return {"produced": produced, **deliver(db, gateway, config=config, now=now)}
