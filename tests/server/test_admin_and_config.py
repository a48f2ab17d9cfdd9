"""The admin CLI as operators run it (real subprocesses, real SQLite file), the config
loader, masking, and tamper detection in the audit chain."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from common.privacy import mask_card, mask_name, mask_phone
from common.privacy import mask_number as mask_national_id
from server_stub.config import PlatformConfigError, load_config
from tests.server.live import admin, write_config


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    path = write_config(tmp_path)
    admin(path, "init")
    return path


def test_admin_commands_never_create_a_database(tmp_path: Path):
    """Run from another folder with the default config: say which database, create none."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([sys.executable, "-m", "server_stub", "site", "create", "--code",
                             "H1", "--name", "x"], capture_output=True, text=True, timeout=60,
                            cwd=elsewhere, env={**os.environ, "KIOSK_SERVER_CONFIG": ""})
    assert result.returncode == 3
    assert f"no platform database at {elsewhere}/var/server.db" in result.stderr
    assert "kiosk-server init" in result.stderr and "Traceback" not in result.stderr
    assert not (elsewhere / "var").exists()


def test_init_creates_database_and_keys_and_relative_paths_follow_the_config(tmp_path: Path):
    site = tmp_path / "platform"
    site.mkdir()
    (site / "server.toml").write_text('[server]\ndb_url = "sqlite:///data/server.db"\n'
                                      'key_file = "keys/server.pem"\n'
                                      'data_key_file = "keys/data.key"\n')
    made = json.loads(admin(site / "server.toml", "init").stdout)
    assert made["key_file"] == str(site / "keys" / "server.pem")
    assert (site / "data" / "server.db").is_file() and (site / "keys" / "data.key").is_file()
    again = json.loads(admin(site / "server.toml", "init").stdout)
    assert again["key_fingerprint"] == made["key_fingerprint"]  # idempotent: same key kept
    created = admin(site / "server.toml", "site", "create", "--code", "H9", "--name", "九院")
    assert json.loads(created.stdout)["site_id"]


def test_run_refuses_a_busy_port_and_a_port_out_of_range(config: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "server_stub", "--config", str(config),
                                 "run", "--port", str(port)], capture_output=True, text=True,
                                timeout=60)
    assert result.returncode == 3
    assert result.stderr.startswith(f"kiosk-server: error: cannot listen on 127.0.0.1:{port}")
    assert "startup complete" not in result.stderr.lower()
    out_of_range = admin(config, "run", "--port", "99999", check=False)
    assert out_of_range.returncode == 2 and "must be a TCP port 1-65535" in out_of_range.stderr


def test_seed_enrol_bill_and_reconcile_from_the_shell(config: Path):
    seeded = json.loads(admin(config, "seed", "demo").stdout)
    assert set(seeded["enrolment_tokens"]) == {"kiosk", "counter"}
    assert {p["category"] for p in seeded["patients"]} == {"employee", "resident",
                                                           "poverty_relief"}
    again = admin(config, "seed", "demo", check=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    enrolled = json.loads(admin(config, "user", "enrol", "--patient-id", "P9", "--name", "钱多多",
                                "--national-id", "33078419900101123X", "--phone", "13912345678",
                                "--category", "resident", "--card-no", "CARD9").stdout)
    assert enrolled["patient"] == {"patient_id": "P9", "name": "钱*多",
                                   "national_id": "3307**********123X", "phone": "139****5678",
                                   "category": "resident"}
    with sqlite3.connect(config.parent / "server.db") as db:
        row = db.execute("select * from users where patient_id = 'P9'").fetchone()
    assert "13912345678" not in map(str, row) and "33078419900101123X" not in map(str, row)
    bill = json.loads(admin(config, "bill", "create", "--site", seeded["site_id"],
                            "--patient", "P9", "--visit", "V9", "--item", "exam:CT:1:30000",
                            "--item", "other:card fee:1:500:self").stdout)
    assert bill["bill_id"].startswith("bill_")
    report = json.loads(admin(config, "recon", "--site", seeded["site_id"], "--date",
                              "2026-01-01").stdout)
    assert report["balanced"] and report["settled"]["count"] == 0
    rows = list(csv.reader(io.StringIO(admin(config, "recon", "--site", seeded["site_id"],
                                             "--date", "2026-01-01", "--format", "csv").stdout)))
    assert rows[0][0] == "kind" and [r[0] for r in rows[1:]] == [
        "total:settled", "total:reversed", "total:net"]
    overdue = json.loads(admin(config, "credit", "overdue", "--as-of",
                               "2030-01-01T00:00:00+08:00").stdout)
    assert overdue["suspended"] == 0  # nothing was charged to credit yet


@pytest.mark.parametrize("args, message", [
    (["user", "enrol", "--patient-id", "P1", "--name", "x", "--national-id", "123",
      "--phone", "13912345678", "--category", "resident"], "national id"),
    (["user", "enrol", "--patient-id", "P1", "--name", "x", "--national-id",
      "330784199001011234", "--phone", "555", "--category", "resident"], "phone"),
    (["bill", "create", "--site", "site_none", "--patient", "P1", "--visit", "V",
      "--item", "exam:x:1:100"], "no site"),
    (["device", "revoke", "dev_nope", "--reason", "x"], "no active device"),
    (["voucher", "revoke", "CHSEV1-AAAA"], "voucher.malformed"),
])
def test_bad_admin_input_is_exit_2_with_one_line(config: Path, args, message):
    result = admin(config, *args, check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_bill_with_absurd_amount_is_refused(config: Path):
    seeded = json.loads(admin(config, "seed", "demo").stdout)
    result = admin(config, "bill", "create", "--site", seeded["site_id"], "--patient", "P1001",
                   "--visit", "V", "--item", "exam:x:1:200000000", check=False)
    assert result.returncode == 2 and "amount.invalid" in result.stderr


def test_audit_chain_detects_tampering(config: Path):
    admin(config, "seed", "demo")
    assert json.loads(admin(config, "audit", "verify").stdout)["ok"]
    with sqlite3.connect(config.parent / "server.db") as db:
        db.execute("update audit_log set details = '{\"category\": \"employee\"}' "
                   "where seq = 5")
    result = admin(config, "audit", "verify", check=False)
    report = json.loads(result.stdout)
    assert result.returncode == 2 and not report["ok"] and report["first_bad_seq"] == 5
    with sqlite3.connect(config.parent / "server.db") as db:
        db.execute("delete from audit_log where seq = (select max(seq) from audit_log)")
    assert not json.loads(admin(config, "audit", "verify", check=False).stdout)["ok"]


def test_config_errors_name_the_key_and_exit_3(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text('[server]\nport = "eighty"\nbogus = 1\nworkers = 0\n'
                    '[gallery]\nscope = "everyone"\n', encoding="utf-8")
    with pytest.raises(PlatformConfigError) as info:
        load_config(path)
    for key in ("server.port", "server.bogus", "server.workers", "gallery.scope"):
        assert key in str(info.value)
    result = admin(path, "audit", "verify", check=False)
    assert result.returncode == 3 and "server.port" in result.stderr


def test_bad_worker_count_on_the_command_line_is_refused(config: Path):
    for bad in ("0", "65", "two"):
        result = admin(config, "run", "--workers", bad, check=False)
        assert result.returncode == 2 and "--workers: must be a whole number 1-64" in \
            result.stderr


def test_partial_policy_keeps_the_seed_figures(tmp_path: Path):
    path = tmp_path / "p.toml"
    path.write_text("[policy.resident]\ndeductible_fen = 0\n", encoding="utf-8")
    config = load_config(path)
    assert config.policy.resident.deductible_fen == 0
    assert config.policy.resident.basic_ratio_bp == 7217
    assert config.policy.employee.basic_ratio_bp == 8072
    assert load_config(None).server.db_url == f"sqlite:///{Path.cwd()}/var/server.db"


def test_masks():
    assert mask_name("张三丰") == "张*丰" and mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧**娜" and mask_name("王") == "*"
    assert mask_national_id("330102199001011234") == "3301**********1234"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_card("YB33078400001001") == "************1001"
