"""Voice matching: the dub's median F0 within 15 % of the source speaker's."""

from __future__ import annotations

import numpy as np
import pytest

from models.tts import Speech, TtsConfig
from models.tts.voice import (VoiceMatchConfig, choose_voice, median_f0, pitch_shift, shift_ratio, speech_f0)

SR = 16_000


def voiced(f0: float, seconds: float = 1.0, rate: int = SR) -> np.ndarray:
    """A buzz with a few harmonics and slight vibrato: pYIN tracks it like a vowel."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))) / rate
    return (0.3 * sum(np.sin(k * phase) / k for k in range(1, 6))).astype(np.float32)


@pytest.mark.parametrize("f0", [95.0, 210.0])
def test_median_f0_of_a_voice(f0):
    assert median_f0(voiced(f0), SR) == pytest.approx(f0, rel=0.03)


def test_silence_has_no_f0():
    assert median_f0(np.zeros(SR, np.float32), SR) is None
    assert median_f0(np.zeros(100, np.float32), SR) is None


def test_speech_f0_listens_only_inside_the_speech_regions():
    audio = np.concatenate([voiced(300.0, 2.0), voiced(120.0, 2.0), voiced(300.0, 2.0)])
    assert speech_f0(audio, SR, [(2.1, 3.9)]) == pytest.approx(120.0, rel=0.03)
    assert speech_f0(audio, SR, []) is None


@pytest.mark.parametrize("ratio", [0.8, 1.15, 1.35])
def test_pitch_shift_moves_the_pitch_and_keeps_the_length(ratio):
    audio = voiced(150.0, 1.5)
    shifted = pitch_shift(audio, ratio, SR)
    assert len(shifted) == len(audio)
    assert median_f0(shifted, SR) == pytest.approx(150.0 * ratio, rel=0.03)


def test_shift_ratio_only_outside_the_tolerance():
    assert shift_ratio(200.0, 190.0, 0.10) == 1.0
    assert shift_ratio(200.0, 160.0, 0.10) == pytest.approx(1.25)
    assert shift_ratio(None, 160.0, 0.10) == 1.0 and shift_ratio(200.0, None, 0.10) == 1.0


def fake_tts(calls):
    """F0 = base * 2 ** (pitch / 60): male base 65 Hz, any variant 110 Hz, like espeak-ng's curve."""

    def synthesize(text, language, config):
        calls.append((config.voice_variant, config.pitch))
        base = 65.0 if config.voice_variant is None else 110.0
        return Speech(audio=voiced(base * 2 ** (config.pitch / 60), 1.0), sample_rate=SR)

    return synthesize


@pytest.mark.parametrize("source", [80.0, 130.0, 190.0, 280.0])
def test_choose_voice_finds_a_setting_within_tolerance(source):
    calls = []
    choice = choose_voice(source, "text", "hi", TtsConfig(), VoiceMatchConfig(), fake_tts(calls))
    assert choice.voice_variant == (None if source < 160 else "f2")
    assert abs(choice.predicted_f0_hz / source - 1) <= 0.05
    assert len(calls) <= 6  # a few probes, not a sweep


def test_voice_out_of_the_tts_range_takes_the_nearest_setting_and_leaves_the_rest_to_a_shift():
    choice = choose_voice(500.0, "text", "hi", TtsConfig(), VoiceMatchConfig(), fake_tts([]))
    assert choice.pitch == 99 and choice.predicted_f0_hz < 500 / 1.15
    assert shift_ratio(500.0, choice.predicted_f0_hz, 0.10) > 1.15


def test_disabled_or_unknown_source_keeps_the_configured_voice():
    base = TtsConfig(voice_variant="m3", pitch=40)
    for source, config in ((None, VoiceMatchConfig()), (200.0, VoiceMatchConfig(enabled=False))):
        choice = choose_voice(source, "text", "hi", base, config, fake_tts([]))
        assert (choice.voice_variant, choice.pitch) == ("m3", 40)


def test_real_espeak_voice_lands_within_fifteen_percent_of_a_female_and_a_male_speaker():
    from models.tts import synthesize

    text = "नमस्ते दुनिया, आज मौसम बहुत अच्छा है।"
    for source in (120.0, 220.0):
        choice = choose_voice(source, text, "hi", TtsConfig(), VoiceMatchConfig(), synthesize)
        speech = synthesize(text, "hi", TtsConfig(voice_variant=choice.voice_variant, pitch=choice.pitch))
        assert abs(median_f0(speech.audio, speech.sample_rate) / source - 1) <= 0.15
