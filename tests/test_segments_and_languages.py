"""Subtitles round-trip through SubRip; language codes are checked against one table."""

from __future__ import annotations

import pytest

from lipsync_sts.errors import UserInputError
from lipsync_sts.languages import LANGUAGES, get_language
from lipsync_sts.segments import Segment, parse_srt, read_srt, to_srt


def test_srt_round_trip_keeps_times_to_the_millisecond_and_unicode_text():
    segments = [Segment(start=0.5, end=2.25, text="नमस्ते दुनिया"), Segment(start=3661.001, end=3662.0, text="سلام")]
    text = to_srt(segments)
    assert "00:00:00,500 --> 00:00:02,250" in text and "01:01:01,001 --> 01:01:02,000" in text
    assert parse_srt(text) == segments


def test_webvtt_cues_and_multi_line_text_are_read():
    vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nfirst line\nsecond line\n\n00:00:03.000 --> 00:00:04.000\nnext\n"
    assert parse_srt(vtt) == [Segment(start=1.0, end=2.5, text="first line second line"),
                              Segment(start=3.0, end=4.0, text="next")]


def test_a_subtitle_file_without_cues_or_not_in_utf8_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.srt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(UserInputError, match="no timed cues"):
        read_srt(empty)
    latin = tmp_path / "latin1.srt"
    latin.write_bytes("1\n00:00:01,000 --> 00:00:02,000\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(UserInputError, match="not UTF-8"):
        read_srt(latin)


def test_the_22_scheduled_languages_of_india_and_english_are_known():
    assert len(LANGUAGES) == 23
    assert {"hi", "ur", "ta", "te", "bn", "mr", "sat", "mni", "ks", "en"} <= set(LANGUAGES)
    assert get_language("HI").name == "Hindi"


def test_an_unknown_code_lists_every_valid_code():
    with pytest.raises(UserInputError) as err:
        get_language("hindi")
    assert all(code in str(err.value) for code in LANGUAGES)
