"""The kiosk's local audit log: chained, tamper-evident, no personal data."""

from __future__ import annotations

import json
from pathlib import Path

from kiosk.audit_log import AuditLog, verify


def test_chain_verifies_and_survives_restart(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.append("session.started", {"session": "s1", "method": "face"})
    log.append("settlement.confirmed", {"session": "s1", "self_pay_fen": 2095})
    AuditLog(path).append("session.reset", {"session": "s1", "reason": "session.finished"})
    assert verify(path) == (True, 3, "ok")


def test_tampering_is_detected(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for i in range(4):
        log.append("e", {"i": i})
    lines = path.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["i"] = 99
    path.write_text("\n".join([lines[0], json.dumps(edited), *lines[2:]]) + "\n")
    ok, count, reason = verify(path)
    assert not ok and count == 1 and "altered" in reason
    path.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    ok, _, reason = verify(path)
    assert not ok and "chain broken" in reason


def test_personal_data_is_redacted(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append("note", {"text": "phone 13812345678 id 330102199001011234"})
    text = path.read_text()
    assert "13812345678" not in text and "330102199001011234" not in text
