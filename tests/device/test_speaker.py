"""The speaker with the real espeak-ng and aplay binaries: WAVs that hold the asked words in
the asked voice, health that names what is missing, playback that can be cut short."""

from __future__ import annotations

import subprocess
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from device.config import SpeakerConfig
from device.health import HealthState
from device.speaker import Speaker, wav_seconds

PHRASE = "请站到屏幕正前方"


def wav_dir(tmp_path: Path, **overrides) -> Speaker:
    return Speaker(SpeakerConfig(driver="wav-dir", path=str(tmp_path / "voice"), pace=False,
                                 **overrides))


def espeak(tmp_path: Path, text: str, voice: str, volume: int = 80, rate: int = 150) -> bytes:
    out = tmp_path / "reference.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-a", str(volume), "-s", str(rate), "-w",
                    str(out), "--stdin"], input=text, text=True, check=True)
    return out.read_bytes()


def test_wav_dir_keeps_numbered_wavs_of_exactly_the_words(tmp_path):
    speaker = wav_dir(tmp_path).start()
    assert speaker.health().state is HealthState.OK
    zh = speaker.say(PHRASE, "zh", volume=80, name="quality.no_face")
    en = speaker.say("Please stand in front of the screen", "en", volume=80,
                     name="quality.no_face")
    assert zh is not None and en is not None
    assert [zh.wav.name, en.wav.name] == ["001-zh-quality.no_face.wav",
                                          "002-en-quality.no_face.wav"]
    assert zh.wav.read_bytes() == espeak(tmp_path, PHRASE, "cmn-latn-pinyin")
    assert en.wav.read_bytes() == espeak(tmp_path, "Please stand in front of the screen",
                                         "en-us")
    assert 1.0 < wav_seconds(zh.wav) < 6.0 and zh.synth_ms < 2000
    assert Speaker(speaker.config)._target("x", "zh").name.startswith("003-")  # no overwrite


def test_volume_scales_the_samples(tmp_path):
    speaker = wav_dir(tmp_path)
    loud = speaker.say(PHRASE, "zh", volume=100, name="loud")
    quiet = speaker.say(PHRASE, "zh", volume=20, name="quiet")
    assert loud and quiet

    def peak(path: Path) -> int:
        with wave.open(str(path)) as w:
            return int(np.abs(np.frombuffer(w.readframes(w.getnframes()), np.int16)).max())

    assert peak(quiet.wav) < peak(loud.wav) / 2


def test_debian_cmn_voice_is_refused_for_spelling_pinyin_in_english(tmp_path):
    """espeak-ng 1.51's "cmn" reads 请 as "qing three": the check says so by name."""
    health = wav_dir(tmp_path, zh_voice="cmn").check()
    assert (health.state, health.reason) == (HealthState.DEGRADED, "speaker.voice_unusable")
    assert wav_dir(tmp_path).check().reason == "ok"


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"tts": "espeak-ng-not-installed"}, "speaker.tts_missing"),
    ({"en_voice": "xx-nonexistent"}, "speaker.voice_missing"),
])
def test_missing_engine_or_voice_degrades_and_never_raises(tmp_path, overrides, reason):
    speaker = wav_dir(tmp_path, **overrides).start()
    assert (speaker.health().state, speaker.health().reason) == (HealthState.DEGRADED, reason)
    assert speaker.health().usable
    assert speaker.say("Hello", "en", volume=80, name="x") is None


def test_no_audio_device_degrades_health(tmp_path):
    speaker = Speaker(SpeakerConfig(driver="aplay", device="hw:97,0")).start()
    health = speaker.health()
    assert (health.state, health.reason) == (HealthState.DEGRADED, "speaker.no_audio_device")
    assert speaker.say(PHRASE, "zh", volume=80, name="x") is None
    assert speaker.health().reason == "speaker.no_audio_device"
    speaker.close()


def test_aplay_plays_on_an_alsa_device(tmp_path):
    """ALSA's null PCM needs no sound card: the real aplay opens it and plays the file."""
    speaker = Speaker(SpeakerConfig(driver="aplay", device="null")).start()
    assert speaker.health().reason == "ok"
    spoken = speaker.say(PHRASE, "zh", volume=80, name="x")
    assert spoken is not None and spoken.wav is None and not spoken.interrupted
    speaker.close()


def test_a_paced_prompt_is_cut_short_by_cancel(tmp_path):
    speaker = Speaker(SpeakerConfig(driver="wav-dir", path=str(tmp_path), pace=True))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    spoken = speaker.say(PHRASE, "zh", volume=80, name="x", cancel=cancel)
    assert spoken is not None and spoken.interrupted
    assert time.monotonic() - started < 1.0 < wav_seconds(spoken.wav)


def test_not_configured_is_degraded_not_failed():
    speaker = Speaker(SpeakerConfig())
    assert (speaker.health().state, speaker.health().reason) == (
        HealthState.DEGRADED, "speaker.not_configured")
    assert speaker.say(PHRASE, "zh", volume=80, name="x") is None


def test_config_validation():
    assert SpeakerConfig(driver="wav-dir").validate() == [
        ("path", "is required for the wav-dir driver")]
    assert SpeakerConfig(driver="loud").validate()[0][0] == "driver"
    assert SpeakerConfig(rate_wpm=10).validate()[0][0] == "rate_wpm"
