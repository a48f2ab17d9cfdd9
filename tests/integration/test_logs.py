"""``kiosk demo`` end to end with its real logs: the kiosk process and the platform process
each write JSON lines to their own rotating file, one record per step of the checkout, and no
log file anywhere holds the demo patient's full national id, phone or card number."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kiosk.demo.scenario import DEMO_PATIENT
from server_stub.seed import DEMO_USERS


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_demo_checkout_is_logged_by_both_processes_without_personal_data(tmp_path):
    work = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "demo", "--workdir", str(work)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    settlement_id = proc.stdout.split("settlement:  ")[1].split()[0]

    kiosk = records(work / "logs" / "kiosk.jsonl")
    assert {r["pid"] for r in kiosk} == {kiosk[0]["pid"]}
    moves = [(r["from_state"], r["to_state"]) for r in kiosk if r["msg"] == "flow.transition"]
    assert moves == [("idle", "searching"), ("searching", "looking_up"),
                     ("looking_up", "bill_review"), ("bill_review", "settling"),
                     ("settling", "done")]
    attempts = [r for r in kiosk if r["msg"] == "settlement.attempt"]
    results = [r for r in kiosk if r["msg"] == "settlement.result"]
    assert len(attempts) == len(results) == 1
    assert results[0]["outcome"] == "done" and results[0]["settlement_id"] == settlement_id
    assert results[0]["key"] == attempts[0]["key"] and results[0]["fen"] > 0
    steps = [(r["step"], r.get("role")) for r in kiosk if r["msg"] == "provision.step"]
    assert ("registered", "counter") in steps and ("registered", "kiosk") in steps
    assert any(r["msg"] == "gallery.sync" and r["persons"] == len(DEMO_USERS) for r in kiosk)
    assert {r["device"] for r in kiosk if r["msg"] == "device.health"} == {
        "camera", "scanner", "card", "printer", "speaker"}

    platform_log = work / "platform" / "var" / "logs" / "server.jsonl"
    platform = records(platform_log)
    assert {r["pid"] for r in platform} != {kiosk[0]["pid"]}
    assert any(r["msg"] == "request" and r["path"] == "/v1/settlements" and r["status"] == 201
               for r in platform)
    assert any(r["logger"] == "uvicorn.error" and r["msg"].startswith("Started server process")
               for r in platform)
    stderr = records(work / "platform" / "server.log")  # journald's copy: JSON lines too
    assert [r["msg"] for r in stderr] == [r["msg"] for r in platform]

    _, _, national_id, phone, _, card = next(u for u in DEMO_USERS if u[0] == DEMO_PATIENT)
    logs = [p for p in work.rglob("*") if p.is_file() and (".jsonl" in p.name
                                                           or p.suffix == ".log")]
    assert work / "platform" / "kiosk" / "audit.jsonl" in logs and len(logs) >= 4
    for path in logs:
        text = path.read_text(encoding="utf-8")
        for secret in (national_id, phone, card):
            assert secret not in text, (path, secret)
