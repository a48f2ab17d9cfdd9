"""May a settlement be accepted while the backend is unreachable? Card-terminal style floor
limits: per transaction, total queued, count queued, and age of the oldest queued item."""

from __future__ import annotations

from kiosk.config import OfflineConfig


def offline_refusal(cfg: OfflineConfig, amount_fen: int, queued_count: int, queued_fen: int,
                    oldest_created_at: float | None, now: float) -> str | None:
    """None if the settlement may be queued offline, else the stable reason code."""
    if cfg.policy != "accept":
        return "offline.refused"
    if amount_fen > cfg.max_amount_fen:
        return "offline.amount_over_limit"
    if queued_count + 1 > cfg.max_count:
        return "offline.too_many_queued"
    if queued_fen + amount_fen > cfg.max_total_fen:
        return "offline.total_over_limit"
    if oldest_created_at is not None and now - oldest_created_at > cfg.max_age_s:
        return "offline.queue_too_old"
    return None
