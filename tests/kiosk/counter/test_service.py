"""The counter's core without Qt: the staff PIN, what staff type, the queue's bookkeeping,
one key per confirmed charge, enrolment capture and its camera loop, and the rule that a
simulated camera enrols nobody outside demo mode."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import kiosk.counter
from common.errors import ErrorCode
from common.opencv import cv2
from device.config import CameraConfig, DevicesConfig
from kiosk.config import DemoConfig, KioskConfig
from kiosk.counter.charge import ChargeGuard
from kiosk.counter.enrolment import (
    CAPTURING,
    DONE,
    FACE_OK,
    REFUSED,
    CameraLoop,
    EnrolmentCapture,
    PreviewFrame,
    camera_refusal,
)
from kiosk.counter.inputs import BadInput, lookup_key, reversal_reason, withdrawal_reason
from kiosk.counter.pin import PinError, PinGate, PinMissing, hash_pin, verify_pin
from kiosk.counter.queue import DISMISS_REASONS, HandoffQueue
from kiosk.counter.service import CounterHandoff, LookupBy
from kiosk.protocol.schemas import HandoffState, PaymentMethod, SettleRequest
from kiosk.protocol.voucher import format_payload
from tests.ui.helpers import padded

PIN = "246810"
VOUCHER = format_payload("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
T0 = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)


def test_the_core_imports_no_qt_and_no_ui():
    for path in Path(kiosk.counter.__file__).parent.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "PySide6" not in text and "from ui" not in text and "import ui" not in text, path


@pytest.fixture(scope="module")
def pin_hash() -> str:
    return hash_pin(PIN)


def test_pin_hash_round_trip_and_refusals(pin_hash):
    assert pin_hash.startswith("scrypt$16384$8$1$") and PIN not in pin_hash
    assert verify_pin(PIN, pin_hash) and not verify_pin("246811", pin_hash)
    assert not verify_pin("abc", pin_hash)
    assert hash_pin(PIN) != pin_hash  # salted
    for bad in ("12", "12345678901234", "12a4", ""):
        with pytest.raises(PinError):
            hash_pin(bad)
    for broken in ("md5$x", "scrypt$3$8$1$AAAA$AAAA", "scrypt$16384$8$1$!!$AAAA"):
        with pytest.raises(PinError) as exc:
            verify_pin(PIN, broken)
        assert exc.value.code == "pin.hash_invalid"
    with pytest.raises(PinError):
        PinGate("not a hash")  # a broken config fails at start-up, not at the counter


def test_a_missing_pin_hash_says_how_to_set_it():
    with pytest.raises(PinMissing) as exc:
        PinGate("", source="/etc/kiosk/counter.toml")
    assert exc.value.code == "pin.missing"
    assert "python -m ui pin-hash" in exc.value.message
    assert "/etc/kiosk/counter.toml" in exc.value.message and "\n" not in exc.value.message


def test_pin_gate_locks_after_too_many_tries(pin_hash):
    now = [0.0]
    gate = PinGate(pin_hash, max_attempts=3, lockout_s=60, clock=lambda: now[0])
    assert gate.attempt("0000").attempts_left == 2
    assert gate.attempt("1111").attempts_left == 1
    locked = gate.attempt("2222")
    assert not locked.ok and locked.locked_for_s == 60
    assert not gate.attempt(PIN).ok  # even the right PIN, while locked
    now[0] += 61
    assert gate.attempt(PIN).ok


@pytest.mark.parametrize(("by", "text", "key"), [
    (LookupBy.CARD, " YB33078400001001 ", "YB33078400001001"),
    (LookupBy.PATIENT, "P1001", "P1001"), (LookupBy.VOUCHER, VOUCHER + "\r\n", VOUCHER)])
def test_lookup_keys_are_checked_before_sending(by, text, key):
    assert lookup_key(by, text) == key


@pytest.mark.parametrize(("by", "text"), [(LookupBy.CARD, "12"), (LookupBy.CARD, "卡号1234"),
                                          (LookupBy.VOUCHER, "CHSEV1-AAAA-0000"),
                                          (LookupBy.PATIENT, "a b"), (LookupBy.PATIENT, "")])
def test_bad_lookup_keys_are_refused(by, text):
    with pytest.raises(BadInput):
        lookup_key(by, text)


def test_reversal_and_withdrawal_need_a_reason():
    assert reversal_reason("  重复收费 ") == "重复收费"
    assert withdrawal_reason(" 本人要求 ") == "本人要求"
    for check in (reversal_reason, withdrawal_reason):
        for bad in ("", " ", "x", "x" * 201):
            with pytest.raises(BadInput):
                check(bad)


def handoff(handoff_id: str, *, count: int = 1, taken: bool = False,
            state: HandoffState = HandoffState.OPEN) -> CounterHandoff:
    return CounterHandoff(handoff_id=handoff_id, kiosk_id="dev_k1", session_id=f"s-{handoff_id}",
                          reason="face.not_recognised", at=T0, taken_by="dev_c1" if taken else "",
                          kiosk_name="门诊一楼 2号机", count=count, state=state)


def test_queue_says_what_is_new_and_how_long_they_waited():
    now = [T0 + timedelta(seconds=75)]
    queue = HandoffQueue(now=lambda: now[0])
    assert queue.update([handoff("h1")]) == []  # the first load: nothing *arrived*
    assert queue.update([handoff("h2"), handoff("h1")]) == ["h2"]
    assert queue.update([handoff("h2"), handoff("h1", count=2)]) == ["h1"]  # merged again
    assert queue.update([handoff("h2", taken=True), handoff("h1", count=2)]) == []
    assert queue.waited_s(queue.rows[1]) == 75
    now[0] = T0 - timedelta(seconds=5)  # a clock behind the platform's: never negative
    assert queue.waited_s(queue.rows[1]) == 0

    queue.closed(queue.rows[1])  # this console dismissed it: gone at once
    assert [h.handoff_id for h in queue.rows] == ["h2"]
    closed = handoff("h1", count=2, state=HandoffState.DISMISSED)
    assert queue.update([handoff("h2", taken=True), closed]) == []  # closed for everyone
    assert [h.handoff_id for h in queue.rows] == ["h2"]
    assert {r.value for r in DISMISS_REASONS} == {"left", "duplicate", "handled_elsewhere",
                                                  "test"}  # fixed codes, never free text


def request(bill: str = "B1", fen: int = 2_095) -> SettleRequest:
    return SettleRequest(bill_id=bill, patient_id="P1", method=PaymentMethod.CASH,
                         expected_self_pay_fen=fen)


def test_one_key_per_confirmed_charge():
    keys = iter(f"k{i}" for i in range(10))
    guard = ChargeGuard(new_key=lambda: next(keys))
    assert guard.begin(request()) == "k0"
    assert guard.begin(request()) is None  # double confirm while in flight
    guard.unknown()  # the answer was lost
    assert guard.retry_pending
    assert guard.begin(request()) == "k0"  # the same question again
    guard.settled("B1")
    assert guard.begin(request()) is None  # settled here: never again
    assert guard.begin(request("B2")) == "k1"
    guard.refused()  # e.g. the quote changed
    assert guard.begin(request("B2", 3_000)) == "k2"
    guard.unknown()
    assert guard.begin(request("B2", 2_000)) == "k3"  # another amount is another charge
    guard.forget()
    assert not guard.in_flight and guard.begin(request()) == "k4"


def config_with(camera: CameraConfig, demo: bool = False) -> KioskConfig:
    return dataclasses.replace(KioskConfig(), devices=DevicesConfig(camera=camera),
                               demo=DemoConfig(simulated_devices=demo))


def test_a_simulated_camera_enrols_nobody_outside_demo_mode():
    synthetic = CameraConfig(driver="synthetic")
    replay = CameraConfig(driver="folder", path="/var/replay")
    assert camera_refusal(config_with(synthetic)) is ErrorCode.ENROL_SIMULATED_CAMERA
    assert camera_refusal(config_with(replay)) is ErrorCode.ENROL_SIMULATED_CAMERA
    assert camera_refusal(config_with(replay, demo=True)) is None
    assert camera_refusal(config_with(CameraConfig(driver="opencv", device="0"))) is None


# ----------------------------------------------------------------------- enrolment

def variants(image: np.ndarray, n: int = 6) -> list[np.ndarray]:
    """The same person over a few moments: the light changes and the sensor is noisy."""
    framed = padded(image).astype(np.int16)
    rng = np.random.default_rng(7)
    out = []
    for alpha in (1.0, 0.9, 1.1, 0.95, 1.05, 1.0, 0.92, 1.08)[:n]:
        noisy = framed + rng.integers(-6, 7, framed.shape, dtype=np.int16)
        out.append(cv2.convertScaleAbs(np.clip(noisy, 0, 255).astype(np.uint8), alpha=alpha))
    return out


def capture_for(engine, **kwargs) -> EnrolmentCapture:
    return EnrolmentCapture(engine.pack, engine.manifest.embedding_dim,
                            engine.policy.threshold, **kwargs)


def feed(capture: EnrolmentCapture, engine, frames, step_s: float = 0.5):
    status = capture.status
    for i, frame in enumerate(frames):
        analysis = engine.analyse(frame)
        status = capture.feed(analysis.quality.reasons, analysis.template, i * step_s)
        if status.state != CAPTURING:
            break
    return status


def test_good_frames_make_one_template_of_that_person(engine, astronaut, hanks):
    capture = capture_for(engine)
    status = feed(capture, engine, variants(astronaut))
    assert status.state == DONE and status.accepted == 5
    template = capture.template()
    own = engine.template_for(np.ascontiguousarray(astronaut[:, ::-1]), strict=False)
    other = engine.template_for(padded(hanks, (480, 480)), strict=False)
    assert template.similarity(own) > engine.policy.threshold
    assert template.similarity(other) < engine.policy.candidate_threshold


def test_frames_in_one_burst_count_once(engine, astronaut):
    status = feed(capture_for(engine), engine, variants(astronaut), step_s=0.1)
    assert status.state == CAPTURING and status.accepted == 2  # 0.0 and 0.4 s of 0..0.5 s


def test_poor_pictures_are_refused_with_the_reason(engine, astronaut):
    dark = [cv2.convertScaleAbs(f, alpha=0.15) for f in variants(astronaut)]
    status = feed(capture_for(engine, max_frames=6), engine, dark)
    assert status.state == REFUSED and status.reason is ErrorCode.ENROL_QUALITY_POOR
    assert status.detail == "too_dark" and status.accepted == 0
    assert status.guidance.startswith("quality.")


def test_two_people_in_turn_are_refused(engine, astronaut, hanks):
    mixed = [f for pair in zip(variants(astronaut), variants(padded(hanks, (320, 320))),
                               strict=True) for f in pair]
    capture = capture_for(engine)
    status = feed(capture, engine, mixed)
    assert status.state == REFUSED and status.reason is ErrorCode.ENROL_INCONSISTENT
    assert capture.accepted == []
    with pytest.raises(ValueError):
        capture.template()


class Replay:
    """A camera replaying its frames round and round, 0.5 s apart by their timestamps;
    silent once ``frames`` is emptied."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = list(frames)
        self.seq = 0

    def latest(self, timeout: float | None = None):
        if not self.frames:
            threading.Event().wait(min(timeout or 0.0, 0.05))
            return None
        image = self.frames[self.seq % len(self.frames)]
        self.seq += 1
        return type("Frame", (), {"image": image, "timestamp_ns": self.seq * 500_000_000})()


def test_the_camera_loop_previews_then_captures_then_says_the_camera_went_quiet(engine,
                                                                                astronaut):
    previews: list[PreviewFrame] = []
    statuses = []
    done = threading.Event()
    camera = Replay([np.full((480, 640, 3), 30, np.uint8), *variants(astronaut)])
    now = [0.0]
    loop = CameraLoop(engine, camera, previews.append,
                      lambda s: (statuses.append(s), s.state != CAPTURING and done.set()),
                      clock=lambda: now[0], camera_silence_s=1.0)
    loop.start()
    try:
        assert _wait(lambda: len(previews) >= 2)
        assert previews[0].guidance == "quality.no_face" and previews[0].box is None
        assert previews[1].guidance == FACE_OK and previews[1].box is not None
        assert statuses == []  # a preview alone captures nothing
        capture = capture_for(engine)
        loop.begin_capture(capture)
        assert done.wait(20)
        assert statuses[-1].state == DONE and statuses[-1].accepted == 5
        assert [s.accepted for s in statuses] == sorted(s.accepted for s in statuses)
        assert loop.capture is None
        camera.frames.clear()
        now[0] += 2.0  # no frame for longer than the camera's silence
        assert _wait(lambda: previews[-1].guidance == "enrol.camera_failed")
        assert previews[-1].image is None
    finally:
        loop.stop()
    assert not loop.running


def _wait(predicate, timeout_s: float = 20.0) -> bool:
    event = threading.Event()
    for _ in range(int(timeout_s / 0.02)):
        if predicate():
            return True
        event.wait(0.02)
    return predicate()
