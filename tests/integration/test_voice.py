"""Spoken prompts through a real checkout: the real runtime on a real platform, the real
espeak-ng writing WAVs (the wav-dir speaker, paced like a real playback), and what was
said compared with the screens' own words synthesised by espeak-ng directly."""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import time
from pathlib import Path

import pytest
from test_checkout_e2e import frame_of, make_runtime, wait_for

from device.config import SpeakerConfig
from device.health import HealthState
from device.speaker import Speaker, Utterance
from kiosk.config import VoiceConfig
from kiosk.flow.machine import FlowView
from kiosk.flow.model import State
from kiosk.provisioning import connect
from kiosk.runtime import KioskRuntime
from kiosk.voice import PromptPlayer, prompt_for

# the fastest speech the config allows: what is said and in which order is the point here
FAST_WPM = 450
P1005_CARD = "YB33078400001005"
P1003_CARD = "YB33078400001003"


@pytest.fixture(scope="module")
def enrolled(platform, engine, astronaut):
    counter = connect(platform.device("counter", "counter-voice"))
    counter.enrol("P1001", engine.template_for(astronaut, strict=False), "v1",
                  dt.datetime.now(dt.UTC))
    return counter


def voiced(runtime: KioskRuntime, speaker: Speaker, **voice) -> tuple[PromptPlayer,
                                                                      list[FlowView]]:
    """A prompt player on ``runtime`` as ``KioskApp`` wires it, and every view it showed."""
    player = PromptPlayer(speaker.start(), VoiceConfig(**voice))
    views: list[FlowView] = []
    runtime.voice = player
    runtime.subscribe(player.on_view)
    runtime.subscribe(views.append)
    player.start()
    return player, views


def wav_dir(tmp_path: Path, pace: bool = True) -> Speaker:
    return Speaker(SpeakerConfig(driver="wav-dir", path=str(tmp_path / "voice"), pace=pace,
                                 rate_wpm=FAST_WPM))


def espeak(text: str, lang: str, out: Path, volume: int = 80) -> bytes:
    voice = "en-us" if lang == "en" else "cmn-latn-pinyin"
    subprocess.run(["espeak-ng", "-v", voice, "-a", str(volume), "-s", str(FAST_WPM),
                    "-w", str(out), "--stdin"], input=text, text=True, check=True)
    return out.read_bytes()


def first(views: list[FlowView], state: State) -> FlowView:
    return next(v for v in views if v.state == state)


def pay(runtime: KioskRuntime, start) -> FlowView:
    start()
    view = wait_for(runtime, lambda v: v.state in (State.BILL_REVIEW, State.FALLBACK))
    assert view.state == State.BILL_REVIEW, view
    time.sleep(0.5)  # the patient listens to the bill before confirming
    runtime.confirm()
    done = wait_for(runtime, lambda v: v.state in (State.DONE, State.FALLBACK))
    assert done.state == State.DONE, done
    return done


def assert_one_at_a_time(spoken: list[Utterance]) -> None:
    for before, after in itertools.pairwise(spoken):
        assert after.started >= before.ended, (before, after)


def test_a_face_checkout_speaks_every_screen_in_order(platform, engine, enrolled, astronaut,
                                                      tmp_path):
    runtime = make_runtime(platform, engine, "kiosk-voice-face")
    runtime.sync_once()
    player, views = voiced(runtime, wav_dir(tmp_path))
    runtime.start(camera=None, sync=False)
    try:
        runtime.start_face()
        frame = frame_of(astronaut, 460)
        deadline = time.monotonic() + 30
        while runtime.last_view.state in (State.IDLE, State.SEARCHING) \
                and time.monotonic() < deadline:
            runtime.process_frame(frame, time.monotonic())
            time.sleep(0.3)
        wait_for(runtime, lambda v: v.state == State.BILL_REVIEW)
        assert player.wait_idle(20)
        runtime.replay_prompt()  # 再听一遍
        time.sleep(0.3)
        runtime.confirm()
        wait_for(runtime, lambda v: v.state in (State.DONE, State.FALLBACK))
        assert player.wait_idle(30)
    finally:
        runtime.stop()
        player.stop()
    spoken = list(player.spoken)
    names = [u.name for u in spoken]
    # in the screens' order, each screen's guidance once (the replay aside)
    guidance = list(dict.fromkeys(v.guidance for v in views if v.state != State.IDLE))
    assert list(dict.fromkeys(names)) == [g for g in guidance if g in names]
    for key in ("searching.look_at_screen", "review.check_and_confirm", "done.paid"):
        assert key in names, names
    assert names.count("review.check_and_confirm") == 2  # once on arrival, once on replay
    assert_one_at_a_time(spoken)
    assert all(u.lang == "zh" and u.wav is not None for u in spoken)
    # the words are the screens' words, amounts included
    review = [u for u in spoken if u.name == "review.check_and_confirm"]
    expected = espeak(prompt_for(first(views, State.BILL_REVIEW), "zh").text, "zh",
                      tmp_path / "review.wav")
    assert review[0].wav.read_bytes() == review[1].wav.read_bytes() == expected
    done = next(u for u in spoken if u.name == "done.paid")
    assert done.wav.read_bytes() == espeak(prompt_for(first(views, State.DONE), "zh").text,
                                           "zh", tmp_path / "done.wav")
    assert sorted((tmp_path / "voice").glob("*.wav")) == [u.wav for u in spoken]


def test_english_is_spoken_in_english(platform, engine, tmp_path):
    runtime = make_runtime(platform, engine, "kiosk-voice-en")
    player, views = voiced(runtime, wav_dir(tmp_path, pace=False))
    runtime.set_language("en")  # the patient touched "English" at the start screen
    runtime.start(camera=None, sync=False)
    try:
        pay(runtime, lambda: runtime.card_read(P1005_CARD))
        assert player.wait_idle(20)
    finally:
        runtime.stop()
        player.stop()
    spoken = list(player.spoken)
    assert {u.lang for u in spoken} == {"en"}
    assert [u.name for u in spoken] == ["lookup.please_wait", "review.check_and_confirm",
                                        "settling.please_wait", "done.paid"]
    done_view = first(views, State.DONE)
    text = prompt_for(done_view, "en").text
    assert "yuan" in text and "Payment complete" in text
    assert spoken[-1].wav.read_bytes() == espeak(text, "en", tmp_path / "en.wav")


def test_mute_speaks_nothing(platform, engine, tmp_path):
    runtime = make_runtime(platform, engine, "kiosk-voice-mute")
    player, views = voiced(runtime, wav_dir(tmp_path, pace=False), mute=True)
    runtime.start(camera=None, sync=False)
    try:
        runtime.card_read(P1003_CARD)
        wait_for(runtime, lambda v: v.state not in (State.IDLE, State.LOOKING_UP))
        runtime.replay_prompt()
        runtime.cancel()
        wait_for(runtime, lambda v: v.state == State.IDLE)
        assert player.wait_idle(5)
    finally:
        runtime.stop()
        player.stop()
    assert len(views) >= 3 and list(player.spoken) == []
    assert not (tmp_path / "voice").exists() or not list((tmp_path / "voice").iterdir())


def test_no_audio_device_degrades_health_and_the_checkout_completes(platform, engine,
                                                                     tmp_path):
    speaker = Speaker(SpeakerConfig(driver="aplay", device="hw:97,0"))
    runtime = make_runtime(platform, engine, "kiosk-voice-mute-device")
    runtime.peripherals = lambda: {"speaker": speaker.health()}
    player, _ = voiced(runtime, speaker)
    runtime.start(camera=None, sync=False)
    try:
        payload = platform.seed["voucher"]["payload"]
        done = pay(runtime, lambda: runtime.voucher_scanned(payload))
        assert done.result is not None and done.result.settlement_id
        assert player.wait_idle(10)
    finally:
        runtime.stop()
        player.stop()
    health = runtime.health()["speaker"]
    assert (health.state, health.reason) == (HealthState.DEGRADED, "speaker.no_audio_device")
    assert all(u.interrupted for u in player.spoken)  # none played: at most cut short
