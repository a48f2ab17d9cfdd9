"""Receipts and printers: ESC/POS byte for byte, PNG/PDF renderings, the reprint spool, and
printers reached over loopback TCP and a pty that run out of paper or vanish mid-job."""

from __future__ import annotations

import dataclasses
import json
import os
import select
import threading
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from device.config import PrinterConfig
from device.errors import (
    DeviceConfigError,
    PrinterError,
    PrinterOffline,
    PrinterOutOfPaper,
    ReceiptError,
    ReceiptNotFound,
)
from device.health import HealthState
from device.printer import (
    LayerShare,
    Receipt,
    ReceiptLine,
    ReceiptPrinter,
    format_fen,
    render_escpos,
    render_image,
    save_pdf,
    save_png,
)
from device.printer.layout import cell_width, pair_lines, wrap
from device.printer.spool import ReceiptSpool

CST = timezone(timedelta(hours=8))
ESC, GS, FS = b"\x1b", b"\x1d", b"\x1c"
LEFT, CENTER = ESC + b"a\x00", ESC + b"a\x01"


def sample(**changes) -> Receipt:
    receipt = Receipt(
        hospital="永康人民医院", kiosk_id="K01",
        issued_at=datetime(2024, 5, 1, 10, 22, 33, tzinfo=CST), patient_name="张小三",
        lines=(ReceiptLine("挂号费", 1000), ReceiptLine("西药费", 2345)),
        shares=(LayerShare("基本医疗保险", 2000),), self_pay_fen=1345, method="face",
        settlement_id="S20240501001", receipt_nos=("YK01-00000012",), credit_fen=1345,
        credit_due_date=date(2024, 5, 31), credit_outstanding_fen=5345,
        repay_hint=("请在到期日前到人工收费窗口还款", "Repay at the counter"))
    return dataclasses.replace(receipt, **changes) if changes else receipt


def text(line: str) -> bytes:
    return line.encode("gb18030") + b"\n"


def centered(line: str) -> bytes:
    return CENTER + text(line) + LEFT


def native_qr(data: str) -> bytes:
    d = data.encode()
    return b"".join([
        CENTER,
        GS + b"(k\x04\x00" + b"1A2\x00",  # QR model 2
        GS + b"(k\x03\x00" + b"1C\x06",  # module: 6 dots
        GS + b"(k\x03\x00" + b"1E0",  # error correction L
        GS + b"(k" + bytes([len(d) + 3, 0]) + b"1P0" + d,  # store the data
        GS + b"(k\x03\x00" + b"1Q0",  # print the symbol
        LEFT,
    ])


# The sample receipt on a 32-column (58 mm) printer, command by command. Padding is counted
# by hand: a Chinese character takes two columns.
EXPECTED_58MM = b"".join([
    ESC + b"@",  # initialise
    FS + b"&",  # Kanji (GB18030) mode
    GS + b"!\x11" + ESC + b"E\x01" + CENTER,  # double width and height, bold, centred
    text("永康人民医院"),
    GS + b"!\x00" + ESC + b"E\x00" + LEFT,
    centered("自助缴费凭条"),
    centered("Self-service payment receipt"),
    centered("凭条号 Receipt No."),
    GS + b"!\x11" + ESC + b"E\x01" + CENTER,  # the receipt number: double size
    text("YK01-00000012"),
    GS + b"!\x00" + ESC + b"E\x00" + LEFT,
    text("终端 Kiosk" + " " * 19 + "K01"),
    text("时间 Time" + " " * 7 + "2024-05-01 10:22"),
    text("患者 Patient" + " " * 15 + "张*三"),
    text("-" * 32),
    text("项目 Item" + " " * 11 + "金额(元) CNY"),
    text("挂号费" + " " * 21 + "10.00"),
    text("西药费" + " " * 21 + "23.45"),
    text("-" * 32),
    text("合计 Total" + " " * 17 + "33.45"),
    text("基本医疗保险" + " " * 15 + "20.00"),
    text("个人自付 Self-pay" + " " * 10 + "13.45"),
    text("支付方式 Method" + " " * 4 + "刷脸支付 Face"),
    text("-" * 32),
    text("本次信用付 On credit" + " " * 7 + "13.45"),
    text("还款到期日 Repay by" + " " * 3 + "2024-05-31"),
    text("信用付待还 Credit owed" + " " * 5 + "53.45"),
    centered("请在到期日前到人工收费窗口还款"),
    centered("Repay at the counter"),
    text("-" * 32),
    native_qr("S20240501001"),
    ESC + b"M\x01" + CENTER,  # small print (font B)
    text("结算号 Settlement No."),
    ESC + b"M\x00" + LEFT + ESC + b"M\x01" + CENTER,
    text("S20240501001"),
    ESC + b"M\x00" + LEFT,
    centered("谢谢 Thank you"),
    ESC + b"d\x06" + GS + b"V\x00",  # feed 6 lines, full cut
])


# receipt data


def test_escpos_bytes_match_the_expected_commands() -> None:
    assert render_escpos(sample(), columns=32) == EXPECTED_58MM


def test_escpos_is_a_pure_function_and_marks_reprints_and_pending() -> None:
    assert render_escpos(sample()) == render_escpos(sample())
    reprint = render_escpos(sample(), columns=32, reprint=True)
    assert centered("** 重打 REPRINT **") in reprint
    pending = render_escpos(sample(pending=True), columns=32)
    assert centered("** 待确认 PENDING **") in pending
    assert "张小三".encode("gb18030") not in reprint + pending


def test_unknown_profile_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceConfigError):
        render_escpos(sample(), profile="NoSuchPrinter-9000")
    with pytest.raises(DeviceConfigError):
        file_printer(tmp_path, profile="NoSuchPrinter-9000")


def test_printer_without_native_qr_gets_a_raster_and_no_cut() -> None:
    data = render_escpos(sample(), profile="ZJ-5870")  # 58 mm, no QR, no cutter
    assert GS + b"(k" not in data and GS + b"v0" in data
    assert not data.endswith(GS + b"V\x00")
    assert text("-" * 32) in data


def test_receipt_masks_the_name_and_round_trips() -> None:
    receipt = sample(patient_name="欧阳小明")
    assert receipt.patient_name == "欧**明"
    assert Receipt.from_dict(json.loads(json.dumps(receipt.to_dict()))) == receipt
    assert receipt.to_dict()["total_fen"] == 3345


@pytest.mark.parametrize("change", [
    {"self_pay_fen": 1344},  # does not add up
    {"self_pay_fen": 13.45},  # float money
    {"self_pay_fen": True},
    {"lines": ()},
    {"lines": (ReceiptLine("挂号费", 1000), ReceiptLine("西药费", 2345), ReceiptLine("x", 1))},
    {"issued_at": datetime(2024, 5, 1, 10, 22)},  # naive time
    {"method": "bitcoin"},
    {"settlement_id": "../../etc/passwd"},
    {"settlement_id": ""},
    {"hospital": "  "},
    {"kiosk_id": "K\x0701"},
])
def test_invalid_receipts_are_refused(change: dict) -> None:
    with pytest.raises(ReceiptError):
        sample(**change)


def test_bad_lines_are_refused() -> None:
    for args in (("挂号费", -1), ("挂号费", 10.5), ("", 1), ("x" * 65, 1)):
        with pytest.raises(ReceiptError):
            ReceiptLine(*args)
    with pytest.raises(ReceiptError):
        Receipt.from_dict({"hospital": "x"})
    good = sample().to_dict()
    for key, bad in (("lines", "挂号费"), ("lines", [["挂号费", 1000]]), ("extra", "abc"),
                     ("issued_at", 20240501), ("shares", None)):
        with pytest.raises(ReceiptError):
            Receipt.from_dict({**good, key: bad})


def test_money_formatting_is_exact() -> None:
    assert [format_fen(v) for v in (0, 5, 100, 12345, 10**12 + 1, -250)] == [
        "0.00", "0.05", "1.00", "123.45", "10000000000.01", "-2.50"]


def test_layout_counts_printer_columns() -> None:
    assert cell_width("张三 ab") == 7
    assert wrap("一二三四五六", 5) == ["一二", "三四", "五六"]
    assert pair_lines("合计", "1.00", 10) == ["合计  1.00"]
    long = pair_lines("非常非常长的项目名称", "123.45", 16)
    assert long == ["非常非常长的项目", "名称", " " * 10 + "123.45"]
    assert all(cell_width(line) <= 16 for line in long)


# renderings


def test_png_shows_the_receipt_with_a_scannable_qr(tmp_path: Path) -> None:
    path = save_png(sample(pending=True), tmp_path / "receipt.png")
    image = Image.open(path)
    assert image.width == 576 and image.height > 600
    codes = zxingcpp.read_barcodes(image)
    assert [c.text for c in codes] == ["S20240501001"]
    pixels = np.asarray(image.convert("L"))
    assert (pixels < 128).mean() > 0.03  # there is text on it, not a blank page
    top = pixels[:60]
    assert (top < 128).any()  # the hospital name heads the slip


def test_pdf_is_one_page_at_slip_size(tmp_path: Path) -> None:
    path = save_pdf(sample(), tmp_path / "receipt.pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") + data.count(
        b"/Type /Page/") >= 1
    width_pt = 576 / 203 * 72
    assert f"{width_pt:.0f}".encode() in data or f"{width_pt:.2f}".encode() in data


def test_long_item_names_wrap_in_the_image() -> None:
    wide = sample(lines=(ReceiptLine("超" * 40, 1000), ReceiptLine("西药费", 2345)))
    assert render_image(wide).height > render_image(sample()).height


# spool


def test_spool_keeps_unprinted_and_prunes_printed(tmp_path: Path) -> None:
    spool = ReceiptSpool(tmp_path / "spool", keep=3)
    for i in range(5):
        spool.save(sample(settlement_id=f"S{i}"))
        if i != 1:
            spool.mark(f"S{i}", printed=True)
    spool.save(sample(settlement_id="S5"))
    assert set(spool.unprinted()) == {"S1", "S5"}
    remaining = {p.stem for p in (tmp_path / "spool").glob("*.json")}
    assert {"S1", "S5"} <= remaining and len(remaining) == 3
    assert spool.load("S1").settlement_id == "S1"
    with pytest.raises(ReceiptNotFound):
        spool.load("S0")
    with pytest.raises(ReceiptNotFound):
        spool.load("../../etc/passwd")
    assert not list((tmp_path / "spool").glob(".tmp-*"))


def test_corrupt_spool_file_is_a_clear_error(tmp_path: Path) -> None:
    spool = ReceiptSpool(tmp_path)
    spool.save(sample())
    (tmp_path / "S20240501001.json").write_text('{"receipt": {"hospital": ')
    with pytest.raises(ReceiptError) as info:
        spool.load("S20240501001")
    assert info.value.code == "receipt.corrupt"
    assert spool.unprinted() == []


# printers


def file_printer(tmp_path: Path, **changes) -> ReceiptPrinter:
    return ReceiptPrinter(PrinterConfig(driver="file", path=str(tmp_path / "out"),
                                        spool_dir=str(tmp_path / "spool"), **changes))


def test_file_printer_writes_exactly_the_rendered_job(tmp_path: Path) -> None:
    printer = file_printer(tmp_path, columns=32)
    result = printer.print_receipt(sample())
    assert Path(result.destination).read_bytes() == EXPECTED_58MM
    assert result.bytes_sent == len(EXPECTED_58MM)
    assert printer.spool.unprinted() == []
    assert printer.health().state is HealthState.OK
    again = printer.reprint("S20240501001")
    assert "重打".encode("gb18030") in Path(again.destination).read_bytes()
    with pytest.raises(ReceiptNotFound):
        printer.reprint("S404")


def test_missing_device_node_is_offline_and_creates_nothing(tmp_path: Path) -> None:
    printer = ReceiptPrinter(PrinterConfig(driver="file", path="/dev/usb/lp-test-missing",
                                           spool_dir=str(tmp_path / "spool")))
    with pytest.raises(PrinterOffline):
        printer.print_receipt(sample())
    assert not Path("/dev/usb/lp-test-missing").exists()
    assert printer.spool.unprinted() == ["S20240501001"]
    assert printer.check().state is HealthState.FAILED


def network_printer(tmp_path: Path, port: int) -> ReceiptPrinter:
    return ReceiptPrinter(PrinterConfig(driver="network", host="127.0.0.1", tcp_port=port,
                                        timeout_s=2, spool_dir=str(tmp_path / "spool")))


def test_network_printer_prints_and_reports_status(tmp_path: Path, printer_server) -> None:
    printer = network_printer(tmp_path, printer_server.port)
    result = printer.print_receipt(sample())
    assert printer_server.jobs == [render_escpos(sample())]
    assert result.status.online is True and result.status.paper == "ok"
    assert printer.health().state is HealthState.OK
    printer_server.paper = "low"
    assert printer.check().reason == "printer.paper_low"
    assert printer.health().usable


def test_out_of_paper_prints_nothing_and_keeps_the_receipt(tmp_path: Path,
                                                          printer_server) -> None:
    printer_server.paper = "out"
    printer = network_printer(tmp_path, printer_server.port)
    with pytest.raises(PrinterOutOfPaper) as info:
        printer.print_receipt(sample())
    assert info.value.code == "printer.out_of_paper"
    assert printer_server.jobs == [b""]  # only the status queries went out
    assert printer.spool.unprinted() == ["S20240501001"]
    assert printer.health().state is HealthState.FAILED
    printer_server.paper = "ok"  # paper loaded: the cashier reprints
    printer.reprint("S20240501001")
    assert printer.spool.unprinted() == []


def test_offline_printer_is_reported(tmp_path: Path, printer_server) -> None:
    printer_server.online = False
    printer = network_printer(tmp_path, printer_server.port)
    with pytest.raises(PrinterOffline):
        printer.print_receipt(sample())
    assert printer.spool.unprinted() == ["S20240501001"]


def test_printer_vanishing_mid_job_loses_nothing(tmp_path: Path, printer_server) -> None:
    printer_server.vanish_after = 100  # the cable is pulled while the slip prints
    printer = network_printer(tmp_path, printer_server.port)
    with pytest.raises(PrinterOffline) as info:
        printer.print_receipt(sample())
    assert "vanished" in info.value.message or "did not answer" in info.value.message
    assert printer.spool.unprinted() == ["S20240501001"]
    assert printer.health().reason == "printer.offline"
    printer_server.vanish_after = None  # plugged back in
    printer.reprint("S20240501001")
    assert printer_server.jobs[-1] == render_escpos(sample(), reprint=True)
    assert printer.spool.unprinted() == []
    assert printer.health().state is HealthState.OK


def test_unreachable_network_printer(tmp_path: Path, printer_server) -> None:
    port = printer_server.port
    printer_server.close()
    printer = network_printer(tmp_path, port)
    with pytest.raises(PrinterOffline):
        printer.print_receipt(sample())
    assert printer.check().reason == "printer.offline"


def _serial_printer_firmware(port, paper: int, stop: threading.Event,
                             received: bytearray) -> None:
    while not stop.is_set():
        try:
            if not select.select([port.master], [], [], 0.05)[0]:
                continue
            chunk = os.read(port.master, 4096)
        except OSError:
            return
        received += chunk
        for query in range(chunk.count(b"\x10\x04")):
            n = chunk.split(b"\x10\x04")[query + 1][:1]
            os.write(port.master, bytes([0x12 if n == b"\x01" else paper]))


def test_serial_printer_status_and_unplug(tmp_path: Path, pty_port) -> None:
    port = pty_port()
    stop, received = threading.Event(), bytearray()
    firmware = threading.Thread(target=_serial_printer_firmware,
                                args=(port, 0x12, stop, received), daemon=True)
    firmware.start()
    printer = ReceiptPrinter(PrinterConfig(driver="serial", port=port.path, timeout_s=1,
                                           spool_dir=str(tmp_path / "spool")))
    try:
        result = printer.print_receipt(sample())
        assert result.status.paper == "ok"
        assert render_escpos(sample()) in bytes(received)
    finally:
        stop.set()
        firmware.join(2)
    port.unplug()
    with pytest.raises(PrinterOffline):
        printer.reprint("S20240501001")


def test_usb_without_pyusb_is_a_clear_error(tmp_path: Path) -> None:
    printer = ReceiptPrinter(PrinterConfig(driver="usb", usb_vendor_id=0x0416,
                                           usb_product_id=0x5011,
                                           spool_dir=str(tmp_path / "spool")))
    with pytest.raises(PrinterError) as info:
        printer.print_test_slip(datetime.now(UTC))
    assert info.value.code in ("printer.usb_unsupported", "printer.offline")
