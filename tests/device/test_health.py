"""Health bookkeeping and reconnect backoff: the logic every device thread relies on."""

from __future__ import annotations

import threading

import pytest

from device.errors import CameraUnavailable, DeviceError
from device.health import DeviceEvent, DeviceHealth, HealthState, LinkState, emit
from device.reconnect import connect_with_backoff


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_link_state_life_cycle() -> None:
    clock = Clock()
    link = LinkState("camera", failed_after_s=3.0, stale_after_s=2.0, clock=clock)
    assert (link.health().state, link.health().reason) == (HealthState.DEGRADED,
                                                           "camera.starting")
    clock.now += 3.5
    assert link.health().state is HealthState.FAILED  # never came up
    assert link.connected() is False
    assert link.health() == DeviceHealth("camera", HealthState.OK)
    clock.now += 2.5
    assert link.health().reason == "camera.stalled"  # connected but silent
    link.activity()
    assert link.health().state is HealthState.OK
    link.disconnected("camera.disconnected", "unplugged")
    clock.now += 1.0
    assert link.health().reason == "camera.reconnecting"
    link.disconnected("camera.unavailable", "still gone")  # retries keep the outage start
    clock.now += 2.5
    failed = link.health()
    assert failed.state is HealthState.FAILED and failed.reason == "camera.unavailable"
    assert link.connected() is True  # a reconnection
    link.finished("camera.ended", "video ended")
    assert link.health().state is HealthState.FAILED


def test_emit_survives_a_failing_sink() -> None:
    seen: list[DeviceEvent] = []

    def sink(event: DeviceEvent) -> None:
        seen.append(event)
        raise RuntimeError("UI bug")

    emit(sink, DeviceEvent("camera", "connected", DeviceHealth("camera", HealthState.OK)))
    assert len(seen) == 1


def test_backoff_grows_and_caps_then_connects() -> None:
    calls: list[int] = []
    retries: list[tuple[int, float, str]] = []

    def connect() -> str:
        calls.append(1)
        if len(calls) < 7:
            raise CameraUnavailable("not yet")
        return "link"

    result = connect_with_backoff(connect, stop=threading.Event(), initial_s=0.004,
                                  max_s=0.03,
                                  on_retry=lambda a, d, e: retries.append((a, d, e.code)))
    assert result == "link"
    assert [r[0] for r in retries] == [1, 2, 3, 4, 5, 6]
    delays = [r[1] for r in retries]
    assert delays[0] < delays[2] and max(delays) <= 0.03 + 1e-9
    assert delays[-1] == pytest.approx(0.03)
    assert {r[2] for r in retries} == {"camera.unavailable"}


def test_backoff_stops_when_asked() -> None:
    stop = threading.Event()
    attempts: list[int] = []

    def connect() -> None:
        attempts.append(1)
        if len(attempts) == 3:
            stop.set()
        raise DeviceError("down")

    assert connect_with_backoff(connect, stop=stop, initial_s=0.001, max_s=0.01) is None
    assert len(attempts) == 3


def test_backoff_does_not_hide_bugs() -> None:
    def connect() -> None:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        connect_with_backoff(connect, stop=threading.Event(), initial_s=0.001, max_s=0.01)
