"""The framed serial protocol of the reference card reader (docs/devices.md#card-protocol).

    frame = STX(0x02) LEN(2, big-endian) PAYLOAD(LEN bytes, UTF-8 JSON object)
            CRC(2, big-endian: CRC-16/CCITT-FALSE over LEN+PAYLOAD) ETX(0x03)

The length field makes truncation detectable exactly and the CRC catches line noise; the JSON
payload keeps fields self-describing so readers can add fields without breaking us.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from typing import Any

from common.errors import ErrorCode
from device.card.base import CardData
from device.errors import CardDataError, CardReaderError, NoCard

STX, ETX = 0x02, 0x03
MAX_PAYLOAD = 1024
OVERHEAD = 6  # STX + LEN(2) + CRC(2) + ETX

READ = {"cmd": "read"}
PING = {"cmd": "ping"}


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), as binascii implements it."""
    return binascii.crc_hqx(data, 0xFFFF)


def encode_frame(message: Mapping[str, Any]) -> bytes:
    payload = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if not 1 <= len(payload) <= MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes does not fit a frame")
    body = len(payload).to_bytes(2, "big") + payload
    return bytes([STX]) + body + crc16(body).to_bytes(2, "big") + bytes([ETX])


class FrameDecoder:
    """Bytes in (any chunking), messages out. Bytes before a frame are skipped and counted;
    a bad frame raises ``CardDataError`` once and is dropped, so decoding can resume."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.skipped = 0

    @property
    def pending(self) -> int:
        """Bytes of a frame begun but not complete."""
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_message(self) -> dict[str, Any] | None:
        buf = self._buffer
        start = buf.find(STX)
        if start < 0:
            self.skipped += len(buf)
            buf.clear()
            return None
        self.skipped += start
        del buf[:start]
        if len(buf) < 3:
            return None
        length = int.from_bytes(buf[1:3], "big")
        if not 1 <= length <= MAX_PAYLOAD:
            del buf[:1]
            raise CardDataError(f"frame length {length} out of range",
                                code=ErrorCode.CARD_FRAME_GARBLED)
        total = length + OVERHEAD
        if len(buf) < total:
            return None
        frame = bytes(buf[:total])
        if frame[-1] != ETX:
            del buf[:1]  # resynchronise on the next STX
            raise CardDataError("frame does not end with ETX", code=ErrorCode.CARD_FRAME_GARBLED)
        del buf[:total]
        body, crc = frame[1:3 + length], int.from_bytes(frame[3 + length:5 + length], "big")
        if crc16(body) != crc:
            raise CardDataError("frame checksum mismatch (line noise?)",
                                code=ErrorCode.CARD_FRAME_CHECKSUM)
        try:
            message = json.loads(body[2:].decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CardDataError("frame payload is not UTF-8 JSON",
                                code=ErrorCode.CARD_DATA_INVALID) from exc
        if not isinstance(message, dict):
            raise CardDataError("frame payload is not a JSON object",
                                code=ErrorCode.CARD_DATA_INVALID)
        return message


def card_from_reply(reply: Mapping[str, Any]) -> CardData:
    """Interpret the reader's answer to ``READ``."""
    status = reply.get("status")
    if status == "card":
        card_no, name = reply.get("card_no"), reply.get("name")
        if not isinstance(card_no, str) or not isinstance(name, str):
            raise CardDataError("card reply lacks card_no or name",
                                code=ErrorCode.CARD_DATA_INVALID)
        return CardData(card_no, name)
    if status == "no_card":
        raise NoCard("no card in the reader")
    if status == "error":
        code = str(reply.get("code", "unknown"))[:32]
        raise CardReaderError(f"card reader reported an error ({code})",
                              code=ErrorCode.CARD_READER_ERROR, reader_code=code)
    raise CardDataError("unexpected reply from the card reader", code=ErrorCode.CARD_DATA_INVALID)
