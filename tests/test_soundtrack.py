"""The finished soundtrack: loudness, limiting, ducking, mixing, the timeline picture, stereo mux."""

from __future__ import annotations

import av
import numpy as np
import pytest
import soundfile as sf
from pydantic import ValidationError

from lipsync_sts import media
from lipsync_sts.soundtrack import (SoundtrackConfig, duck_gain, integrated_loudness, k_weighting, limit,
                                    merged_regions, mix, output_channels, to_layout, true_peak)
from lipsync_sts.timeline_plot import render_timeline

FS = 48_000


def sine(seconds: float, dbfs: float, freq: float = 1000.0, rate: int = FS) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds: float, rms_db: float, seed: int = 0, rate: int = FS) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(int(round(seconds * rate)))
    return (10 ** (rms_db / 20) * x).astype(np.float32)


# --- BS.1770 loudness --------------------------------------------------------------------------


def test_k_weighting_matches_the_standard_coefficients_at_48k():
    (b1, a1), (b2, a2) = k_weighting(48_000)
    np.testing.assert_allclose(b1, [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-9)
    np.testing.assert_allclose(a1, [1.0, -1.69065929318241, 0.73248077421585], atol=1e-9)
    np.testing.assert_allclose(b2, [1.0, -2.0, 1.0])
    np.testing.assert_allclose(a2, [1.0, -1.99004745483398, 0.99007225036621], atol=1e-9)


@pytest.mark.parametrize("level", [-23.0, -33.0])
def test_ebu_tech_3341_stereo_sine_reads_its_level(level):
    tone = sine(20.0, level)
    assert integrated_loudness(np.stack([tone, tone], axis=1), FS) == pytest.approx(level, abs=0.1)


def test_gating_ignores_quiet_passages_and_silence():
    loud, quiet = sine(20.0, -23.0), sine(10.0, -36.0)
    programme = np.concatenate([quiet, loud, quiet, np.zeros(10 * FS, np.float32)])
    assert integrated_loudness(np.stack([programme] * 2, axis=1), FS) == pytest.approx(-23.0, abs=0.1)
    assert integrated_loudness(np.zeros(FS, np.float32), FS) == float("-inf")


def test_loudness_does_not_depend_on_the_sample_rate():
    at_48k = integrated_loudness(sine(5.0, -20.0, 500.0), 48_000)
    at_16k = integrated_loudness(sine(5.0, -20.0, 500.0, rate=16_000), 16_000)
    assert at_16k == pytest.approx(at_48k, abs=0.1)


# --- limiter -----------------------------------------------------------------------------------


def test_the_loudness_of_regions_is_that_of_the_regions_joined_without_joining_them():
    programme = np.stack([noise(20.0, -30.0, seed=1), noise(20.0, -30.0, seed=2)], axis=1)
    programme[3 * FS: 9 * FS] += sine(6.0, -14.0, 200.0)[:, None]
    programme[12 * FS: 13 * FS] += sine(1.0, -20.0, 300.0)[:, None]
    regions = [(0.05, 0.3), (2.5, 9.5), (11.9, 13.2)]  # the first is shorter than one 400-ms block
    joined = np.concatenate([programme[int(a * FS): int(b * FS)] for a, b in regions])
    assert integrated_loudness(programme, FS, regions=regions) == integrated_loudness(joined, FS)
    assert integrated_loudness(programme, FS, regions=[]) == float("-inf")


def test_overlapping_speech_regions_count_once():
    assert merged_regions([(5.0, 6.0), (1.0, 2.0), (1.5, 3.0), (3.0, 3.5), (7.0, 7.0)]) == [(1.0, 3.5), (5.0, 6.0)]


def test_limiter_brings_true_peaks_under_the_ceiling_and_leaves_the_rest_alone():
    x = np.concatenate([sine(1.0, -10.0), sine(0.05, 3.0), sine(1.0, -10.0)])
    y = limit(x, FS, -1.0)
    assert true_peak(y) <= 10 ** (-1 / 20) + 1e-6
    np.testing.assert_array_equal(y[: int(0.9 * FS)], x[: int(0.9 * FS)])  # far from the peak: untouched
    quiet = sine(1.0, -6.0)
    np.testing.assert_array_equal(limit(quiet, FS, -1.0), quiet)


def test_limiter_catches_inter_sample_peaks():
    # fs/4 at 45 degrees: every sample is at 0.707 of the real peak.
    x = (0.99 * np.sin(2 * np.pi * np.arange(FS) / 4 + np.pi / 4)).astype(np.float32)
    assert np.abs(x).max() < 0.71 and true_peak(x) > 0.95
    assert true_peak(limit(x, FS, -1.0)) <= 10 ** (-1 / 20) + 1e-6


# --- ducking -----------------------------------------------------------------------------------


def test_duck_gain_is_full_depth_over_speech_and_one_away_from_it():
    g = duck_gain(10 * FS, FS, [(3.0, 5.0)], depth_db=20.0, ramp_s=0.2, pad_s=0.1)
    assert g.shape == (10 * FS,)
    np.testing.assert_allclose(g[int(2.9 * FS): int(5.1 * FS)], 0.1, atol=1e-4)  # speech plus padding
    np.testing.assert_allclose(g[: int(2.69 * FS)], 1.0, atol=1e-6)
    np.testing.assert_allclose(g[int(5.31 * FS):], 1.0, atol=1e-6)
    ramp = g[int(2.7 * FS): int(2.9 * FS)]
    assert np.all(np.diff(ramp) <= 1e-7)  # a smooth ramp down, no steps back up


def test_drop_depth_silences_the_original_under_speech():
    g = duck_gain(4 * FS, FS, [(1.0, 2.0)], depth_db=90.0, ramp_s=0.1, pad_s=0.0)
    assert g[int(1.5 * FS)] < 1e-4


# --- the mix -----------------------------------------------------------------------------------


def scene(channels: int = 2):
    """10 s: music throughout, the original voice at 2-5 s, the dub at 2-5.2 s."""
    music = np.stack([noise(10.0, -35.0, seed=c) for c in range(channels)], axis=1)
    original = music.copy()
    original[2 * FS: 5 * FS] += sine(3.0, -12.0, 200.0)[:, None]
    dub = np.zeros(10 * FS, np.float32)
    dub[2 * FS: int(5.2 * FS)] = sine(3.2, -30.0, 300.0)
    return dub, original, [(2.0, 5.0), (2.0, 5.2)]


def test_mix_keeps_the_original_outside_speech_up_to_one_gain():
    dub, original, speech = scene()
    out, stats = mix(dub, original, FS, speech, SoundtrackConfig())
    assert out.shape == original.shape and out.dtype == np.float32
    outside = np.r_[0: int(1.6 * FS), int(5.6 * FS): 10 * FS]
    # One gain, the one reported (to its two decimals of a dB).
    gain = float((out[outside] * original[outside]).sum() / (original[outside] ** 2).sum())
    np.testing.assert_allclose(out[outside], original[outside] * gain, rtol=1e-4, atol=1e-6)
    assert 20 * np.log10(gain) == pytest.approx(stats["programme_gain_db"], abs=0.0051)
    assert stats["original"] == "ducked" and stats["duck_db"] == 20.0


def test_mix_leaves_the_callers_tracks_as_they_were():
    dub, original, speech = scene()
    kept_dub, kept_original = dub.copy(), original.copy()
    mix(dub, original, FS, speech, SoundtrackConfig())
    assert np.array_equal(dub, kept_dub) and np.array_equal(original, kept_original)


def test_dub_replaces_the_original_voice_at_its_level_and_the_original_is_ducked_under_it():
    dub, original, speech = scene()
    out, stats = mix(dub, original, FS, speech, SoundtrackConfig())
    inside = slice(int(2.5 * FS), int(4.5 * FS))
    spectrum = np.abs(np.fft.rfft(out[inside, 0]))
    freqs = np.fft.rfftfreq(inside.stop - inside.start, 1 / FS)
    dub_level, old_voice = spectrum[np.argmin(np.abs(freqs - 300))], spectrum[np.argmin(np.abs(freqs - 200))]
    assert 20 * np.log10(dub_level / old_voice) == pytest.approx(20.0, abs=1.0)  # equal voices, then ducked 20 dB
    assert stats["dub_gain_db"] == pytest.approx(18.0, abs=0.5)  # -30 dBFS dub raised to the -12 dBFS voice


def test_mix_meets_the_loudness_target_and_the_true_peak_ceiling():
    dub, original, speech = scene()
    for target in (-16.0, -23.0):
        out, stats = mix(dub, original, FS, speech, SoundtrackConfig(target_lufs=target))
        assert integrated_loudness(out, FS) == pytest.approx(target, abs=0.5)
        assert true_peak(out) <= 10 ** (-1 / 20) + 1e-6 and stats["true_peak_dbtp"] <= -1.0


def test_peaky_speech_is_limited_to_the_ceiling_and_still_reaches_the_loudness_target():
    """Clicks in quiet speech: the programme gain alone would put the peaks far over the ceiling,
    so the limiter works, and the make-up rounds still bring the loudness to the target."""
    t = np.arange(6 * FS) / FS
    dub = (0.02 * np.sin(2 * np.pi * 180 * t)).astype(np.float32)
    dub[FS // 2::FS // 2] = 0.9  # a click every half second
    out, stats = mix(dub, None, FS, [(0.0, 6.0)], SoundtrackConfig(target_lufs=-16.0, true_peak_dbtp=-1.5))
    assert true_peak(out) <= 10 ** (-1.5 / 20) + 1e-6
    assert integrated_loudness(out, FS) == pytest.approx(-16.0, abs=0.5)
    assert 0 < stats["limited_s"] < 1.0  # only around the clicks


def test_dropping_the_original_leaves_only_the_dub():
    dub, original, speech = scene()
    out, stats = mix(dub, original, FS, speech, SoundtrackConfig(original="drop"))
    assert stats["original"] == "dropped"
    assert np.all(out[: 2 * FS] == 0) and np.all(out[int(5.2 * FS):] == 0)
    assert integrated_loudness(out, FS) == pytest.approx(-16.0, abs=0.5)


def test_without_an_original_the_dub_alone_is_normalised():
    dub, _, speech = scene()
    out, stats = mix(dub, None, FS, speech, SoundtrackConfig())
    assert out.shape == (len(dub), 1) and stats["original"] == "none"
    assert integrated_loudness(out, FS) == pytest.approx(-16.0, abs=0.5)


def test_a_silent_dub_and_original_do_not_blow_up():
    out, stats = mix(np.zeros(FS, np.float32), np.zeros((FS, 2), np.float32), FS, [], SoundtrackConfig())
    assert np.all(out == 0) and stats["lufs"] is None


def test_layout_resamples_folds_and_fits_the_length():
    stereo = np.stack([sine(1.0, -6.0, rate=44_100), -sine(1.0, -6.0, rate=44_100)], axis=1)
    out = to_layout(stereo, 44_100, FS, FS + 100, 1)
    assert out.shape == (FS + 100, 1) and np.abs(out).max() < 1e-3  # opposite channels cancel in mono
    out = to_layout(sine(0.5, -6.0, rate=16_000), 16_000, FS, FS, 2)
    assert out.shape == (FS, 2) and np.array_equal(out[:, 0], out[:, 1]) and np.all(out[FS // 2 + 10:] == 0)
    assert output_channels(SoundtrackConfig(), 6) == 2 and output_channels(SoundtrackConfig(), 1) == 1
    assert output_channels(SoundtrackConfig(channels=2), 1) == 2


def test_config_refuses_nonsense():
    for bad in ({"duck_db": -3}, {"true_peak_dbtp": 1.0}, {"original": "separate"}, {"channels": 3}):
        with pytest.raises(ValidationError):
            SoundtrackConfig(**bad)


# --- timeline picture --------------------------------------------------------------------------


def test_timeline_is_a_png_with_every_lane():
    dub, original, _ = scene()
    report = [{"index": 0, "slot_start": 2.0, "slot_end": 5.0, "dub_start": 2.0, "dub_end": 5.2, "speed": 1.1,
               "moved": False, "overlap_s": 0.0, "truncated_s": 0.0, "rate_factor": 1.0},
              {"index": 1, "slot_start": 5.5, "slot_end": 6.0, "dub_start": 5.7, "dub_end": 7.0, "speed": 1.25,
               "moved": True, "overlap_s": 0.3, "truncated_s": 0.0, "rate_factor": 1.3}]
    png = render_timeline(10.0, report, original, FS, dub, FS, original, FS)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


# --- stereo soundtrack in and out of a video ---------------------------------------------------


def test_stereo_soundtrack_survives_extraction_and_mux(tmp_path):
    from tasks.extract_soundtrack import read_soundtrack

    video = tmp_path / "v.mp4"
    with media.VideoWriter(video, "25/1", 64, 64) as writer:
        for _ in range(50):
            writer.write(np.zeros((64, 64, 3), np.uint8))
    left, right = sine(2.0, -12.0, 440.0), sine(2.0, -12.0, 880.0)
    out = tmp_path / "out.mp4"
    media.mux(video, np.stack([left, right], axis=1), FS, out)
    info = media.probe(out)
    assert info.audio_channels == 2 and info.audio_rate == FS

    audio, rate = read_soundtrack(out, info.duration)
    assert rate == FS and audio.shape == (2 * FS, 2)
    for channel, freq in ((0, 440), (1, 880)):
        spectrum = np.abs(np.fft.rfft(audio[FS // 2: 3 * FS // 2, channel]))
        assert np.fft.rfftfreq(FS, 1 / FS)[np.argmax(spectrum)] == pytest.approx(freq, abs=2)
    with av.open(str(out)) as c:
        decoded = sum(f.samples for f in c.decode(c.streams.audio[0]))
    assert abs(decoded / FS - info.duration) < 1 / 25  # the AAC track is the video's length within a frame


def test_soundtrack_artifact_is_lossless_flac_at_the_native_rate(tmp_path):
    from lipsync_sts.store import ArtifactStore
    from tasks.extract_soundtrack import ExtractSoundtrackConfig, extract_original_soundtrack
    from tasks.ingest import SourceFile, ingest_video

    video = tmp_path / "v.mp4"
    with media.VideoWriter(video, "25/1", 64, 64) as writer:
        for _ in range(25):
            writer.write(np.zeros((64, 64, 3), np.uint8))
    muxed = tmp_path / "m.mp4"
    media.mux(video, sine(1.0, -6.0, 300.0, rate=44_100), 44_100, muxed)
    store = ArtifactStore(str(tmp_path / "store"))
    ref = extract_original_soundtrack(store, ingest_video(store, SourceFile.of(muxed)), ExtractSoundtrackConfig())
    data, rate = sf.read(store.local_path(ref), always_2d=True)
    assert ref.uri.endswith(".flac") and rate == 44_100 and data.shape == (44_100, 1)
    assert ref.meta == {"sample_rate": 44_100, "channels": 1, "duration": 1.0}


def test_the_mix_ducks_under_the_voice_regions_transcribe_found_without_its_own_vad(tmp_path):
    """transcribe stores where the source voice is (Silero regions); the mix ducks the original under
    them instead of running voice activity detection again on the same audio."""
    import soundfile as sf

    from lipsync_sts.store import ArtifactStore
    from tasks.mix import MixConfig, mix_dub

    store = ArtifactStore(str(tmp_path / "store"))
    rate, seconds = 48_000, 3.0
    t = np.arange(int(rate * seconds)) / rate
    music = np.stack([0.1 * np.sin(2 * np.pi * 330 * t)] * 2, axis=1).astype(np.float32)
    dub = np.zeros_like(t, dtype=np.float32)
    dub[int(0.5 * rate):int(1.0 * rate)] = 0.3 * np.sin(2 * np.pi * 200 * t[int(0.5 * rate):int(1.0 * rate)])

    def wav(name, samples, sr):
        sf.write(tmp_path / name, samples, sr, subtype="FLOAT")
        return store.put_file(tmp_path / name, kind="audio")

    refs = dict(dub=wav("dub.wav", dub, rate), video=store.put_bytes(b"v", kind="video", meta={"duration": seconds}),
                segments=store.put_json([{"start": 0.5, "end": 1.0, "text": "नमस्ते"}], kind="segments"),
                original=wav("orig.wav", music, rate), speech_audio=wav("speech.wav", np.zeros(16_000 * 3, np.float32), 16_000))

    def level(ref, a, b):
        mixed, sr = sf.read(store.local_path(ref), dtype="float32")
        return float(np.sqrt(np.mean(mixed[int(a * sr):int(b * sr)] ** 2)))

    config = MixConfig(timeline=False)
    with_regions = mix_dub(store, config=config, voice_regions=[[2.0, 2.6]], **refs)
    without = mix_dub(store, config=config, **refs)  # silent speech audio: VAD finds no voice there
    assert level(with_regions, 2.1, 2.5) < 0.2 * level(with_regions, 1.5, 1.8)  # ducked 20 dB under the voice
    assert level(without, 2.1, 2.5) == pytest.approx(level(without, 1.5, 1.8), rel=0.05)


@pytest.mark.parametrize("rate, channels, seconds", [(48_000, 2, 1.0), (48_000, 2, 1.5), (44_100, 2, 1.0),
                                                     (48_000, 1, 1.0)])
def test_the_mix_reads_a_track_as_to_layout_lays_it_out(tmp_path, rate, channels, seconds):
    """A soundtrack already in the output's layout is read straight into the mix's buffer; any other
    is resampled and folded: either way the track is the one to_layout makes, cut or padded to length."""
    from tasks.mix import read_track

    music = np.stack([noise(seconds, -20.0, seed=3, rate=rate), noise(seconds, -20.0, seed=4, rate=rate)], axis=1)
    sf.write(tmp_path / "s.flac", music, rate, subtype="PCM_24")
    as_stored, _ = sf.read(tmp_path / "s.flac", dtype="float32", always_2d=True)
    want = to_layout(as_stored, rate, 48_000, int(1.2 * 48_000), channels)
    got = read_track(tmp_path / "s.flac", 48_000, int(1.2 * 48_000), channels)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def _video_with_tone(path, audio_start: float, video_start: float = 0.0, audio_seconds: float = 2.0) -> None:
    """3 s of 25 fps grey and a 440 Hz tone whose first sample plays at ``audio_start`` seconds."""
    import fractions

    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width = v.height = 64
        v.pix_fmt = "yuv420p"
        a = c.add_stream("aac", rate=FS)
        a.layout, a.time_base = "mono", fractions.Fraction(1, FS)
        for i in range(75):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 128, np.uint8), format="rgb24")
            frame.pts = i + int(video_start * 25)
            c.mux(v.encode(frame))
        c.mux(v.encode(None))
        tone = sine(audio_seconds, -12.0, 440.0)
        for k in range(0, len(tone), 1024):
            frame = av.AudioFrame.from_ndarray(tone[None, k:k + 1024], format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = FS, int(audio_start * FS) + k, fractions.Fraction(1, FS)
            c.mux(a.encode(frame))
        c.mux(a.encode(None))


@pytest.mark.parametrize("audio_start, video_start, heard_from", [(0.6, 0.0, 0.6), (0.0, 0.5, 0.0)])
def test_the_soundtrack_is_aligned_to_the_picture_and_streamed_to_flac(tmp_path, audio_start, video_start, heard_from):
    """Audio that starts late is preceded by silence; audio that starts before the first frame is
    cut there. The FLAC is written a decoded block at a time and holds the same samples."""
    from tasks.extract_soundtrack import read_soundtrack, write_soundtrack

    video = tmp_path / "v.mp4"
    _video_with_tone(video, audio_start, video_start, audio_seconds=4.0 if video_start else 2.0)
    audio, rate = read_soundtrack(video, 3.0)
    assert rate == FS and audio.shape == (3 * FS, 1)
    loud = np.flatnonzero(np.abs(audio[:, 0]) > 0.05)
    assert loud[0] / FS == pytest.approx(heard_from, abs=0.05)  # AAC's priming is trimmed by its pts
    assert write_soundtrack(video, 3.0, tmp_path / "s.flac") == (FS, 1, 3 * FS)
    stored, _ = sf.read(tmp_path / "s.flac", dtype="float32", always_2d=True)
    np.testing.assert_allclose(stored, audio, atol=2 ** -22)
