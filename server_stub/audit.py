"""Append-only, hash-chained audit log of every state change and every rejected request.

Each record's hash is sha256(previous hash || canonical JSON of the record), so editing or
deleting any row breaks every later hash. Records are written inside the transaction whose
change they describe: a change and its audit record commit or vanish together. Details
must hold no personal data (ids and masked values only).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from server_stub.db import AUDIT_HEAD, GENESIS_HASH, audit_log, meta

_HEAD = select(meta.c.value).where(meta.c.key == AUDIT_HEAD).with_for_update()
_INSERT = insert(audit_log)
_MOVE_HEAD = update(meta).where(meta.c.key == AUDIT_HEAD).values(value=bindparam("head"))


def _canonical(seq: int, at_ms: int, actor: str, action: str, subject: str,
               details: dict[str, Any]) -> bytes:
    return json.dumps([seq, at_ms, actor, action, subject, details], ensure_ascii=False,
                      sort_keys=True, separators=(",", ":")).encode("utf-8")


def chain_hash(prev_hash: str, record: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + record).hexdigest()


def append(conn: Connection, *, at_ms: int, actor: str, action: str, subject: str,
           details: dict[str, Any] | None = None) -> int:
    """Add one record to the chain inside ``conn``'s transaction; returns its sequence."""
    details = details or {}
    last_seq, prev_hash = conn.execute(_HEAD).scalar_one().split(":", 1)
    seq = int(last_seq) + 1
    digest = chain_hash(prev_hash, _canonical(seq, at_ms, actor, action, subject, details))
    conn.execute(_INSERT, {"seq": seq, "at_ms": at_ms, "actor": actor, "action": action,
                           "subject": subject, "prev_hash": prev_hash, "hash": digest,
                           "details": json.dumps(details, ensure_ascii=False, sort_keys=True)})
    conn.execute(_MOVE_HEAD, {"head": f"{seq}:{digest}"})
    return seq


@dataclass(frozen=True)
class ChainReport:
    records: int
    ok: bool
    first_bad_seq: int | None = None
    reason: str = ""


def verify_chain(conn: Connection) -> ChainReport:
    """Recompute every hash from the genesis; the head row must name the last record."""
    prev, expected_seq, count = GENESIS_HASH, 1, 0
    for row in conn.execute(select(audit_log).order_by(audit_log.c.seq)):
        if row.seq != expected_seq:
            return ChainReport(count, False, expected_seq, "missing record")
        record = _canonical(row.seq, row.at_ms, row.actor, row.action, row.subject,
                            json.loads(row.details))
        if row.prev_hash != prev or chain_hash(prev, record) != row.hash:
            return ChainReport(count, False, row.seq, "hash mismatch")
        prev, expected_seq, count = row.hash, expected_seq + 1, count + 1
    head = conn.execute(select(meta.c.value).where(meta.c.key == AUDIT_HEAD)).scalar_one()
    if head != f"{count}:{prev}":
        return ChainReport(count, False, count + 1, "head does not match the last record")
    return ChainReport(count, True)
