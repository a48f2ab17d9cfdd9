"""Times a patient or cashier reads are the site's local time ([site] timezone), not the
machine's zone nor UTC; a zone name that does not exist is a config error naming the key."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from common.config_loader import ConfigError
from device.printer import Receipt
from device.printer.layout import receipt_rows
from kiosk.config import parse_config
from kiosk.flow.model import BillLine, KioskQuote
from kiosk.receipts import Station, from_quote

AT_0655_UTC = dt.datetime(2025, 12, 2, 6, 55, tzinfo=dt.UTC).timestamp()  # 14:55 in Beijing
QUOTE = KioskQuote(quote_id="Q1", bill_ids=("B1",), lines=(BillLine("挂号费", "other", 1_000),),
                   total_fen=1_000, layers=(("basic_pool", 600), ("self_pay", 400)),
                   self_pay_fen=400, credit_available_fen=10_000)


def _time_row(receipt: Receipt) -> str:
    return next(row.right for row in receipt_rows(receipt) if row.left == "时间 Time")


def test_a_receipt_shows_beijing_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")  # the machine's zone must not matter
    site = parse_config('[site]\nname = "H"\nkiosk_id = "K1"\n').site
    station = Station.of(site)
    station = Station(station.hospital, station.station_id, zone=station.zone,
                      clock=lambda: AT_0655_UTC)
    receipt = Receipt.from_dict(from_quote(station, "张*", QUOTE, method="card",
                                           self_pay_fen=400, settlement_id="k-1",
                                           pending=True))
    assert receipt.issued_at.utcoffset() == dt.timedelta(hours=8)
    assert _time_row(receipt) == "2025-12-02 14:55"


def test_another_site_zone_is_honoured() -> None:
    site = parse_config('[site]\ntimezone = "Asia/Urumqi"\n').site
    assert site.zone() == ZoneInfo("Asia/Urumqi")
    station = Station("H", "K1", zone=site.zone(), clock=lambda: AT_0655_UTC)
    assert station.now().strftime("%H:%M") == "12:55"


def test_an_unknown_time_zone_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config('[site]\ntimezone = "Mars/Base"\n', "kiosk.toml")
    assert str(caught.value) == ("kiosk.toml:2: 'site.timezone' unknown time zone 'Mars/Base': "
                                 "use an IANA name such as 'Asia/Shanghai'")


def test_the_default_zone_is_the_platforms() -> None:
    from server_stub.config import ServerSection

    assert parse_config("").site.timezone == ServerSection().timezone == "Asia/Shanghai"


def test_a_queued_slip_says_its_credit_terms_are_pending() -> None:
    station = Station("H", "K1", clock=lambda: AT_0655_UTC)
    receipt = Receipt.from_dict(from_quote(station, "张*", QUOTE, method="card",
                                           self_pay_fen=400, settlement_id="k-1",
                                           pending=True))
    rows = {(row.left, row.right) for row in receipt_rows(receipt)}
    assert ("本次信用付 On credit", "4.00") in rows
    assert ("还款到期日 Repay by", "待确认 pending") in rows
    assert ("信用付待还 Credit owed", "待确认 pending") in rows
    assert receipt.receipt_nos == () and receipt.repay_hint == station.repay_hint
