"""Card readers: the framed protocol (by hand-built frames), the serial reader against a
reader emulated on a real pty, the simulated reader and the vendor plug-in seam."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.card import CardData, CardReader, card_reader_from_config
from device.card.protocol import (
    MAX_PAYLOAD,
    OVERHEAD,
    FrameDecoder,
    card_from_reply,
    crc16,
    encode_frame,
)
from device.card.serial_reader import SerialCardReader
from device.card.simulated import SimulatedCardReader
from device.config import CardReaderConfig, DevicesConfig
from device.errors import (
    CardDataError,
    CardReaderError,
    CardReaderUnavailable,
    CardTimeout,
    DeviceConfigError,
    NoCard,
)
from device.health import HealthState

CARD = {"status": "card", "card_no": "330100199001011234", "name": "张小三"}


def frame(payload: bytes, *, crc: int | None = None, etx: int = 0x03) -> bytes:
    """Built by hand from the documented layout, independently of encode_frame."""
    body = len(payload).to_bytes(2, "big") + payload
    crc = crc16(body) if crc is None else crc
    return b"\x02" + body + crc.to_bytes(2, "big") + bytes([etx])


# protocol


def test_crc_is_ccitt_false() -> None:
    assert crc16(b"123456789") == 0x29B1  # the published check value of CRC-16/CCITT-FALSE


def test_encode_matches_the_documented_layout() -> None:
    payload = b'{"cmd":"read"}'
    assert encode_frame({"cmd": "read"}) == frame(payload)
    assert encode_frame({"cmd": "read"})[:3] == b"\x02\x00\x0e"


def test_decoder_handles_chunking_and_leading_noise() -> None:
    data = b"\xff\x00noise" + encode_frame(CARD) + encode_frame({"status": "no_card"})
    decoder = FrameDecoder()
    messages = []
    for byte in data:  # one byte at a time, as a slow UART delivers
        decoder.feed(bytes([byte]))
        while (m := decoder.next_message()) is not None:
            messages.append(m)
    assert messages == [CARD, {"status": "no_card"}]
    assert decoder.skipped == 7 and decoder.pending == 0


@pytest.mark.parametrize(("raw", "code"), [
    (frame(b'{"status":"no_card"}', crc=0x1234), "card.frame_checksum"),
    (frame(b'{"status":"no_card"}', etx=0x04), "card.frame_garbled"),
    (b"\x02\x00\x00" + b"\x00\x00\x03", "card.frame_garbled"),  # zero length
    (b"\x02\xff\xff", "card.frame_garbled"),  # longer than any frame may be
    (frame(b"\xff\xfe not utf-8"), "card.data_invalid"),
    (frame(b"[1, 2, 3]"), "card.data_invalid"),
])
def test_bad_frames_raise_specific_errors(raw: bytes, code: str) -> None:
    decoder = FrameDecoder()
    decoder.feed(raw)
    with pytest.raises(CardDataError) as info:
        decoder.next_message()
    assert info.value.code == code


def test_decoder_resynchronises_after_a_broken_frame() -> None:
    decoder = FrameDecoder()
    decoder.feed(frame(b'{"a":1}', etx=0x00) + encode_frame(CARD))
    with pytest.raises(CardDataError):
        decoder.next_message()
    assert decoder.next_message() == CARD


def test_truncated_frame_waits_for_more() -> None:
    decoder = FrameDecoder()
    decoder.feed(encode_frame(CARD)[:-4])
    assert decoder.next_message() is None and decoder.pending > 0


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_decoder(data: bytes) -> None:
    """Line noise only ever raises ``CardDataError`` with a frame code, each error drops at
    least one byte, anything it returns is a JSON object, and after one longest frame's worth
    of silence the next good frame is read whole."""
    decoder = FrameDecoder()
    decoder.feed(data + bytes(MAX_PAYLOAD + OVERHEAD) + encode_frame(CARD))
    messages, codes = [], set()
    for _ in range(decoder.pending + 1):
        try:
            message = decoder.next_message()
        except CardDataError as exc:
            codes.add(exc.code)
            continue
        if message is None:
            break
        messages.append(message)
    assert codes <= {"card.frame_garbled", "card.frame_checksum", "card.data_invalid"}
    assert all(isinstance(message, dict) for message in messages)
    assert messages and messages[-1] == CARD
    assert decoder.pending == 0


def test_replies() -> None:
    card = card_from_reply(CARD)
    assert (card.card_no, card.name) == ("330100199001011234", "张小三")
    with pytest.raises(NoCard):
        card_from_reply({"status": "no_card"})
    with pytest.raises(CardReaderError) as info:
        card_from_reply({"status": "error", "code": "E42"})
    assert info.value.code == "card.reader_error"
    for bad in ({"status": "card", "card_no": 123, "name": "x"},
                {"status": "card", "card_no": "12", "name": "张三"},
                {"status": "card", "card_no": "330100199001011234", "name": "张\x00三"},
                {"status": "card", "card_no": "330100199001011234", "name": ""},
                {"status": "sideways"}):
        with pytest.raises(CardDataError) as info:
            card_from_reply(bad)
        assert info.value.code == "card.data_invalid"


def test_card_data_never_shows_in_full() -> None:
    card = CardData("330100199001011234", "张小三")
    assert repr(card) == "CardData(card_no='3301**********1234', name='张*三')"
    assert "199001" not in str(card) and "小" not in f"{card}"


# serial reader on a pty


def card_reply(request: dict) -> bytes:
    if request == {"cmd": "ping"}:
        return encode_frame({"status": "ready"})
    return encode_frame(CARD)


def test_serial_reader_reads_a_card(card_device, device_logs) -> None:
    device = card_device(card_reply)
    reader = SerialCardReader(device.port.path, timeout_s=2)
    try:
        assert reader.health().reason == "card.unchecked"
        assert reader.check().state is HealthState.OK
        card = reader.read_card()
        again = reader.read_card()
    finally:
        reader.close()
    assert card == again == CardData("330100199001011234", "张小三")
    assert device.requests == [{"cmd": "ping"}, {"cmd": "read"}, {"cmd": "read"}]
    reads = [r for r in device_logs.records if r.getMessage() == "card read"]
    assert [r.card for r in reads] == [{"card_no": "3301**********1234", "name": "张*三"}] * 2
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in device_logs.records)
    assert "199001011234" not in logged and "张小三" not in logged


@pytest.mark.parametrize(("reply", "error", "code"), [
    (lambda r: encode_frame({"status": "no_card"}), NoCard, "card.no_card"),
    (lambda r: encode_frame(CARD)[:12], CardDataError, "card.frame_truncated"),
    (lambda r: b"\x00\x13\x37 line noise \xff", CardDataError, "card.frame_garbled"),
    (lambda r: frame(json.dumps(CARD).encode(), crc=0), CardDataError, "card.frame_checksum"),
    (lambda r: encode_frame({"status": "error", "code": "E7"}), CardReaderError,
     "card.reader_error"),
    (lambda r: b"", CardTimeout, "card.timeout"),
])
def test_serial_reader_errors(card_device, reply, error, code: str) -> None:
    device = card_device(reply)
    reader = SerialCardReader(device.port.path, timeout_s=0.4)
    try:
        started = time.monotonic()
        with pytest.raises(error) as info:
            reader.read_card()
        assert time.monotonic() - started < 2
    finally:
        reader.close()
    assert info.value.code == code
    if code.startswith("card.frame") or code == "card.timeout":
        assert reader.health().state is HealthState.DEGRADED


def test_serial_reader_unplug_then_replug(pty_port, tmp_path: Path, card_device) -> None:
    link = tmp_path / "ttyCard"
    first = card_device(card_reply)
    link.symlink_to(first.port.path)
    reader = SerialCardReader(str(link), timeout_s=1)
    try:
        assert reader.read_card().card_no == "330100199001011234"
        first.close()
        first.port.unplug()
        link.unlink()
        with pytest.raises(CardReaderUnavailable):
            reader.read_card()
        assert reader.health().state is HealthState.FAILED
        assert reader.check().state is HealthState.FAILED
        second = card_device(card_reply)
        link.symlink_to(second.port.path)
        assert reader.read_card().name == "张小三"
        assert reader.health().state is HealthState.OK
    finally:
        reader.close()


def test_serial_reader_on_missing_port() -> None:
    reader = SerialCardReader("/dev/nonexistent-card-reader")
    with pytest.raises(CardReaderUnavailable):
        reader.read_card(0.1)
    assert reader.health().reason == "card.reader_unavailable"


# simulated reader and the plug-in seam


def test_simulated_reader_behaves_like_a_reader() -> None:
    card = CardData("SIM0000000000001", "张三")
    reader = SimulatedCardReader(card, delay_s=0.05)
    assert reader.read_card() == card
    reader.remove()
    with pytest.raises(NoCard):
        reader.read_card()
    with pytest.raises(CardTimeout):
        reader.read_card(timeout=0.01)
    reader.insert(card)
    reader.script(CardDataError("garbled", code="card.frame_garbled"), card)
    with pytest.raises(CardDataError):
        reader.read_card()
    assert reader.read_card() == card


def test_default_config_gives_no_reader() -> None:
    reader = card_reader_from_config(DevicesConfig().card)
    assert reader.check().state is HealthState.FAILED
    assert reader.health().reason == "card.not_configured"
    with pytest.raises(CardReaderUnavailable) as info:
        reader.read_card()
    assert info.value.code == "card.not_configured"
    simulated = card_reader_from_config(CardReaderConfig(driver="simulated"))
    assert isinstance(simulated, SimulatedCardReader)
    assert simulated.check().state is HealthState.OK


PLUGIN = '''
from device.card import CardData, CardReader
from device.health import DeviceHealth, HealthState


class VendorReader(CardReader):
    def __init__(self, config):
        self.port = config.port

    def read_card(self, timeout=None):
        return CardData("VENDOR000001", "李四")

    def health(self):
        return DeviceHealth("card", HealthState.OK, "card.vendor", self.port)

    def check(self):
        return self.health()

    def close(self):
        pass


class NotAReader:
    pass
'''


def test_vendor_sdk_plugs_in_by_config(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "vendor_sdk_reader.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = CardReaderConfig(driver="python:vendor_sdk_reader:VendorReader", port="COM9")
    assert config.validate() == []
    reader = card_reader_from_config(config)
    assert isinstance(reader, CardReader)
    assert reader.read_card().name == "李四" and reader.health().message == "COM9"
    for driver in ("python:vendor_sdk_reader:NotAReader", "python:no_such_module:X"):
        with pytest.raises(DeviceConfigError):
            card_reader_from_config(CardReaderConfig(driver=driver))
    assert CardReaderConfig(driver="python:bad name").validate()
