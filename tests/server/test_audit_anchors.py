"""Audit heads in money replies, the anchor file outside the database, and `audit verify`
telling a database restored from an earlier copy by the anchors it no longer holds."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from server_stub.config import PlatformConfigError, load_config
from tests.server.live import Device, Server, make_bill, start_server

ITEMS = [("exam", 1, 9_000, True)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("anchors"))
    yield running
    running.stop()


def record(server: Server, seq: int) -> tuple[str, str, str]:
    """(action, subject, hash) of audit record ``seq``, read straight from the database."""
    with sqlite3.connect(server.db_file) as conn:
        row = conn.execute("SELECT action, subject, hash FROM audit_log WHERE seq = ?",
                           (seq,)).fetchone()
    assert row is not None, seq
    return row


def anchor_lines(server: Server) -> list[dict[str, object]]:
    path = Path(f"{server.db_file}.anchors.jsonl")  # the default: beside the database
    return [json.loads(line) for line in path.read_text().splitlines()]


def verify(server: Server) -> tuple[int, dict[str, object], str]:
    result = server.admin("audit", "verify", check=False)
    return result.returncode, json.loads(result.stdout), result.stderr


def test_money_replies_carry_the_head_of_their_own_audit_record(server: Server,
                                                                 kiosk: Device,
                                                                 counter: Device):
    key = str(uuid.uuid4())
    settled = kiosk.settle(make_bill(server, "P1003", ITEMS), "P1003", key=key)
    assert settled.status_code == 201, settled.text
    body = settled.json()
    head = body["audit_head"]
    assert record(server, head["seq"]) == ("settlement.settled", body["settlement_id"],
                                           head["hash"])
    again = kiosk.settle(body["bill_id"], "P1003", key=key)  # the stored reply: same head
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["audit_head"] == head

    reversed_ = counter.post(f"/v1/settlements/{body['settlement_id']}/reverse",
                             {"reason": "wrong bill"}, key=str(uuid.uuid4()))
    assert reversed_.status_code == 200, reversed_.text
    reversal_head = reversed_.json()["audit_head"]
    assert reversal_head["seq"] > head["seq"]
    assert record(server, reversal_head["seq"]) == ("settlement.reversed",
                                                    body["settlement_id"],
                                                    reversal_head["hash"])
    assert kiosk.get(f"/v1/settlements/{body['settlement_id']}").json()["audit_head"] is None

    lines = anchor_lines(server)
    assert {"seq": head["seq"], "hash": head["hash"]} in [
        {"seq": a["seq"], "hash": a["hash"]} for a in lines]
    assert lines[-1]["seq"] == reversal_head["seq"]
    assert lines[-1]["hash"] == reversal_head["hash"]
    assert str(lines[-1]["at"]).endswith("Z")
    code, report, _ = verify(server)
    assert code == 0 and report["ok"] and report["anchors_checked"] == len(lines)


def test_audit_verify_fails_on_a_database_restored_from_an_earlier_copy(
        tmp_path_factory: pytest.TempPathFactory):
    server = start_server(tmp_path_factory.mktemp("restored"))
    try:
        kiosk = server.device("kiosk")
        assert kiosk.settle(make_bill(server, "P1002", ITEMS), "P1002").status_code == 201
        backup = server.directory / "nightly.db"
        server.backup(backup)
        later = kiosk.settle(make_bill(server, "P1002", ITEMS), "P1002").json()["audit_head"]
        assert verify(server)[0] == 0

        server.restore(backup)
        code, report, stderr = verify(server)
        assert code == 2 and not report["ok"]
        assert f"rollback: anchor seq {later['seq']} (anchor file line" in stderr
        assert "not in the chain" in str(report["reason"])

        # the restored platform goes on and reuses those sequence numbers, with other hashes
        for _ in range(3):
            kiosk.settle(make_bill(server, "P1002", ITEMS), "P1002")
        code, report, stderr = verify(server)
        assert code == 2 and "rollback: anchor seq" in stderr
        assert any("has another hash" in r for r in report["rollbacks"])  # type: ignore[union-attr]
    finally:
        server.stop()


def test_the_anchor_path_is_absolute_and_never_the_database(tmp_path: Path):
    config = tmp_path / "server.toml"
    config.write_text('[server]\ndb_url = "sqlite:///data/p.db"\n', encoding="utf-8")
    assert load_config(config).server.audit_anchor_path == str(tmp_path / "data" /
                                                               "p.db.anchors.jsonl")
    config.write_text('[server]\naudit_anchor_path = "anchors/a.jsonl"\n', encoding="utf-8")
    assert load_config(config).server.audit_anchor_path == str(tmp_path / "anchors" /
                                                               "a.jsonl")
    for bad in ("var/server.db-wal", "anchors/"):
        config.write_text(f'[server]\naudit_anchor_path = "{bad}"\n', encoding="utf-8")
        with pytest.raises(PlatformConfigError, match="audit_anchor_path"):
            load_config(config)
