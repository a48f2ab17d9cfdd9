"""The one logging set-up: JSON lines to stderr and a rotating file per process, and logs
that never carry phone numbers, national ids or card numbers, even by accident."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

from common.logs import redact, redact_value, setup_logging

PHONE, NATIONAL_ID, CARD = "13800001001", "330784199001011234", "YB33078400001001"


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_redactor_masks_phones_ids_and_cards_but_not_amounts_or_ids():
    assert redact("call 13812345678 now") == "call 138****5678 now"
    assert redact("id 33010219900101123X") == "id 3301**********123X"
    assert redact(f"card {CARD} read") == "card ************1001 read"
    assert redact("amount 1234567 fen, settlement 20261123000123, stl_0a1b2c3d4e5f6a7b "
                  "patient P1001") == ("amount 1234567 fen, settlement 20261123000123, "
                                       "stl_0a1b2c3d4e5f6a7b patient P1001")


def test_personal_keys_are_masked_whole_at_any_depth():
    value = {"card_no": "88881234", "fen": 300,
             "people": [{"phone": "021-5555-1234", "note": f"id {NATIONAL_ID}"}],
             "pair": (PHONE, "ok")}
    assert redact_value(value) == {
        "card_no": "****1234", "fen": 300,
        "people": [{"phone": "021******1234", "note": "id 3307**********1234"}],
        "pair": ["138****1001", "ok"]}


def test_file_and_stderr_get_the_same_json_lines(tmp_path):
    stream = io.StringIO()
    path = setup_logging("info", tmp_path / "logs", "kiosk", stream=stream)
    assert path == tmp_path / "logs" / "kiosk.jsonl"
    log = logging.getLogger("kiosk.test")
    log.debug("not at info")
    log.info("flow.transition", extra={"session": "s1", "from_state": "idle",
                                       "to_state": "searching"})
    log.warning("settlement.result", extra={"outcome": "settled", "fen": 300})
    records = lines(path)
    assert [r["msg"] for r in records] == ["flow.transition", "settlement.result"]
    assert records[0]["to_state"] == "searching" and records[1]["fen"] == 300
    assert records[1]["level"] == "warning" and records[1]["logger"] == "kiosk.test"
    assert [json.loads(x) for x in stream.getvalue().splitlines()] == records


def test_personal_data_is_redacted_in_message_extras_and_exception(tmp_path):
    path = setup_logging("info", tmp_path, "kiosk", stream=io.StringIO())
    log = logging.getLogger("kiosk.test")
    log.info("patient %s paid with %s", PHONE, CARD,
             extra={"patient": {"national_id": NATIONAL_ID, "cards": [CARD]}, "fen": 300})
    try:
        raise ValueError(f"no patient with id {NATIONAL_ID} / phone {PHONE}")
    except ValueError:
        log.exception("lookup.failed")
    text = path.read_text(encoding="utf-8")
    assert not any(value in text for value in (PHONE, NATIONAL_ID, CARD))
    paid, failed = lines(path)
    assert paid["msg"] == "patient 138****1001 paid with ************1001"
    assert paid["patient"] == {"national_id": "3307**********1234",
                               "cards": ["************1001"]}
    assert paid["fen"] == 300
    assert "Traceback" in failed["error"] and "3307**********1234" in failed["error"]


def test_rotates_at_the_size_and_keeps_every_line_whole(tmp_path):
    path = setup_logging("info", tmp_path, "server", stream=io.StringIO(), max_bytes=4096,
                         backups=2)
    log = logging.getLogger("server_stub.test")
    for n in range(400):
        log.info("request", extra={"n": n, "path": "/v1/settlements"})
    files = sorted(f for f in tmp_path.glob("server.jsonl*") if f.suffix != ".lock")
    assert files[0] == path
    assert [f.name for f in files] == ["server.jsonl", "server.jsonl.1", "server.jsonl.2"]
    assert all(f.stat().st_size <= 4096 for f in files)
    numbers = [r["n"] for f in reversed(files) for r in lines(f)]
    assert numbers == list(range(numbers[0], 400))  # the newest, in order, none torn


def test_each_live_process_writes_a_file_of_its_own(tmp_path):
    """A second process (another worker, or `kiosk doctor` beside the running kiosk) takes
    the next slot instead of rotating the first one's file under it; a slot freed by an
    ended process is taken again."""
    mine = setup_logging("info", tmp_path, "server", stream=io.StringIO())
    logging.getLogger("test").info("first")
    other = ("import logging, sys; from common.logs import setup_logging; "
             f"p = setup_logging('info', {str(tmp_path)!r}, 'server'); "
             "logging.getLogger('test').info('second'); print(p)")
    run = subprocess.run([sys.executable, "-c", other], capture_output=True, text=True,
                         check=True, timeout=60)
    assert Path(run.stdout.strip()) == tmp_path / "server.2.jsonl" != mine
    assert [r["msg"] for r in lines(tmp_path / "server.2.jsonl")] == ["second"]
    assert json.loads(run.stderr.splitlines()[-1])["msg"] == "second"
    assert [r["msg"] for r in lines(mine)] == ["first"]
    again = subprocess.run([sys.executable, "-c", other], capture_output=True, text=True,
                           check=True, timeout=60)
    assert Path(again.stdout.strip()) == tmp_path / "server.2.jsonl"
