"""Fitting dubbed speech to the source timing: what the lip-sync and mux stages can rely on."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from lipsync_sts.errors import UserInputError
from lipsync_sts.segments import Segment
from lipsync_sts.timing import TimingConfig, fit_to_slots, fit_with_resynthesis, speech_envelope, time_stretch

SR = 22050
CEILING = 10 ** (-1 / 20)


def tone(seconds: float, freq: float = 220.0, amplitude: float = 0.5, rate: int = SR) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def slot(start: float, end: float) -> Segment:
    return Segment(start=start, end=end, text="…")


def dominant_frequency(x: np.ndarray, rate: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


def fit(clips, slots, total, **config):
    return fit_to_slots(clips, SR, slots, total, TimingConfig(**config))


# --- the track -------------------------------------------------------------------------------


@pytest.mark.parametrize("total", [1.0, 3.3333, 10.04, 61.7])
@pytest.mark.parametrize("out_rate", [None, 16000, 48000])
def test_dub_track_has_exactly_the_video_duration(total, out_rate):
    track, _ = fit([tone(0.5)], [slot(0.2, 0.6)], total, sample_rate=out_rate)
    assert track.dtype == np.float32 and track.ndim == 1
    assert len(track) == round(total * (out_rate or SR))


def test_track_is_silent_outside_the_dubs():
    track, report = fit([tone(0.5), tone(0.4)], [slot(1.0, 1.5), slot(3.0, 3.4)], 5.0)
    speaking = np.zeros(len(track), bool)
    for r in report:
        speaking[int(round(r["dub_start"] * SR)): int(round(r["dub_end"] * SR))] = True
    assert np.all(track[~speaking] == 0)
    assert np.sqrt(np.mean(track[speaking] ** 2)) > 0.3


def test_track_peaks_at_most_minus_one_dbfs():
    track, _ = fit([tone(0.5, amplitude=1.0), tone(0.5, amplitude=0.99)], [slot(0, 0.5), slot(1, 1.5)], 2.0)
    assert np.max(np.abs(track)) <= CEILING
    assert np.max(np.abs(track)) > CEILING - 0.01  # attenuated to the ceiling, not further


def test_quiet_dub_is_not_amplified():
    track, _ = fit([tone(0.5, amplitude=0.2)], [slot(0, 0.5)], 1.0)
    assert np.max(np.abs(track)) == pytest.approx(0.2, abs=1e-3)


# --- placing and fitting ---------------------------------------------------------------------


def test_clip_that_fits_starts_at_its_slot_and_is_left_unchanged():
    clip = tone(0.8)
    track, (r,) = fit([clip], [slot(1.0, 1.8)], 3.0)
    assert r["dub_start"] == 1.0 and r["speed"] == 1.0 and r["dub_duration"] == pytest.approx(0.8)
    inner = slice(int(0.01 * SR), len(clip) - int(0.01 * SR))  # past the 5 ms edge fades
    np.testing.assert_allclose(track[SR:][inner], clip[inner], atol=1e-6)


def test_long_dub_first_uses_the_silence_after_its_slot():
    track, (first, second) = fit([tone(1.5), tone(0.9)], [slot(0.0, 1.0), slot(4.0, 5.0)], 6.0)
    assert first["speed"] == 1.0 and first["dub_end"] == pytest.approx(1.5)
    assert first["overlap_s"] == 0.0


def test_long_dub_is_sped_up_but_never_beyond_the_cap():
    # 2 s of speech for 1 s of room: the cap (1.25) leaves 0.6 s running into the next slot.
    _, (first, second) = fit([tone(2.0), tone(0.5)], [slot(0.0, 1.0), slot(1.0, 2.0)], 4.0)
    assert first["speed"] == pytest.approx(1.25, abs=1e-3)
    assert first["dub_duration"] == pytest.approx(1.6, abs=1e-3)
    assert first["overlap_s"] == pytest.approx(0.6, abs=1e-3)
    for cap in (1.1, 1.5):
        _, report = fit([tone(2.0), tone(0.5)], [slot(0.0, 1.0), slot(1.0, 2.0)], 4.0, max_speedup=cap)
        assert max(r["speed"] for r in report) <= cap + 1e-3


def test_dub_needing_less_than_the_cap_is_sped_up_just_enough_to_fit():
    _, (first, second) = fit([tone(1.1), tone(0.5)], [slot(0.0, 0.9), slot(1.0, 1.5)], 3.0)
    assert first["speed"] == pytest.approx(1.1, abs=2e-3)
    assert first["dub_end"] <= 1.0 + 1e-3 and first["overlap_s"] == 0.0


def test_speedup_keeps_the_pitch():
    fast = time_stretch(tone(2.0, freq=220.0), 1.25, SR)
    assert len(fast) == round(2.0 * SR / 1.25)
    assert dominant_frequency(fast) == pytest.approx(220.0, abs=1.0)
    # WSOLA splices in phase: the tone stays a pure tone, with no clicks spreading its spectrum.
    spectrum = np.abs(np.fft.rfft(fast * np.hanning(len(fast)))) ** 2
    freqs = np.fft.rfftfreq(len(fast), 1 / SR)
    assert spectrum[np.abs(freqs - 220) < 10].sum() / spectrum.sum() > 0.999


def test_overlapping_dub_pushes_the_next_one_back_instead_of_speaking_over_it():
    _, (first, second, third) = fit(
        [tone(2.0), tone(0.5), tone(0.4)], [slot(0.0, 1.0), slot(1.0, 2.0), slot(2.5, 3.0)], 4.0
    )
    assert first["overlap_s"] > 0
    assert second["dub_start"] == pytest.approx(first["dub_end"])
    assert second["dub_end"] <= third["dub_start"] + 1e-9


def test_pushed_back_dub_speeds_up_to_catch_up_with_its_slot():
    # The second dub starts 0.6 s late with only 0.4 s left before the third slot.
    _, (first, second, third) = fit(
        [tone(2.0), tone(0.45), tone(0.4)], [slot(0.0, 1.0), slot(1.0, 1.5), slot(2.0, 2.5)], 4.0
    )
    assert second["dub_start"] > second["slot_start"]
    assert second["speed"] == pytest.approx(1.125, abs=2e-3)
    assert second["dub_end"] == pytest.approx(third["slot_start"], abs=1e-3)


def test_no_speech_is_dropped_silently():
    clips = [tone(2.0), tone(1.5), tone(0.3), tone(3.0)]
    slots = [slot(0.0, 1.0), slot(1.2, 2.0), slot(2.1, 2.4), slot(4.0, 5.0)]
    _, report = fit(clips, slots, 5.5)
    for clip, r in zip(clips, report):
        assert r["dub_duration"] * r["speed"] == pytest.approx(len(clip) / SR, abs=1e-3)
    # The last one would run past the video end: it starts earlier instead, and says so.
    assert [r["truncated_s"] for r in report] == [0.0, 0.0, 0.0, 0.0] and report[3]["moved"]


def test_dub_running_past_the_video_end_starts_earlier_then_is_truncated_and_reported():
    # 2.0 s at the 1.25 cap is 1.6 s: moved back to 0 it still overflows the 1.5 s video by 0.1 s.
    track, (r,) = fit([tone(2.0, amplitude=0.5)], [slot(0.5, 1.0)], 1.5)
    assert len(track) == round(1.5 * SR)
    assert r["speed"] == pytest.approx(1.25, abs=1e-3)
    assert r["dub_start"] == 0.0 and r["moved"] and r["shift_s"] == pytest.approx(-0.5)
    assert r["truncated_s"] == pytest.approx(0.1, abs=1e-3)
    assert r["dub_end"] == pytest.approx(1.6, abs=1e-3)
    assert np.max(np.abs(track[-10:])) < 0.01  # faded out at the cut, not a click
    assert np.max(np.abs(track[-int(0.1 * SR): -int(0.03 * SR)])) > 0.4


def test_last_dub_moves_into_the_pause_before_it_rather_than_be_cut_but_not_over_the_previous():
    _, (first, last) = fit([tone(0.5), tone(2.0)], [slot(0.0, 0.5), slot(2.0, 2.5)], 3.0)
    assert last["truncated_s"] == 0.0 and last["dub_end"] == pytest.approx(3.0, abs=1e-3)
    assert last["dub_start"] == pytest.approx(3.0 - 1.6, abs=1e-3) and last["moved"]
    _, (first, last) = fit([tone(1.2), tone(2.0)], [slot(0.0, 0.5), slot(1.0, 1.5)], 2.5)
    assert last["dub_start"] == pytest.approx(first["dub_end"], abs=1e-3) and last["truncated_s"] > 0


def test_short_speech_is_slowed_to_fill_its_slot_but_not_below_min_speed():
    _, (short, nearly) = fit([tone(0.5), tone(0.95)], [slot(0.0, 1.0), slot(5.0, 6.0)], 7.0)
    assert short["speed"] == pytest.approx(0.9, abs=1e-3)
    assert nearly["speed"] == pytest.approx(0.95, abs=1e-3)
    assert nearly["dub_end"] == pytest.approx(6.0, abs=1e-3)
    _, (kept,) = fit([tone(0.5)], [slot(0.0, 1.0)], 2.0, min_speed=1.0)
    assert kept["speed"] == 1.0


def test_speed_changes_are_smoothed_between_neighbouring_segments():
    clips = [tone(0.8), tone(2.0), tone(0.8), tone(0.8)]
    slots = [slot(0.0, 0.9), slot(1.0, 2.4), slot(2.5, 3.4), slot(6.0, 6.9)]  # the last is far away
    _, (before, fast, after, far) = fit(clips, slots, 8.0)
    assert fast["speed"] == pytest.approx(1.25, abs=1e-3)
    assert 1.0 < before["speed"] < fast["speed"] and 1.0 < after["speed"] < fast["speed"]
    assert far["speed"] < 1.0  # slowed to fill its slot, untouched by speech 2.6 s away


def test_smoothing_never_slows_a_clip_below_what_it_needs():
    clips = [tone(0.3), tone(1.2), tone(0.3)]
    slots = [slot(0.0, 0.5), slot(0.6, 1.6), slot(1.7, 2.2)]
    _, (_, middle, _) = fit(clips, slots, 3.0)
    assert middle["speed"] >= 1.2 / 1.1 - 1e-3
    assert middle["overlap_s"] == 0.0


def test_report_is_in_segment_order_even_when_the_slots_are_not():
    clips = [tone(0.4, freq=300), tone(0.4, freq=500)]
    track, report = fit(clips, [slot(2.0, 2.5), slot(0.0, 0.5)], 3.0)
    assert [r["index"] for r in report] == [0, 1]
    assert report[0]["dub_start"] == 2.0 and report[1]["dub_start"] == 0.0
    assert dominant_frequency(track[2 * SR: int(2.4 * SR)]) == pytest.approx(300, abs=5)
    assert set(report[0]) == {"index", "slot_start", "slot_end", "dub_start", "dub_end", "dub_duration",
                              "speed", "shift_s", "moved", "gap_used_s", "overlap_s", "truncated_s"}


def test_clips_are_resampled_to_the_output_rate_keeping_their_pitch():
    track, (r,) = fit([tone(1.0, freq=440)], [slot(0.5, 1.5)], 2.0, sample_rate=16000)
    assert len(track) == 32000
    assert dominant_frequency(track[8000:24000], rate=16000) == pytest.approx(440, abs=2)
    assert r["dub_duration"] == pytest.approx(1.0, abs=1e-3)


# --- refusing bad input ----------------------------------------------------------------------


def test_segment_ending_before_it_starts_is_a_user_error():
    with pytest.raises(UserInputError, match="segment 2"):
        fit([tone(0.2), tone(0.2)], [slot(0.0, 0.5), slot(2.0, 1.0)], 3.0)


def test_clip_and_slot_counts_must_match():
    with pytest.raises(ValueError, match="2 clips for 1 slots"):
        fit([tone(0.2), tone(0.2)], [slot(0.0, 0.5)], 1.0)


def test_nan_in_a_clip_is_refused_not_mixed():
    bad = tone(0.2)
    bad[10] = np.nan
    with pytest.raises(ValueError, match="clip 0 holds NaN"):
        fit([bad], [slot(0.0, 0.5)], 1.0)


@pytest.mark.parametrize("fields", [{"max_speedup": 0.9}, {"min_speed": 1.1}, {"peak_dbfs": 1.0}, {"speedup": 2}])
def test_config_refuses_speeds_that_do_not_bracket_one(fields):
    with pytest.raises(ValidationError):
        TimingConfig(**fields)


# --- envelope for the lip-sync stage ---------------------------------------------------------


def test_envelope_is_zero_in_silence_and_one_at_the_loudest_frame():
    track = np.concatenate([np.zeros(SR), tone(1.0, amplitude=0.8), np.zeros(SR), tone(1.0, amplitude=0.08)])
    env = speech_envelope(track, SR, fps=25, n_frames=100)
    assert env.shape == (100,) and env.dtype == np.float32
    assert np.all(env[:25] == 0) and np.all(env[50:75] == 0)
    assert env[25:50].max() == pytest.approx(1.0)
    assert 0.3 < np.median(env[75:100]) < 0.7  # 20 dB quieter: half way down a 40 dB range


def test_envelope_has_one_value_per_video_frame_even_past_the_audio_end():
    env = speech_envelope(tone(1.0), SR, fps=29.97, n_frames=60)
    assert len(env) == 60 and np.all(env[30:] == 0) and np.all(env[1:29] > 0.9)


def test_envelope_of_silence_is_all_zero():
    assert not speech_envelope(np.zeros(SR), SR, fps=30, n_frames=30).any()
    assert not speech_envelope(np.full(SR, 1e-4, np.float32), SR, fps=30, n_frames=30).any()


# --- with real synthesised speech ------------------------------------------------------------


def test_synthesised_dub_fits_the_source_slots():
    from models.tts import TtsConfig, synthesize

    texts = ["नमस्ते दुनिया, आज मौसम बहुत अच्छा है।", "क्या आप मेरे साथ चलेंगे?"]
    speech = [synthesize(t, "hi", TtsConfig()) for t in texts]
    slots = [slot(0.5, 2.3), slot(3.0, 4.2)]
    track, report = fit_to_slots([s.audio for s in speech], 22050, slots, 5.0, TimingConfig(sample_rate=16000))
    assert len(track) == 80000 and np.max(np.abs(track)) <= CEILING
    for r in report:
        assert r["dub_start"] >= r["slot_start"] and 0.9 <= r["speed"] <= 1.25
    env = speech_envelope(track, 16000, fps=25, n_frames=125)
    assert np.all(env[:12] == 0) and env[14:55].mean() > 0.4


# --- the timing report: shift, moved, gap used --------------------------------------------------


def test_report_says_how_far_a_dub_moved_and_how_much_silence_it_took():
    _, (first, second) = fit([tone(1.5), tone(0.5)], [slot(0.0, 1.0), slot(1.6, 2.0)], 3.0)
    assert first["shift_s"] == 0.0 and not first["moved"]
    assert first["gap_used_s"] == pytest.approx(0.5, abs=1e-3)  # 1.0 -> 1.5 of the 0.6 s pause
    _, (first, second, _) = fit([tone(2.0), tone(0.5), tone(0.3)],
                                [slot(0.0, 1.0), slot(1.0, 1.5), slot(3.0, 3.3)], 4.0)
    assert second["moved"] and second["shift_s"] == pytest.approx(first["dub_end"] - 1.0, abs=1e-3)
    _, (early,) = fit([tone(0.5)], [slot(0.5, 1.0)], 2.0, moved_after_s=0.0)
    assert not early["moved"]


# --- faster synthesis when stretching to the cap is not enough -----------------------------------


def test_speech_the_cap_cannot_fit_is_synthesised_again_faster():
    asked = []

    def resynthesize(i, factor):
        asked.append((i, factor))
        return tone(2.0 / factor)  # a TTS speaking `factor` times faster

    clips = [tone(2.0), tone(0.5)]
    slots = [slot(0.0, 1.0), slot(1.5, 2.0)]  # 1.5 s of room: 2.0 s needs 1.33x, over the 1.25 cap
    _, report, used = fit_with_resynthesis(clips, SR, slots, 3.0, TimingConfig(), resynthesize)
    assert [i for i, _ in asked] == [0] and 1.0 < asked[0][1] <= 1.3
    first, second = report
    assert first["rate_factor"] == asked[0][1] and second["rate_factor"] == 1.0
    assert first["overlap_s"] == 0.0 and first["speed"] <= 1.25 + 1e-3
    assert second["dub_start"] == 1.5 and not second["moved"]
    assert len(used[0]) == len(tone(2.0 / asked[0][1]))


def test_faster_synthesis_is_capped_and_what_still_overflows_is_reported():
    factors = []

    def resynthesize(i, factor):
        factors.append(factor)
        return tone(4.0 / factor)

    _, (first, second), _ = fit_with_resynthesis([tone(4.0), tone(0.5)], SR, [slot(0.0, 1.0), slot(1.5, 2.0)],
                                                 4.0, TimingConfig(max_rate_factor=1.2), resynthesize)
    assert max(factors) == pytest.approx(1.2) and first["rate_factor"] == pytest.approx(1.2)
    assert first["speed"] <= 1.25 + 1e-3 and first["overlap_s"] > 0 and second["moved"]


def test_a_pushed_clip_that_fits_its_own_slot_is_not_resynthesised():
    asked = []
    _, report, _ = fit_with_resynthesis(
        [tone(2.5), tone(0.4)], SR, [slot(0.0, 1.0), slot(1.0, 1.5)], 4.0, TimingConfig(max_rate_factor=1.0),
        lambda i, f: asked.append(i) or tone(0.1))
    assert asked == [] and all(r["rate_factor"] == 1.0 for r in report)
    asked.clear()
    fit_with_resynthesis([tone(2.5), tone(0.4)], SR, [slot(0.0, 1.0), slot(1.0, 1.5)], 4.0, TimingConfig(),
                         lambda i, f: asked.append(i) or tone(2.5 / f))
    assert 1 not in asked


def test_without_a_tts_the_fit_is_the_plain_one():
    clips, slots = [tone(2.0), tone(0.5)], [slot(0.0, 1.0), slot(1.2, 2.0)]
    track, report, used = fit_with_resynthesis(clips, SR, slots, 3.0, TimingConfig(), None)
    plain_track, plain = fit(clips, slots, 3.0)
    np.testing.assert_array_equal(track, plain_track)
    assert [r["rate_factor"] for r in report] == [1.0, 1.0]
    assert all({k: v for k, v in r.items() if k != "rate_factor"} == p for r, p in zip(report, plain))
