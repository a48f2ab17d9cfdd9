"""May a settlement be accepted while the backend is unreachable? Card-terminal style floor
limits: per transaction, total queued, count queued, and age of the oldest queued item."""

from __future__ import annotations

from common.errors import ErrorCode
from kiosk.config import OfflineConfig


def offline_refusal(cfg: OfflineConfig, amount_fen: int, queued_count: int, queued_fen: int,
                    oldest_created_at: float | None, now: float) -> ErrorCode | None:
    """None if the settlement may be queued offline, else the stable reason code."""
    if cfg.policy != "accept":
        return ErrorCode.OFFLINE_REFUSED
    if amount_fen > cfg.max_amount_fen:
        return ErrorCode.OFFLINE_AMOUNT_OVER_LIMIT
    if queued_count + 1 > cfg.max_count:
        return ErrorCode.OFFLINE_TOO_MANY_QUEUED
    if queued_fen + amount_fen > cfg.max_total_fen:
        return ErrorCode.OFFLINE_TOTAL_OVER_LIMIT
    if oldest_created_at is not None and now - oldest_created_at > cfg.max_age_s:
        return ErrorCode.OFFLINE_QUEUE_TOO_OLD
    return None
