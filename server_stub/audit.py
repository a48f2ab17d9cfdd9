"""Append-only, hash-chained audit log of every state change and every rejected request.

Each record's hash is sha256(previous hash || canonical JSON of the record), so editing or
deleting any row breaks every later hash. Records are written inside the transaction whose
change they describe: a change and its audit record commit or vanish together. Details
must hold no personal data (ids and masked values only).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from kiosk.protocol.schemas import AuditHead
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
           details: dict[str, Any] | None = None) -> AuditHead:
    """Add one record to the chain inside ``conn``'s transaction; returns the new head
    (this record's sequence and hash), which money replies hand to the device."""
    details = details or {}
    last_seq, prev_hash = conn.execute(_HEAD).scalar_one().split(":", 1)
    seq = int(last_seq) + 1
    digest = chain_hash(prev_hash, _canonical(seq, at_ms, actor, action, subject, details))
    conn.execute(_INSERT, {"seq": seq, "at_ms": at_ms, "actor": actor, "action": action,
                           "subject": subject, "prev_hash": prev_hash, "hash": digest,
                           "details": json.dumps(details, ensure_ascii=False, sort_keys=True)})
    conn.execute(_MOVE_HEAD, {"head": f"{seq}:{digest}"})
    return AuditHead(seq=seq, hash=digest)


def head(conn: Connection) -> tuple[int, str]:
    """The chain's head ``(seq, hash)``; ``(0, GENESIS_HASH)`` for an empty chain."""
    last_seq, last_hash = conn.execute(
        select(meta.c.value).where(meta.c.key == AUDIT_HEAD)).scalar_one().split(":", 1)
    return int(last_seq), last_hash


def hash_at(conn: Connection, seq: int) -> str | None:
    """The hash of record ``seq``, or None when the chain has no such record."""
    return conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == seq)).scalar()


@dataclass(frozen=True)
class Anchor:
    """A head kept outside the database: the platform's anchor file, or a device's report."""

    seq: int
    hash: str
    source: str  # where it was found, for the operator: "anchor file line 12", "dev_..."


@dataclass(frozen=True)
class ChainReport:
    records: int
    ok: bool
    first_bad_seq: int | None = None
    reason: str = ""
    anchors_checked: int = 0
    rollbacks: list[str] = field(default_factory=list)


def _rollback(anchor: Anchor, head_seq: int | None) -> str:
    """The message for an anchor the chain does not hold: beyond its end (``head_seq``),
    or (``None``) at a record with another hash."""
    if head_seq is not None:
        return (f"rollback: anchor seq {anchor.seq} ({anchor.source}) is not in the chain "
                f"(the chain ends at seq {head_seq}): the database was restored from an "
                "earlier copy")
    return (f"rollback: anchor seq {anchor.seq} ({anchor.source}) is not in the chain "
            f"(record {anchor.seq} has another hash): the database was restored from an "
            "earlier copy and has diverged since")


def verify_chain(conn: Connection, anchors: Iterable[Anchor] = ()) -> ChainReport:
    """Recompute every hash from the genesis; the head row must name the last record; and
    every anchor (a head seen outside the database) must be a record of this chain with the
    same hash — one that is not shows the database was rolled back."""
    wanted: dict[int, list[Anchor]] = {}
    total = 0
    for anchor in anchors:
        wanted.setdefault(anchor.seq, []).append(anchor)
        total += 1
    rollbacks: list[str] = []
    prev, expected_seq, count = GENESIS_HASH, 1, 0
    for row in conn.execute(select(audit_log).order_by(audit_log.c.seq)):
        if row.seq != expected_seq:
            return ChainReport(count, False, expected_seq, "missing record")
        record = _canonical(row.seq, row.at_ms, row.actor, row.action, row.subject,
                            json.loads(row.details))
        if row.prev_hash != prev or chain_hash(prev, record) != row.hash:
            return ChainReport(count, False, row.seq, "hash mismatch")
        rollbacks.extend(_rollback(a, None) for a in wanted.pop(row.seq, ())
                         if a.hash != row.hash)
        prev, expected_seq, count = row.hash, expected_seq + 1, count + 1
    stored_head = conn.execute(select(meta.c.value).where(meta.c.key == AUDIT_HEAD)).scalar_one()
    if stored_head != f"{count}:{prev}":
        return ChainReport(count, False, count + 1, "head does not match the last record")
    rollbacks.extend(_rollback(a, count) for seq in sorted(wanted) for a in wanted[seq])
    if rollbacks:
        return ChainReport(count, False, None, rollbacks[0], total, rollbacks)
    return ChainReport(count, True, anchors_checked=total)
