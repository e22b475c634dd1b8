"""Speech synthesis with espeak-ng: what the dub stage can rely on."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from lipsync_sts.errors import UserInputError
from lipsync_sts.languages import LANGUAGES
from models.tts import Phoneme, Speech, TtsConfig, espeak_languages, synthesize

# A greeting (or a short phrase) in each language's own script.
SAMPLES = {
    "as": "নমস্কাৰ, আপুনি কেনে আছে?",
    "bn": "নমস্কার, আপনি কেমন আছেন?",
    "gu": "નમસ્તે, તમે કેમ છો?",
    "hi": "नमस्ते, आप कैसे हैं?",
    "kn": "ನಮಸ್ಕಾರ, ನೀವು ಹೇಗಿದ್ದೀರಿ?",
    "kok": "नमस्कार, तुमी कशे आसात?",
    "ml": "നമസ്കാരം, സുഖമാണോ?",
    "mr": "नमस्कार, तुम्ही कसे आहात?",
    "ne": "नमस्ते, तपाईंलाई कस्तो छ?",
    "or": "ନମସ୍କାର, ଆପଣ କେମିତି ଅଛନ୍ତି?",
    "pa": "ਸਤ ਸ੍ਰੀ ਅਕਾਲ, ਤੁਸੀਂ ਕਿਵੇਂ ਹੋ?",
    "sd": "سلام، توهان ڪيئن آهيو؟",
    "ta": "வணக்கம், எப்படி இருக்கிறீர்கள்?",
    "te": "నమస్కారం, మీరు ఎలా ఉన్నారు?",
    "ur": "السلام علیکم، آپ کیسے ہیں؟",
    "en": "Hello, how are you?",
}
ESPEAK_CODES = sorted(code for code, lang in LANGUAGES.items() if lang.espeak)
HINDI = "नमस्ते दुनिया, आज मौसम बहुत अच्छा है।"


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def assert_audible_speech(speech: Speech, min_duration: float = 0.2) -> None:
    assert speech.audio.dtype == np.float32 and speech.audio.ndim == 1
    assert np.all(np.isfinite(speech.audio))
    assert np.max(np.abs(speech.audio)) <= 1.0
    assert speech.duration >= min_duration
    assert rms(speech.audio) > 0.02  # about -34 dBFS: clearly speech, not noise or silence


@pytest.fixture(scope="module")
def hindi() -> Speech:
    return synthesize(HINDI, "hi", TtsConfig())


def test_every_language_with_an_espeak_voice_is_installed_here():
    assert espeak_languages() == ESPEAK_CODES
    assert set(ESPEAK_CODES) == set(SAMPLES)


@pytest.mark.parametrize("code", ESPEAK_CODES)
def test_every_espeak_voice_speaks_audibly_with_phoneme_timings(code):
    speech = synthesize(SAMPLES[code], code, TtsConfig())
    assert_audible_speech(speech, min_duration=0.5)
    assert len([p for p in speech.phonemes if p.phoneme != "_"]) >= 5


def test_speech_is_float32_mono_at_the_configured_sample_rate(hindi):
    assert hindi.sample_rate == 22050
    assert_audible_speech(hindi, min_duration=1.0)
    at_16k = synthesize(HINDI, "hi", TtsConfig(sample_rate=16000))
    assert at_16k.sample_rate == 16000
    assert abs(at_16k.duration - hindi.duration) < 0.002


def test_leading_and_trailing_silence_is_trimmed(hindi):
    threshold = np.max(np.abs(hindi.audio)) * 10 ** (-50 / 20)
    edge = int(0.02 * hindi.sample_rate)
    assert np.max(np.abs(hindi.audio[:edge])) > threshold
    assert np.max(np.abs(hindi.audio[-edge:])) > threshold


def test_phoneme_timings_are_ordered_and_span_the_speech(hindi):
    phonemes = hindi.phonemes
    assert all(isinstance(p, Phoneme) and p.start < p.end for p in phonemes)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(phonemes, phonemes[1:]))
    assert phonemes[0].start < 0.03
    assert 0 <= phonemes[0].start and phonemes[-1].end <= hindi.duration + 1e-9
    assert hindi.duration - phonemes[-1].end < 0.03


def test_phoneme_timings_match_the_audio(hindi):
    """The comma's pause is quiet and the vowels around it are loud, where the timings say."""
    rate = hindi.sample_rate

    def level(p: Phoneme) -> float:
        return rms(hindi.audio[int(p.start * rate): int(p.end * rate)])

    inner_pauses = [p for p in hindi.phonemes[1:-1] if p.phoneme == "_" and p.end - p.start > 0.05]
    vowels = [p for p in hindi.phonemes if p.phoneme[0] in "aeiouəʌɛɪʊ"]
    assert inner_pauses and len(vowels) >= 8
    loudest_pause = max(level(p) for p in inner_pauses)
    assert loudest_pause < 0.1 * np.median([level(p) for p in vowels])


def test_phoneme_timings_survive_resampling():
    speech = synthesize(HINDI, "hi", TtsConfig(sample_rate=16000))
    assert speech.phonemes and speech.duration - speech.phonemes[-1].end < 0.03


def test_repeated_synthesis_gives_identical_audio_and_timings(hindi):
    again = synthesize(HINDI, "hi", TtsConfig())
    np.testing.assert_array_equal(again.audio, hindi.audio)
    assert again.phonemes == hindi.phonemes


def test_speech_asked_for_without_phonemes_is_the_same_audio(hindi):
    from models.tts import espeak

    bare = espeak.synthesize(HINDI, "hi", TtsConfig(), with_phonemes=False)
    np.testing.assert_array_equal(bare.audio, hindi.audio)
    assert bare.phonemes == [] and hindi.phonemes


def test_text_with_shell_metacharacters_is_spoken_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    text = (
        f"नमस्ते $(touch {marker}) `touch {marker}`; touch {marker} | cat && echo 'it' \"said\" > {marker}\n"
        f"दुनिया $HOME * ?"
    )
    speech = synthesize(text, "hi", TtsConfig())
    assert not marker.exists()
    assert_audible_speech(speech, min_duration=2.0)


def test_text_starting_with_a_dash_is_spoken_not_read_as_an_option(tmp_path):
    target = tmp_path / "other.wav"
    speech = synthesize(f"-w {target} --help -v en", "hi", TtsConfig())
    assert not target.exists()
    assert_audible_speech(speech, min_duration=1.0)


def test_quotes_and_newlines_do_not_cut_the_text_short():
    first = synthesize("पहला वाक्य।", "hi", TtsConfig())
    both = synthesize('पहला वाक्य।\n"दूसरा" वाक्य, \'तीसरा\' शब्द।', "hi", TtsConfig())
    assert both.duration > 2 * first.duration
    assert len(both.phonemes) > 2 * len(first.phonemes)


def test_faster_rate_gives_shorter_speech(hindi):
    fast = synthesize(HINDI, "hi", TtsConfig(rate=250))
    assert fast.duration < 0.8 * hindi.duration
    assert fast.phonemes


def test_voice_variant_changes_the_voice(hindi):
    female = synthesize(HINDI, "hi", TtsConfig(voice_variant="f2"))
    assert_audible_speech(female, min_duration=1.0)
    assert len(female.audio) != len(hindi.audio) or not np.array_equal(female.audio, hindi.audio)


def test_unknown_voice_variant_is_a_user_error_listing_the_known_ones():
    with pytest.raises(UserInputError, match="no voice variant 'nosuchvoice'.*f2"):
        synthesize("नमस्ते", "hi", TtsConfig(voice_variant="nosuchvoice"))


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_text_is_a_user_error_not_silence(text):
    with pytest.raises(UserInputError, match="empty text"):
        synthesize(text, "hi", TtsConfig())


@pytest.mark.parametrize("text", ["।", "...", "?!", " - "])
def test_text_without_words_is_a_user_error_not_a_spoken_punctuation_name(text):
    with pytest.raises(UserInputError, match="no letters or digits"):
        synthesize(text, "hi", TtsConfig())


def test_language_without_an_espeak_voice_is_a_user_error_naming_the_ones_that_have_one():
    with pytest.raises(UserInputError, match=r"no voice for Santali \(sat\).*hi \(Hindi\).*ta \(Tamil\)"):
        synthesize("ᱡᱚᱦᱟᱨ", "sat", TtsConfig())


def test_unknown_language_code_is_a_user_error():
    with pytest.raises(UserInputError, match="unknown language code 'xx'"):
        synthesize("hello", "xx", TtsConfig())


@pytest.mark.parametrize(
    "fields",
    [{"backend": "sapi"}, {"rate": 20}, {"pitch": 120}, {"sample_rate": 0},
     {"voice_variant": "f2 -w /tmp/x"}, {"voice_variant": "+f2"}, {"speed": 1.2}],
)
def test_config_refuses_values_espeak_cannot_take(fields):
    with pytest.raises(ValidationError):
        TtsConfig(**fields)


def test_speech_without_the_library_has_no_phonemes_rather_than_wrong_ones(monkeypatch, caplog):
    import models.tts.espeak as espeak
    from models.tts.espeak_phonemes import EspeakLibraryError

    def unavailable(*args):
        raise EspeakLibraryError("cannot load libespeak-ng")

    monkeypatch.setattr(espeak, "phoneme_timings", unavailable)
    speech = synthesize("नमस्ते", "hi", TtsConfig())
    assert_audible_speech(speech)
    assert speech.phonemes == [] and "no phoneme timings" in caplog.text


def test_timings_of_audio_other_than_the_programs_are_dropped(monkeypatch, caplog):
    import dataclasses

    import models.tts.espeak as espeak

    real = espeak.phoneme_timings
    monkeypatch.setattr(espeak, "phoneme_timings",
                        lambda *a: dataclasses.replace(real(*a), n_samples=real(*a).n_samples + 500))
    speech = synthesize("नमस्ते", "hi", TtsConfig())
    assert_audible_speech(speech)
    assert speech.phonemes == [] and "dropping its phoneme timings" in caplog.text
