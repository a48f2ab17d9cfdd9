"""Time as the platform stores it (integer UTC milliseconds) and as people read it (a local day)."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_datetime(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def from_datetime(value: dt.datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("naive datetime: a time zone is required")
    return int(value.timestamp() * 1000)


def day_bounds(day: dt.date, timezone: str) -> tuple[int, int]:
    """[start, end) of a local calendar day in UTC milliseconds (DST-safe)."""
    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return from_datetime(start), from_datetime(end)


def local_day(ms: int, timezone: str) -> dt.date:
    return to_datetime(ms).astimezone(ZoneInfo(timezone)).date()


def local_year(ms: int, timezone: str) -> int:
    return local_day(ms, timezone).year
