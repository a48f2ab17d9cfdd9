"""``kiosk outbox list|show|retry`` and ``kiosk reconcile``: what this terminal's settlement
outbox holds, and its batch totals against the platform.

``list`` shows pending, delivered, rejected (with the settlement that took the bill) and
expired rows; ``show`` one row with every attempt; ``retry`` makes pending rows due now (the
running kiosk's sender picks them up). No personal data is printed: ids and fen only.
"""

from __future__ import annotations

import argparse
import datetime as dt

from kiosk.commands.output import EXIT_BAD_INPUT, EXIT_OK, emit_json, fail
from kiosk.config import KioskConfig
from kiosk.settlement.outbox import Outbox, OutboxRow, RowState


def register(sub: argparse._SubParsersAction) -> None:
    outbox = sub.add_parser("outbox", help="this terminal's settlement outbox")
    osub = outbox.add_subparsers(dest="outbox_command", required=True)
    p = osub.add_parser("list", help="rows, oldest first")
    p.add_argument("--state", choices=[s.value for s in RowState])
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = osub.add_parser("show", help="one row and its attempts")
    p.add_argument("key", help="the row's Idempotency-Key")
    p.add_argument("--verify", action="store_true",
                   help="check the kept answer's signature against the pinned platform key")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)
    p = osub.add_parser("retry", help="make pending rows due now")
    p.add_argument("key", nargs="?", help="one row (default: every pending row)")
    p.set_defaults(func=cmd_retry)
    p = sub.add_parser("reconcile", help="send the batch totals to the platform now")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_reconcile)


def _open(config: KioskConfig) -> Outbox:
    return Outbox(config.paths.data_path() / "outbox.db")


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds") if ts else ""


def _fields(row: OutboxRow) -> dict[str, object]:
    return {"key": row.idempotency_key, "state": row.state.value, "bill": row.request.bill_id,
            "method": row.request.method.value, "fen": row.amount_fen,
            "created_at": _when(row.created_at), "attempts": row.attempts,
            "last_error": row.last_error, "offline": row.offline,
            "settlement_id": row.response.settlement_id if row.response else None,
            "taken_by": row.taken_by}


def _line(row: OutboxRow) -> str:
    outcome = (row.response.settlement_id if row.response else
               f"{row.last_error or ''}" + (f" (bill taken by {row.taken_by})"
                                            if row.taken_by else ""))
    return (f"{row.state.value:9s} {row.idempotency_key:40s} {row.request.bill_id:14s} "
            f"{row.amount_fen / 100:9.2f}  {row.attempts:3d}  {outcome}")


def cmd_list(args: argparse.Namespace, config: KioskConfig) -> int:
    box = _open(config)
    try:
        rows = box.rows(RowState(args.state) if args.state else None, limit=args.limit)
    finally:
        box.close()
    for row in rows:
        if args.json:
            emit_json(_fields(row))
        else:
            print(_line(row))
    if not rows and not args.json:
        print("no rows" + (f" in state {args.state}" if args.state else ""))
    return EXIT_OK


def cmd_show(args: argparse.Namespace, config: KioskConfig) -> int:
    box = _open(config)
    try:
        row, history = box.get(args.key), box.history(args.key)
    finally:
        box.close()
    if row is None:
        fail(f"outbox.not_found: no row with key {args.key!r} (see `kiosk outbox list`)")
        return EXIT_BAD_INPUT
    attempts = [{"at": _when(a.at), "outcome": a.outcome, "code": a.code} for a in history]
    fields = {**_fields(row)}
    if args.verify:
        fields["receipt"] = _verified(row, config)
    if args.json:
        emit_json({**fields, "history": attempts})
        return EXIT_OK
    for name, value in fields.items():
        print(f"{name:14s} {value if value is not None else ''}")
    for a in attempts:
        print(f"  {a['at']}  {a['outcome']:9s} {a['code']}")
    return EXIT_OK


def _verified(row: OutboxRow, config: KioskConfig) -> str:
    """Whether the kept answer is the platform's own signature over this settlement."""
    from kiosk.protocol.errors import ProtocolError
    from kiosk.provisioning import connect

    if row.answer is None:
        return "none kept (not delivered)"
    try:
        created = row.answer.verify(connect(config).server_key)  # the pinned key, no network
    except ProtocolError as exc:
        return f"NOT VERIFIED: {exc.message}"
    return f"signed by the platform at {_when(created)}"


def cmd_retry(args: argparse.Namespace, config: KioskConfig) -> int:
    box = _open(config)
    try:
        if args.key is not None:
            row = box.get(args.key)
            if row is None or row.state is not RowState.PENDING:
                state = row.state.value if row else "absent"
                fail(f"outbox.not_pending: row {args.key!r} is {state}; only pending rows "
                     "are sent again (a rejected or expired one is the cashier's)")
                return EXIT_BAD_INPUT
        touched = box.retry_now(args.key)
    finally:
        box.close()
    print(f"{touched} pending row(s) due now; the running kiosk sends them within seconds")
    return EXIT_OK


def cmd_reconcile(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.provisioning import connect
    from kiosk.receipts import Station
    from kiosk.settlement.desk import SettlementDesk

    client = connect(config)
    box = _open(config)
    try:
        desk = SettlementDesk(client, box, offline=config.offline,
                              station=Station.of(config.site),
                              hold_s=0.0, retention_hours=lambda: client.retention_hours,
                              platform_now=client.clock.now, notify_cashier=lambda effect: None)
        answer = desk.reconcile()
    finally:
        box.close()
    if args.json:
        emit_json(answer.model_dump(mode="json"))
    else:
        print(f"matched {answer.matched}; missing on the platform "
              f"{len(answer.missing_on_platform)} (queued again); missing here "
              f"{len(answer.missing_on_device)}; audit anchor {answer.audit.value}"
              + (f"; hand-off {answer.handoff_id}" if answer.handoff_id else ""))
    mismatch = answer.missing_on_platform or answer.missing_on_device or \
        answer.audit.value == "rollback"
    return EXIT_BAD_INPUT if mismatch else EXIT_OK
