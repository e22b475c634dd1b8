"""TTS backends besides espeak-ng, and per-segment synthesis that survives subtitle edits."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from lipsync_sts.errors import UserInputError
from lipsync_sts.segments import Segment
from lipsync_sts.store import ArtifactStore
from models.tts import TtsConfig, synthesize
from models.tts import festival
from tests import tiny_models

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def vits_folder(tmp_path_factory):
    return tiny_models.vits(tmp_path_factory.mktemp("tts") / "mms-tts-hin")


def test_vits_speaks_at_the_configured_rate_finite_and_repeatably(vits_folder):
    config = TtsConfig(backend="vits", model=str(vits_folder), sample_rate=22050)
    a, b = synthesize("मेरा नाम राम है", "hi", config), synthesize("मेरा नाम राम है", "hi", config)
    assert a.sample_rate == 22050 and a.audio.dtype == np.float32 and a.audio.size > 0
    assert np.isfinite(a.audio).all() and np.array_equal(a.audio, b.audio)


def test_vits_without_a_model_folder_says_how_to_supply_one(tmp_path):
    with pytest.raises(UserInputError, match="--tts-model"):
        synthesize("नमस्ते", "hi", TtsConfig(backend="vits"))
    with pytest.raises(UserInputError, match="--tts-model"):
        synthesize("नमस्ते", "hi", TtsConfig(backend="vits", model=str(tmp_path / "missing")))


def test_a_nan_clip_is_an_error_never_a_segment(vits_folder, monkeypatch):
    from models.tts import vits

    monkeypatch.setattr(vits, "synthesize", lambda *a, **k: (np.full(1000, np.nan, np.float32), 16000))
    with pytest.raises(RuntimeError, match="non-finite"):
        synthesize("नमस्ते", "hi", TtsConfig(backend="vits", model=str(vits_folder)))


def test_a_silent_clip_is_a_user_error(vits_folder, monkeypatch):
    from models.tts import vits

    monkeypatch.setattr(vits, "synthesize", lambda *a, **k: (np.zeros(1000, np.float32), 16000))
    with pytest.raises(UserInputError, match="no audible speech"):
        synthesize("नमस्ते", "hi", TtsConfig(backend="vits", model=str(vits_folder)))


def test_gtts_offline_is_a_clear_error(monkeypatch):
    import socket

    def no_network(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(UserInputError, match="gTTS needs a connection"):
        synthesize("नमस्ते", "hi", TtsConfig(backend="gtts"))


@pytest.mark.skipif(not festival.festival_languages(), reason="Festival with an NSK voice is not installed")
def test_festival_nsk_voice_speaks_audibly():
    speech = synthesize("नमस्ते दुनिया", "hi", TtsConfig(backend="festival", sample_rate=16000))
    assert speech.duration > 0.5 and np.abs(speech.audio).max() > 0.05


def test_festival_without_a_voice_for_the_language_is_a_user_error():
    with pytest.raises(UserInputError, match="Festival"):
        synthesize("வணக்கம்", "ta", TtsConfig(backend="festival"))


# --- editable subtitles: only changed lines are synthesised again ---------------------------------

@needs_espeak
def test_editing_one_subtitle_line_resynthesises_exactly_that_segment(tmp_path, monkeypatch):
    import models.tts
    from tasks.synthesize import SpeechClips, SynthesizeConfig, synthesize_segments

    store = ArtifactStore(str(tmp_path / "store"))
    calls = []
    real = models.tts.synthesize
    monkeypatch.setattr(models.tts, "synthesize", lambda text, *a: (calls.append(text), real(text, *a))[1])
    lines = ["मेरा नाम राम है", "मैं घर जा रहा हूँ", "आप कैसे हैं"]
    config = SynthesizeConfig(language="hi")

    def run(texts):
        segs = store.put_json([Segment(start=i, end=i + 1, text=t).model_dump() for i, t in enumerate(texts)],
                              kind="segments")
        return synthesize_segments(store, segs, config)

    first = run(lines)
    assert len(calls) == 3 and first.meta["synthesized"] == 3
    calls.clear()
    edited = [lines[0], "मैं बाज़ार जा रहा हूँ", lines[2]]
    second = run(edited)
    assert calls == ["मैं बाज़ार जा रहा हूँ"] and second.meta == {**second.meta, "synthesized": 1, "reused": 2}
    a, b = SpeechClips.load(store.local_path(first)), SpeechClips.load(store.local_path(second))
    assert np.array_equal(a.clips[0], b.clips[0]) and np.array_equal(a.clips[2], b.clips[2])
    assert a.phonemes[0] == b.phonemes[0] and not np.array_equal(a.clips[1], b.clips[1])
    assert second.sha256 != first.sha256  # so the stages after TTS rerun


def _segments(store: ArtifactStore, texts: list[str]):
    return store.put_json([Segment(start=i, end=i + 1, text=t).model_dump() for i, t in enumerate(texts)],
                          kind="segments")


def test_segments_are_spoken_side_by_side_and_kept_in_their_order(tmp_path, monkeypatch):
    import threading
    import time

    import models.tts
    from models.tts import Speech
    from tasks.synthesize import SpeechClips, SynthesizeConfig, synthesize_segments

    # The first three calls only go on once all three are running: one at a time, they would wait
    # out the barrier's timeout and fail.
    together = threading.Barrier(3, timeout=10)

    def slow_tone(text, language, config):
        if int(text) < 3:
            together.wait()
        time.sleep(0.3 if text == "0" else 0.01)  # the first finishes last
        return Speech(audio=np.full(100 + int(text), 0.1, np.float32), sample_rate=16000)

    monkeypatch.setattr(models.tts, "synthesize", slow_tone)
    monkeypatch.setattr(models.tts, "parallel_calls", lambda config: 3)
    store = ArtifactStore(str(tmp_path / "store"))
    ref = synthesize_segments(store, _segments(store, [str(i) for i in range(6)]), SynthesizeConfig(language="hi"))
    clips = SpeechClips.load(store.local_path(ref)).clips
    assert [len(c) for c in clips] == [100, 101, 102, 103, 104, 105]


def test_of_several_failing_segments_the_first_in_order_is_reported(tmp_path, monkeypatch):
    import time

    import models.tts
    from tasks.synthesize import SynthesizeConfig, synthesize_segments

    def fail_late_ones(text, language, config):
        time.sleep(0.3 if text == "1" else 0.0)  # segment 2 fails first in time
        raise UserInputError(f"segment {text} cannot be spoken")

    monkeypatch.setattr(models.tts, "synthesize", fail_late_ones)
    monkeypatch.setattr(models.tts, "parallel_calls", lambda config: 2)
    store = ArtifactStore(str(tmp_path / "store"))
    with pytest.raises(UserInputError, match="segment 1 cannot"):
        synthesize_segments(store, _segments(store, ["1", "2"]), SynthesizeConfig(language="hi"))


@needs_espeak
def test_espeak_clips_are_the_same_spoken_side_by_side_as_one_by_one(tmp_path, monkeypatch):
    import models.tts
    from tasks.synthesize import SpeechClips, SynthesizeConfig, synthesize_segments

    lines = ["मेरा नाम राम है", "मैं घर जा रहा हूँ", "आप कैसे हैं", "आज मौसम अच्छा है"]
    assert models.tts.parallel_calls(TtsConfig()) >= 1
    side_by_side = ArtifactStore(str(tmp_path / "a"))
    a = SpeechClips.load(side_by_side.local_path(
        synthesize_segments(side_by_side, _segments(side_by_side, lines), SynthesizeConfig(language="hi"))))
    monkeypatch.setattr(models.tts, "parallel_calls", lambda config: 1)
    one_by_one = ArtifactStore(str(tmp_path / "b"))
    b = SpeechClips.load(one_by_one.local_path(
        synthesize_segments(one_by_one, _segments(one_by_one, lines), SynthesizeConfig(language="hi"))))
    assert all(np.array_equal(x, y) for x, y in zip(a.clips, b.clips)) and len(a.clips) == 4
    assert a.phonemes == b.phonemes and all(a.phonemes)


def test_only_backends_that_work_in_child_processes_run_side_by_side():
    from models.tts import parallel_calls

    assert parallel_calls(TtsConfig(backend="vits", model="x")) == 1
    assert parallel_calls(TtsConfig(backend="gtts")) == 1
    assert parallel_calls(TtsConfig()) == parallel_calls(TtsConfig(backend="festival")) >= 1


@needs_espeak
def test_a_different_voice_setting_is_not_served_from_the_clip_cache(tmp_path):
    from tasks.synthesize import clip_key

    assert clip_key("नमस्ते", "hi", TtsConfig()) != clip_key("नमस्ते", "hi", TtsConfig(pitch=60))


def test_loading_many_speech_clips_holds_their_audio_once(tmp_path):
    """A long dub has hundreds of segments: their clips must share one buffer when loaded, not
    each keep a copy of the whole track (memory grew with the square of the segment count)."""
    import tracemalloc

    import numpy as np

    from tasks.synthesize import SpeechClips

    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(4000).astype(np.float32) for _ in range(200)]
    SpeechClips(clips=clips, sample_rate=16000, phonemes=[[] for _ in clips]).save(tmp_path / "clips.npz")
    tracemalloc.start()
    loaded = SpeechClips.load(tmp_path / "clips.npz")
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert all(np.array_equal(a, b) for a, b in zip(clips, loaded.clips))
    total = sum(c.nbytes for c in clips)  # 3.2 MB
    assert held < 2 * total, f"{held / 1e6:.1f} MB held for {total / 1e6:.1f} MB of clips"
