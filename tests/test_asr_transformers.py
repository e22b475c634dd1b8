"""transformers ASR backend (Whisper and CTC) against tiny random models of the real classes."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from lipsync_sts.errors import UserInputError
from models.asr import AsrConfig, transcribe
from models.asr.chunks import plan_windows
from models.asr.hf import group_words
from tests import tiny_models

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng makes the test speech")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("asr")
    return {"whisper": tiny_models.whisper(base / "whisper"), "ctc": tiny_models.wav2vec2_ctc(base / "ctc")}


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """Real (synthetic) Hindi speech, 16 kHz mono."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng makes the test speech")
    path = tmp_path_factory.mktemp("speech") / "hi.wav"
    subprocess.run(["espeak-ng", "-v", "hi", "-w", str(path), "मेरा नाम राम है। मैं घर जा रहा हूँ।"], check=True)
    audio, rate = sf.read(path, dtype="float32")
    import librosa

    return librosa.resample(audio, orig_sr=rate, target_sr=16_000)


def _write(path, audio):
    sf.write(path, audio, 16_000)
    return path


def _config(folder, **kw):
    return AsrConfig(backend="transformers", model=str(folder), beam_size=1, **kw)


@pytest.mark.parametrize("family", ["whisper", "ctc"])
def test_segments_lie_inside_the_audio_in_order(folders, speech, tmp_path, family):
    wav = _write(tmp_path / "a.wav", speech)
    segments = transcribe(wav, "hi", _config(folders[family]))
    duration = len(speech) / 16_000
    for seg in segments:
        assert 0 <= seg.start < seg.end <= duration + 1e-3 and seg.text.strip()
    assert [s.start for s in segments] == sorted(s.start for s in segments)


def test_long_audio_is_cut_into_windows_in_the_pauses_and_times_are_global(folders, speech, tmp_path, monkeypatch):
    from models.asr import hf

    pause = np.zeros(16_000, np.float32)
    long_audio = np.concatenate([speech, pause] * 12)  # ~50 s: two windows at least
    wav = _write(tmp_path / "long.wav", long_audio)
    seen = []
    real = hf.transcribe_windows
    monkeypatch.setattr(hf, "transcribe_windows", lambda audio, windows, *a, **k: (seen.extend(windows), real(audio, windows, *a, **k))[1])
    segments = transcribe(wav, "hi", _config(folders["ctc"], window_s=20.0))
    assert len(seen) >= 3 and all(b - a <= 20.0 + 1e-6 for a, b in seen)
    assert segments and segments[-1].end > 30.0  # times are in the whole audio, not the window


def test_silence_gives_no_segments(folders, tmp_path):
    wav = _write(tmp_path / "silence.wav", np.zeros(32_000, np.float32))
    assert transcribe(wav, "hi", _config(folders["whisper"])) == []


def test_whisper_without_the_language_in_its_vocabulary_is_a_user_error(folders, speech, tmp_path):
    wav = _write(tmp_path / "a.wav", speech)
    with pytest.raises(UserInputError, match="cannot transcribe"):
        transcribe(wav, "kn", _config(folders["whisper"], vad=False))


def test_missing_model_folder_says_how_to_supply_one(tmp_path):
    with pytest.raises(UserInputError, match="--asr-model"):
        transcribe(tmp_path / "a.wav", "hi", _config(tmp_path / "nowhere"))


def test_transformers_backend_needs_a_model():
    with pytest.raises(UserInputError, match="--asr-model"):
        transcribe("x.wav", "hi", AsrConfig(backend="transformers"))


def test_windows_are_runs_of_whole_regions_within_the_limit():
    regions = [(0.5, 8.0), (9.0, 20.0), (21.0, 29.0), (30.0, 31.0)]
    windows = plan_windows(regions, 32.0, 25.0)
    assert all(b - a <= 25.0 for a, b in windows)
    for start, end in regions:  # no region is cut when it fits in a window
        assert any(a <= start and end <= b for a, b in windows)


def test_a_region_longer_than_a_window_is_cut_into_equal_parts():
    windows = plan_windows([(0.0, 70.0)], 70.0, 30.0)
    assert len(windows) == 3 and all(b - a <= 30.0 for a, b in windows)


def test_without_vad_fixed_windows_tile_the_audio():
    assert plan_windows([], 65.0, 30.0) == [(0.0, 21.667), (21.667, 43.333), (43.333, 65.0)]


def test_words_are_grouped_into_segments_at_pauses():
    words = [(0.0, 0.3, "a"), (0.35, 0.6, "b"), (1.5, 1.8, "c")]
    assert group_words(words, pause_s=0.5) == [(0.0, 0.6, "a b"), (1.5, 1.8, "c")]
