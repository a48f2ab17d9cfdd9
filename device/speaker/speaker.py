"""The kiosk's loudspeaker: text to a WAV with an offline TTS binary, then played or kept.

Synthesis runs the engine as a subprocess (``espeak-ng -v VOICE -a AMPLITUDE -s WPM -w
FILE --stdin``), so a crash or hang in it cannot take the kiosk down and nothing is ever
fetched at run time. The ``aplay`` driver plays the file on an ALSA device; ``wav-dir`` keeps
every prompt as a numbered WAV in a folder (the demo's record, and what tests listen to).

Nothing here raises into the checkout: a missing engine, voice or audio device turns health
``degraded`` with a reason code and the prompt is skipped. Spoken text is never logged (it
can carry an amount); only the prompt's name, language and timings are.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.errors import ErrorCode
from device.config import SpeakerConfig
from device.health import DeviceHealth, HealthState

log = logging.getLogger(__name__)

LANG_VOICES = ("zh", "en")
CHECK_PHRASE = {"zh": "请", "en": "please"}
POLL_S = 0.02  # how quickly a playback notices it was cut short
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
# aplay's words for "there is no such sound card / PCM to open"
NO_DEVICE = ("no soundcards", "audio open error", "cannot find card", "unknown pcm",
             "no such file or directory", "no such device")


@dataclass(frozen=True)
class Utterance:
    """One prompt that was spoken (or cut short): what, where, and for how long."""

    name: str  # the prompt's name (its first text key), never the text
    lang: str
    wav: Path | None  # wav-dir: the kept file; aplay: None (the temporary file is gone)
    synth_ms: float
    started: float  # monotonic seconds: playback start and end
    ended: float
    interrupted: bool


class Speaker:
    """One audio output. ``say`` blocks its caller (the voice's worker thread) until the
    prompt has played or ``cancel`` is set; ``health`` reports the last attempt."""

    def __init__(self, config: SpeakerConfig, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.config = config
        self.clock = clock
        self._lock = threading.Lock()
        self._health = (DeviceHealth("speaker", HealthState.DEGRADED,
                                     ErrorCode.SPEAKER_NOT_CONFIGURED,
                                     "no [devices.speaker] driver in the config: prompts are not "
                                     "spoken") if config.driver == "none"
                        else DeviceHealth("speaker", HealthState.OK))
        self._seq = 0
        self._tmp: Path | None = None
        if config.driver == "wav-dir":
            folder = Path(config.path)
            existing = [int(p.name[:3]) for p in folder.glob("[0-9][0-9][0-9]-*.wav")]
            self._seq = max(existing, default=0)

    @property
    def configured(self) -> bool:
        return self.config.driver != "none"

    def start(self) -> Speaker:
        """Check the engine, the voices and the audio device once at start-up, so a kiosk
        with no sound shows it in health before the first patient."""
        if self.configured:
            self.check()
        return self

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def health(self) -> DeviceHealth:
        with self._lock:
            return self._health

    def _set(self, reason: str = "ok", message: str = "") -> DeviceHealth:
        state = HealthState.OK if reason == "ok" else HealthState.DEGRADED
        health = DeviceHealth("speaker", state, reason, message)
        with self._lock:
            changed, self._health = self._health != health, health
        if changed and state is not HealthState.OK:
            log.warning("speaker.degraded", extra={"reason": reason, "driver":
                                                   self.config.driver})
        return health

    # ------------------------------------------------------------------ checks
    def check(self) -> DeviceHealth:
        """Engine present, both voices speak their language, the audio device opens."""
        if not self.configured:
            return self.health()
        missing = self._missing_binary()
        if missing is not None:
            return missing
        for lang in LANG_VOICES:
            problem = self._voice_problem(lang)
            if problem is not None:
                return self._set(*problem)
        if self.config.driver == "aplay":
            silence = self._scratch() / "check.wav"
            write_silence(silence, 0.05)
            problem = self._play_problem(silence, threading.Event())
            if problem is not None:
                return self._set(*problem)
        return self._set()

    def _missing_binary(self) -> DeviceHealth | None:
        if shutil.which(self.config.tts) is None:
            return self._set(ErrorCode.SPEAKER_TTS_MISSING, f"TTS engine {self.config.tts!r} not "
                             "installed (Debian package espeak-ng)")
        if self.config.driver == "aplay" and shutil.which(self.config.player) is None:
            return self._set(ErrorCode.SPEAKER_PLAYER_MISSING, f"player {self.config.player!r} not "
                             "installed (Debian package alsa-utils)")
        return None

    def _voice_problem(self, lang: str) -> tuple[str, str] | None:
        """An installed voice that speaks its language (espeak-ng's phoneme output switches
        to "(en)" where a voice spells words out as English instead)."""
        voice = self.voice(lang)
        try:
            proc = subprocess.run([self.config.tts, "-v", voice, "-q", "-x", "--stdin"],
                                  input=CHECK_PHRASE[lang], capture_output=True, text=True,
                                  timeout=self.config.timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return ErrorCode.SPEAKER_TTS_FAILED, f"{type(exc).__name__} running {self.config.tts}"
        if proc.returncode != 0 or not proc.stdout.strip():
            return ErrorCode.SPEAKER_VOICE_MISSING, f"voice {voice!r} not available: " \
                                            f"{proc.stderr.strip()[:120]}"
        if lang != "en" and "(en)" in proc.stdout:
            return ErrorCode.SPEAKER_VOICE_UNUSABLE, f"voice {voice!r} reads {lang} as English " \
                                             "letters; use cmn-latn-pinyin"
        return None

    def voice(self, lang: str) -> str:
        return self.config.en_voice if lang == "en" else self.config.zh_voice

    # ------------------------------------------------------------------ speech
    def say(self, text: str, lang: str, *, volume: int, name: str,
            cancel: threading.Event | None = None) -> Utterance | None:
        """Synthesise ``text`` in ``lang`` at ``volume`` (0-100, 100 = the engine's normal
        level) and play it; None when nothing could be spoken (health says why)."""
        if not self.configured or not text:
            return None
        cancel = cancel or threading.Event()
        missing = self._missing_binary()
        if missing is not None:
            return None
        wav = self._target(name, lang)
        synth_start = self.clock()
        problem = self.synthesise(text, lang, volume, wav)
        synth_ms = (self.clock() - synth_start) * 1000
        if problem is not None:
            self._set(*problem)
            return None
        started = self.clock()
        interrupted = cancel.is_set()
        if not interrupted and self.config.driver == "aplay":
            problem = self._play_problem(wav, cancel)
            wav.unlink(missing_ok=True)
            if problem is not None:
                self._set(*problem)
                return None
            interrupted = cancel.is_set()
        elif not interrupted and self.config.pace:
            interrupted = cancel.wait(wav_seconds(wav))
        ended = self.clock()
        self._set()
        spoken = Utterance(name, lang, wav if self.config.driver == "wav-dir" else None,
                           synth_ms, started, ended, interrupted)
        log.debug("speaker.spoke", extra={"prompt": name, "lang": lang,
                                          "synth_ms": round(synth_ms, 1),
                                          "played_ms": round((ended - started) * 1000),
                                          "interrupted": interrupted})
        return spoken

    def synthesise(self, text: str, lang: str, volume: int, out: Path) -> tuple[str, str] | None:
        """Write ``text`` as a WAV to ``out``; a (reason, message) problem, or None."""
        cmd = [self.config.tts, "-v", self.voice(lang), "-a", str(volume),
               "-s", str(self.config.rate_wpm), "-w", str(out), "--stdin"]
        try:
            proc = subprocess.run(cmd, input=text, capture_output=True, text=True,
                                  timeout=self.config.timeout_s, check=False)
        except subprocess.TimeoutExpired:
            return (ErrorCode.SPEAKER_TTS_FAILED,
                    f"synthesis took over {self.config.timeout_s:.0f} s")
        except OSError as exc:
            return ErrorCode.SPEAKER_TTS_MISSING, f"{type(exc).__name__} running {self.config.tts}"
        if proc.returncode != 0 or not out.exists():
            reason = (ErrorCode.SPEAKER_VOICE_MISSING if "voice" in proc.stderr.lower()
                      else ErrorCode.SPEAKER_TTS_FAILED)
            return reason, proc.stderr.strip()[:160] or f"exit status {proc.returncode}"
        return None

    def _play_problem(self, wav: Path, cancel: threading.Event) -> tuple[str, str] | None:
        """Play ``wav`` until it ends or ``cancel`` is set; a problem, or None."""
        try:
            proc = subprocess.Popen([self.config.player, "-q", "-D", self.config.device,
                                     str(wav)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
        except OSError as exc:
            return (ErrorCode.SPEAKER_PLAYER_MISSING,
                    f"{type(exc).__name__} running {self.config.player}")
        while proc.poll() is None:
            if cancel.wait(POLL_S):
                proc.terminate()
                proc.wait(timeout=5)
                return None
        stderr = proc.stderr.read() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if proc.returncode == 0:
            return None
        first = next((line for line in stderr.splitlines() if line.strip()), "")
        if any(words in stderr.lower() for words in NO_DEVICE):
            return ErrorCode.SPEAKER_NO_AUDIO_DEVICE, f"audio device {self.config.device!r} " \
                                              f"cannot be opened: {first[:120]}"
        return ErrorCode.SPEAKER_PLAYBACK_FAILED, first[:160] or f"exit status {proc.returncode}"

    def _target(self, name: str, lang: str) -> Path:
        """wav-dir: the next numbered file kept in the folder; aplay: a scratch file."""
        with self._lock:
            self._seq += 1
            seq = self._seq
        file = f"{seq:03d}-{lang}-{SAFE_NAME.sub('_', name)}.wav"
        if self.config.driver != "wav-dir":
            return self._scratch() / file
        folder = Path(self.config.path)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / file

    def _scratch(self) -> Path:
        with self._lock:
            if self._tmp is None:
                self._tmp = Path(tempfile.mkdtemp(prefix="kiosk-voice-"))
            return self._tmp


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def write_silence(path: Path, seconds: float, rate: int = 22050) -> None:
    """A short mono 16-bit silence: opening the audio device with it is inaudible."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\0\0" * int(rate * seconds))
