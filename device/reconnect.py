"""Reconnect with exponential backoff (tenacity), interruptible by a stop event.

Device threads call this when a link drops; each outage starts a fresh backoff so a camera
that ran for hours and then glitched retries quickly, while a dead one backs off to ``max_s``
instead of spinning a CPU core the recogniser needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_when_event_set,
    wait_exponential_jitter,
)

from device.errors import DeviceError

T = TypeVar("T")

RetryHook = Callable[[int, float, DeviceError], None]


def connect_with_backoff(connect: Callable[[], T], *, stop: threading.Event,
                         initial_s: float, max_s: float,
                         on_retry: RetryHook | None = None) -> T | None:
    """Call ``connect`` until it returns; ``None`` once ``stop`` is set.

    Only ``DeviceError`` is retried (the adapter's "not there right now"); anything else is a
    bug and propagates. ``on_retry(attempt, delay_s, error)`` runs before each wait.
    """

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None and state.next_action is not None:
            error = state.outcome.exception()
            assert isinstance(error, DeviceError)
            on_retry(state.attempt_number, state.next_action.sleep, error)

    retrying = Retrying(
        sleep=stop.wait,
        stop=stop_when_event_set(stop),
        wait=wait_exponential_jitter(multiplier=initial_s, max=max_s, jitter=initial_s / 2),
        retry=retry_if_exception_type(DeviceError),
        before_sleep=before_sleep,
        retry_error_callback=lambda _state: None,
    )
    return retrying(connect)
