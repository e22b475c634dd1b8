"""The pitch tracker (banded Viterbi, compiled observation model, librosa's pYIN written out without
librosa) gives librosa.pyin's track exactly, only sooner."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from models.tts.pitch import pyin
from tests.conftest import REPO, TESTDATA

SR = 16_000


def gliding_voice(seconds: float = 3.0) -> np.ndarray:
    """A buzzy voice gliding 110 -> 220 Hz with vibrato, a pause in the middle and noise at the end."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = 110 * 2 ** (t / seconds) * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voice = sum(np.sin(k * phase) / k for k in range(1, 8)).astype(np.float32)
    voice[int(1.2 * SR): int(1.6 * SR)] = 0
    noise = np.random.default_rng(0).normal(0, 0.3, int(0.5 * SR)).astype(np.float32)
    return np.concatenate([voice, noise])


def test_the_pitch_track_is_librosas_frame_for_frame():
    y = gliding_voice()
    f0, voiced = pyin(y, fmin=60.0, fmax=500.0, sr=SR, frame_length=1024, hop_length=320)
    ref_f0, ref_voiced, _ = librosa.pyin(y, fmin=60.0, fmax=500.0, sr=SR, frame_length=1024, hop_length=320)
    assert np.array_equal(voiced, ref_voiced)
    assert np.array_equal(f0[voiced], ref_f0[ref_voiced])
    assert np.isnan(f0[~voiced]).all()
    # and it is a real track: the glide is found, the pause and the noise are unvoiced
    assert 100 < np.nanmin(f0) and np.nanmax(f0) < 240
    assert not voiced[int(1.3 * SR / 320): int(1.5 * SR / 320)].any()
    assert voiced.mean() > 0.5


SPEECH = TESTDATA / "speech"


@pytest.mark.skipif(not SPEECH.is_dir(),
                    reason="needs ../shared/testdata/speech (real Indian-language speech); absent here")
def test_on_real_speech_too_the_track_is_librosas_at_the_settings_voice_matching_uses():
    from lipsync_sts import media
    from models.tts import voice

    y = media.read_audio(SPEECH / "hi_noa_Bhopal_1910-201989195036_sent_7.wav", voice._RATE)
    kw = dict(fmin=voice._FMIN, fmax=voice._FMAX, sr=voice._RATE, frame_length=voice._FRAME, hop_length=voice._HOP)
    f0, voiced = pyin(y, **kw)
    ref_f0, ref_voiced, _ = librosa.pyin(y, **kw)
    assert np.array_equal(voiced, ref_voiced)
    assert np.array_equal(f0[voiced], ref_f0[ref_voiced])
    assert 0.3 < voiced.mean() < 0.95  # speech with pauses: both voiced and unvoiced frames


def test_voice_matching_tracks_pitch_without_loading_librosa():
    # Importing librosa cost 1.9-3.4 s of the dub's serial chain; the tracker only needs its math.
    import json
    import subprocess
    import sys

    code = ("import json, sys, numpy as np; from models.tts import voice; "
            "t = np.arange(16000) / 16000; y = np.sin(2 * np.pi * 140 * t).astype(np.float32); "
            "print(json.dumps([round(voice.median_f0(y, 16000)), 'librosa' in sys.modules]))")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == [140, False]
