"""bench_asr_pieces: the long speech it scores ASR on must carry a reference that matches it."""

from __future__ import annotations

import soundfile as sf

from tests.conftest import load_bench


def test_the_long_speech_is_the_news_clips_repeated_whole_with_their_transcripts(testdata, tmp_path):
    bench = load_bench("bench_asr_pieces")
    wav, duration, repeats = bench.build_speech(40.0, tmp_path)
    one = sum(sf.info(testdata / "speech" / f"{name}.wav").duration + 0.5 for name in bench.HINDI_SPEECH)
    assert repeats == max(1, round(40.0 / one))
    assert sf.info(wav).duration == duration
    assert abs(duration - (repeats * one + 0.5)) < 0.01
    reference = wav.with_suffix(".txt").read_text(encoding="utf-8")
    first = (testdata / "speech" / f"{bench.HINDI_SPEECH[0]}.txt").read_text(encoding="utf-8").strip()
    assert reference.count(first) == repeats
