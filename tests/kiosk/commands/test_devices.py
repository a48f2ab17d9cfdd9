"""``kiosk devices``: one PASS/FAIL line per check, JSON on request, exit 0 / 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest

from device.printer import LayerShare, Receipt, ReceiptLine, ReceiptPrinter
from kiosk.cli import main
from kiosk.config import load_config
from kiosk.protocol.voucher import format_payload

KIOSK = [sys.executable, "-m", "kiosk.cli"]
pytestmark = pytest.mark.usefixtures("device_logs")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A demo terminal's folder: its config (simulators for every device it does not name)
    is $KIOSK_CONFIG, and var/ lands here."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KIOSK_CONFIG", str(write_config(tmp_path, "")))
    return tmp_path


def write_config(site: Path, text: str) -> Path:
    path = site / "kiosk.toml"
    path.write_text(f'[demo]\nsimulated_devices = true\n[paths]\ndata_dir = "var"\n{text}',
                    encoding="utf-8")
    return path


def run(args: list[str], capsys) -> tuple[int, list[str]]:
    code = main(args)
    return code, capsys.readouterr().out.splitlines()


def test_list_demo_defaults_all_pass(site: Path) -> None:
    result = subprocess.run([*KIOSK, "devices", "list", "--json"], capture_output=True,
                            text=True, timeout=60, cwd=site)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    checks = {row["device"]: row for row in rows if "device" in row}
    assert set(checks) == {"camera", "scanner", "card", "printer", "speaker"}
    assert all(row["pass"] for row in checks.values())
    assert checks["camera"]["health"]["state"] == "ok"


def test_a_config_without_devices_configures_none(tmp_path: Path) -> None:
    """Outside demo mode nothing is simulated: every device FAILs as not configured."""
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    result = subprocess.run([*KIOSK, "--config", str(config), "devices", "list", "--json"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 3
    rows = {row["device"]: row for row in map(json.loads, result.stdout.splitlines())
            if "device" in row}
    assert set(rows) == {"camera", "scanner", "card", "printer", "speaker"}
    for device, row in rows.items():
        assert row["health"]["reason"] == f"{device}.not_configured"
        # no voice only degrades: every way to pay still works without it
        assert row["pass"] == (device == "speaker"), row
    assert not (tmp_path / "var").exists()


def test_list_reports_dead_devices(site: Path, capsys) -> None:
    config = write_config(site, '[devices.printer]\ndriver = "network"\nhost = "127.0.0.1"\n'
                                'tcp_port = 9\ntimeout_s = 1\n\n[devices.scanner]\n'
                                'driver = "serial"\nport = "/dev/no-scanner"\n'
                                "failed_after_s = 0.3\nreconnect_initial_s = 0.05\n")
    code, lines = run(["--config", str(config), "devices", "list", "--timeout", "3"], capsys)
    assert code == 3
    assert any(line.startswith("PASS camera:") for line in lines)
    assert any(line.startswith("PASS card:") for line in lines)
    printer = next(line for line in lines if "printer:" in line)
    assert printer.startswith("FAIL printer:") and "printer.offline" in printer
    scanner = next(line for line in lines if "scanner:" in line)
    assert scanner.startswith("FAIL scanner: serial /dev/no-scanner: failed")


def test_camera_test_saves_a_frame(site: Path, video_file: Path, capsys) -> None:
    config = write_config(site, f'[devices.camera]\ndriver = "file"\npath = "{video_file}"\n'
                                "fps = 0\n")
    code, lines = run(["--config", str(config), "devices", "test", "camera", "--json"], capsys)
    assert code == 0
    row = json.loads(lines[0])
    assert row["pass"] and (row["width"], row["height"]) == (160, 120)
    assert 20 <= row["fps"] <= 40  # the file's own 30 fps, measured
    assert Path(row["saved"]).stat().st_size > 0


def test_camera_test_fails_clearly(site: Path, capsys) -> None:
    config = write_config(site, '[devices.camera]\ndriver = "file"\npath = "gone.avi"\n'
                                "failed_after_s = 0.2\nreconnect_initial_s = 0.05\n")
    code, lines = run(["--config", str(config), "devices", "test", "camera", "--timeout", "0.5"],
                      capsys)
    assert code == 3
    assert lines[0].startswith(f"FAIL camera: {site}/gone.avi: no frame within 0.5 s")
    assert "camera.unavailable" in lines[0]


def test_printer_test_prints_a_slip_and_an_image(site: Path, capsys) -> None:
    code, lines = run(["devices", "test", "printer"], capsys)
    assert code == 0 and lines[0].startswith("PASS printer: file: test slip")
    jobs = list((site / "var" / "printer").glob("TEST-*.escpos"))
    assert len(jobs) == 1 and "不作收费凭证".encode("gb18030") in jobs[0].read_bytes()
    assert (site / "var" / "devices" / "printer-test.png").stat().st_size > 0
    assert not (site / "var" / "receipts").exists() or not list(
        (site / "var" / "receipts").glob("*.json"))  # a test slip is not a receipt


def test_card_test_shows_masked_data(site: Path, capsys) -> None:
    code, lines = run(["devices", "test", "card"], capsys)
    assert code == 0 and lines == ["PASS card: simulated: card SIM0********0001 张*"]
    config = write_config(site, '[devices.card]\ndriver = "serial"\nport = "/dev/nope"\n')
    code, lines = run(["--config", str(config), "devices", "test", "card", "--timeout", "0.2"],
                      capsys)
    assert code == 3 and lines[0].startswith("FAIL card: card.reader_unavailable")


def test_wedge_scanner_test_reads_the_terminal(site: Path) -> None:
    """As IT runs it: a real process whose terminal the scanner types into."""
    voucher = format_payload("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    result = subprocess.run([*KIOSK, "devices", "test", "scanner", "--timeout", "5"],
                            input=voucher + "\n", capture_output=True, text=True, timeout=60,
                            cwd=site)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("PASS scanner: wedge: got a scan of 38 characters; "
                             "e-voucher: valid CHSEV1-ABCD…-D6EC\n")
    assert "scan a code within 5 s" in result.stderr


@pytest.mark.parametrize(("typed", "expected", "code"), [
    ("https://example.com/not-a-voucher\n", "e-voucher: evoucher.not_evoucher", 0),
    ("CHSEV1-ABCDEFGHIJKLMNOPQRSTUVWXYZ-0000\n", "e-voucher: evoucher.checksum_mismatch", 0),
    ("", "FAIL scanner: wedge: no scan", 3),
], ids=["url", "misread", "nothing"])
def test_wedge_scanner_test_verdicts(site: Path, monkeypatch: pytest.MonkeyPatch, capsys,
                                     typed: str, expected: str, code: int) -> None:
    read_end, write_end = os.pipe()  # a real file descriptor, as a terminal would be
    os.write(write_end, typed.encode())
    os.close(write_end)
    with os.fdopen(read_end) as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        status, lines = run(["devices", "test", "scanner", "--timeout", "2"], capsys)
    assert status == code and expected in lines[0]
    assert "ABCDEFGHIJKLMNOPQRSTUVWXYZ" not in lines[0]  # a scanned token is never echoed


def test_serial_scanner_test(site: Path, pty_port, capsys) -> None:
    port = pty_port()
    config = write_config(site, f'[devices.scanner]\ndriver = "serial"\nport = "{port.path}"\n')
    payload = format_payload()
    done = threading.Event()

    def patient() -> None:  # scans until the kiosk has the port open and reads it
        while not done.wait(0.2):
            port.write(payload.encode() + b"\r")

    scanning = threading.Thread(target=patient, daemon=True)
    scanning.start()
    try:
        code, lines = run(["--config", str(config), "devices", "test", "scanner",
                           "--timeout", "10"], capsys)
    finally:
        done.set()
        scanning.join(2)
    assert code == 0 and "e-voucher: valid" in lines[0]


def test_reprint_from_the_command_line(site: Path, capsys) -> None:
    printer = ReceiptPrinter(load_config(None).devices.printer)  # the site's demo printer
    printer.spool.save(Receipt(
        hospital="永康人民医院", kiosk_id="K01",
        issued_at=datetime.now().astimezone(), patient_name="王五",
        lines=(ReceiptLine("检查费", 500),), shares=(LayerShare("基本医疗保险", 400),),
        self_pay_fen=100, method="card", settlement_id="S-CLI-1", pending=True))
    code, lines = run(["devices", "reprint", "S-CLI-1"], capsys)
    assert code == 0 and lines[0].startswith("PASS printer: reprinted S-CLI-1")
    assert printer.spool.unprinted() == []
    code, lines = run(["devices", "reprint", "S-NOPE"], capsys)
    assert code == 2 and lines[0].startswith("FAIL printer: receipt.not_found")
