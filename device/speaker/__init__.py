"""Spoken prompts: an offline TTS engine and the audio output (``speaker.Speaker``)."""

from __future__ import annotations

from device.speaker.speaker import Speaker, Utterance, wav_seconds

__all__ = ["Speaker", "Utterance", "wav_seconds"]
