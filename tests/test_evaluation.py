"""The lip-sync evaluation (issue 4, DESIGN.md §4): landmark sync score, image checks, report.

Synthetic inputs: a mouth-opening series driven by a known syllable envelope, and audio whose
loudness follows the same envelope shifted by a known number of frames.
"""

from __future__ import annotations

import numpy as np
import pytest

from lipsync_sts.evaluation import EvaluationConfig, SyncScoreConfig, score_sync
from lipsync_sts.evaluation.evaluate import Evaluation
from lipsync_sts.evaluation.image_checks import check_images
from lipsync_sts.evaluation.report import markdown, render_html
from models.face import landmarks as lm

RATE, FPS = 16_000, 25.0


def syllables(n_frames: int, seed: int) -> np.ndarray:
    """(n_frames,) speech-like loudness in [0, 1]: syllables of 4-7 per second, with pauses."""
    rng = np.random.default_rng(seed)
    env = np.zeros(n_frames)
    t = 5
    while t < n_frames - 5:
        length = int(rng.integers(3, 7))
        env[t:t + length] = np.sin(np.linspace(0, np.pi, length)) * rng.uniform(0.5, 1.0)
        t += length + int(rng.integers(1, 3)) + (int(rng.integers(10, 20)) if rng.random() < 0.15 else 0)
    return env


def speech_audio(envelope: np.ndarray, seed: int = 0) -> np.ndarray:
    """Noise whose loudness follows ``envelope`` (one value per video frame)."""
    rng = np.random.default_rng(seed)
    per_sample = np.interp(np.arange(int(len(envelope) * RATE / FPS)) * FPS / RATE, np.arange(len(envelope)), envelope)
    return (0.3 * per_sample * rng.standard_normal(len(per_sample))).astype(np.float32)


def delayed(series: np.ndarray, frames: int) -> np.ndarray:
    """``series`` happening ``frames`` later (> 0) or earlier (< 0), zero-filled."""
    out = np.zeros_like(series)
    if frames >= 0:
        out[frames:] = series[:len(series) - frames]
    else:
        out[:frames] = series[-frames:]
    return out


def mouth_for(envelope: np.ndarray, seed: int = 1) -> np.ndarray:
    """Lip opening (over eye distance) that follows the envelope, with landmark noise."""
    rng = np.random.default_rng(seed)
    return (0.02 + 0.3 * envelope + 0.01 * rng.standard_normal(len(envelope))).astype(np.float32)


class TestSyncScore:
    N = 250  # 10 s at 25 fps

    @pytest.mark.parametrize("audio_late", [0, 4, -6, 10])
    def test_the_offset_of_audio_against_the_mouth_is_recovered(self, audio_late):
        base = syllables(self.N, seed=3)
        score = score_sync(mouth_for(base), speech_audio(delayed(base, audio_late)), RATE, FPS)
        assert abs(score.offset - audio_late) <= 1
        assert score.offset_ms == pytest.approx(1000 * score.offset / FPS)
        assert score.confidence > 0.3

    def test_in_sync_speech_scores_high_and_other_speech_low(self):
        mouth = mouth_for(syllables(self.N, seed=3))
        own = score_sync(mouth, speech_audio(syllables(self.N, seed=3)), RATE, FPS)
        others = [score_sync(mouth, speech_audio(syllables(self.N, seed=s)), RATE, FPS).sync for s in range(10, 16)]
        assert own.sync > 0.7
        assert max(others) < 0.35
        assert own.sync > max(others) + 0.3

    def test_audio_late_beyond_the_sync_window_lowers_sync_but_not_the_peak(self):
        base = syllables(self.N, seed=5)
        mouth = mouth_for(base)
        in_sync = score_sync(mouth, speech_audio(base), RATE, FPS)
        late = score_sync(mouth, speech_audio(delayed(base, 8)), RATE, FPS)
        assert late.sync < in_sync.sync - 0.3
        assert late.peak == pytest.approx(in_sync.peak, abs=0.1)

    def test_the_correlation_curve_spans_the_lags_and_its_peak_is_the_offset(self):
        base = syllables(self.N, seed=7)
        score = score_sync(mouth_for(base), speech_audio(base), RATE, FPS, SyncScoreConfig(max_lag=10))
        assert score.lags == list(range(-10, 11))
        assert len(score.correlation) == 21
        assert score.correlation[score.lags.index(score.offset)] == pytest.approx(score.peak)

    def test_frames_without_a_face_are_left_out(self):
        base = syllables(self.N, seed=3)
        mouth = mouth_for(base)
        mouth[40:80] = np.nan
        score = score_sync(mouth, speech_audio(base), RATE, FPS)
        assert score.frames_used == self.N - 40
        assert abs(score.offset) <= 1 and score.sync > 0.6

    def test_too_few_faces_or_silent_audio_give_no_score_and_say_why(self):
        base = syllables(self.N, seed=3)
        no_face = score_sync(np.full(self.N, np.nan), speech_audio(base), RATE, FPS)
        silent = score_sync(mouth_for(base), np.zeros(int(self.N / FPS * RATE), np.float32), RATE, FPS)
        for score in (no_face, silent):
            assert score.sync is None and score.offset is None and score.notes

    def test_a_mouth_at_rest_in_silences_is_reported_closed_and_still(self):
        base = syllables(self.N, seed=3)
        base[100:160] = 0.0  # a 2.4 s pause
        audio = speech_audio(base)
        resting = np.where(base > 0, 0.3 * base, 0.0).astype(np.float32)
        chewing = resting.copy()
        chewing[100:160] = 0.15 + 0.1 * np.sin(np.arange(60))  # moving, open mouth with no sound
        rest, chew = score_sync(resting, audio, RATE, FPS), score_sync(chewing, audio, RATE, FPS)
        assert rest.silence_frames >= 40
        assert rest.closed_in_silence > 0.9 and chew.closed_in_silence < rest.closed_in_silence - 0.5
        assert rest.motion_in_silence < 0.01 < chew.motion_in_silence


def face_points(width: int = 200, height: int = 200) -> np.ndarray:
    """(478, 2) a crude face: everything at the centre, lips and jaw placed where they belong."""
    pts = np.tile([width / 2, height / 2], (lm.N_LANDMARKS, 1)).astype(np.float32)
    pts[lm.EYE_OUTER_LEFT], pts[lm.EYE_OUTER_RIGHT] = (70, 80), (130, 80)
    jaw = np.linspace(0, np.pi, len(lm.JAW_CONTOUR))
    pts[list(lm.JAW_CONTOUR)] = np.stack([100 - 45 * np.cos(jaw), 110 + 45 * np.sin(jaw)], axis=1)
    pts[lm.NOSE_BASE] = (100, 115)
    mouth = np.linspace(0, 2 * np.pi, len(lm.MOUTH), endpoint=False)
    pts[list(lm.MOUTH)] = np.stack([100 + 18 * np.cos(mouth), 135 + 8 * np.sin(mouth)], axis=1)
    return pts


class TestImageChecks:
    def frames(self, n=4):
        rng = np.random.default_rng(0)
        return [rng.integers(0, 255, (200, 200, 3), dtype=np.uint8) for _ in range(n)]

    def run(self, before, after):
        points = np.stack([face_points()] * len(before))
        return check_images(iter(before), iter(after), points, np.ones(len(before), bool))

    def test_an_output_changed_only_in_the_mouth_is_identical_outside_it(self):
        before = self.frames()
        after = [f.copy() for f in before]
        for f in after:
            f[125:146, 85:116] = 0
        checks = self.run(before, after)
        assert checks.psnr_outside_mouth is None and checks.ssim_outside_mouth > 0.99  # infinite PSNR
        assert checks.frames_checked == 4

    def test_changes_outside_the_mouth_lower_psnr_and_ssim(self):
        before = self.frames()
        after = [f.copy() for f in before]
        for f in after:
            f[:40] = 255 - f[:40]  # forehead and background
        checks = self.run(before, after)
        assert checks.psnr_outside_mouth < 20 and checks.ssim_outside_mouth < 0.9

    def test_a_blurred_mouth_is_less_sharp_than_the_input(self):
        import cv2

        before = self.frames()
        after = [f.copy() for f in before]
        for f in after:
            f[120:150, 75:125] = cv2.GaussianBlur(f[120:150, 75:125], (9, 9), 3)
        checks = self.run(before, after)
        assert checks.mouth_sharpness_ratio < 0.3

    def test_the_checks_are_the_whole_frame_definitions_of_psnr_and_ssim(self):
        """Computed in the lower face's box for speed; the numbers must be the textbook ones:
        mean squared error and skimage's SSIM map over every pixel outside the lower face."""
        import cv2
        from skimage.metrics import structural_similarity

        from lipsync_sts.evaluation.image_checks import frame_checks, lower_face_region

        before = self.frames(1)[0]
        after = np.clip(before.astype(int) + np.random.default_rng(1).integers(-20, 21, before.shape), 0, 255)
        after = after.astype(np.uint8)
        points = face_points()
        mse, ssim, _ = frame_checks(before, after, points)
        eye = float(np.linalg.norm(points[lm.EYE_OUTER_RIGHT] - points[lm.EYE_OUTER_LEFT]))
        (x0, y0, x1, y1), inside = lower_face_region(points, before.shape[:2], 0.25 * eye)
        outside = np.ones(before.shape[:2], bool)
        outside[y0:y1, x0:x1] = ~inside
        assert 0.05 < 1 - outside.mean() < 0.5  # the lower face is a real part of this frame
        expected_mse = np.mean((before.astype(float) - after.astype(float))[outside] ** 2)
        g0, g1 = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (before, after))
        _, ssim_full = structural_similarity(g0, g1, data_range=255, full=True)
        assert mse == pytest.approx(expected_mse, rel=1e-9)
        assert ssim == pytest.approx(ssim_full[outside].mean(), rel=1e-6)  # float32 maps: see ssim_map

    def test_frames_of_another_size_are_not_compared(self):
        before = self.frames(2)
        checks = self.run(before, [f[:100] for f in before])
        assert checks.frames_checked == 0 and checks.notes


class TestReport:
    def evaluation(self) -> Evaluation:
        base = syllables(100, seed=3)
        mouth, audio = mouth_for(base), speech_audio(base)
        return Evaluation(video="talk.mp4", audio="own", fps=FPS, frames=100, face_coverage=1.0,
                          sync=score_sync(mouth, audio, RATE, FPS),
                          series={"opening": [float(v) for v in mouth], "envelope": [float(v) for v in base]})

    def test_the_html_report_is_self_contained_with_plots_and_the_numbers(self):
        page = render_html(self.evaluation())
        assert page.count("data:image/png;base64,") == 2  # lip opening vs speech, correlation vs lag
        assert "sync" in page and "confidence" in page and "talk.mp4" in page
        assert "http://" not in page and "https://" not in page and "<script" not in page
        assert "LSE-D/LSE-C not measured" in page

    def test_the_markdown_artifact_holds_the_table_and_plots(self):
        text = markdown(self.evaluation())
        assert "| sync |" in text and text.count("data:image/png;base64,") == 2

    def test_the_evaluation_round_trips_through_json(self):
        e = self.evaluation()
        again = Evaluation.model_validate_json(e.model_dump_json())
        assert again.summary() == e.summary()
        assert EvaluationConfig().sync.max_lag == 15


def test_the_cli_has_an_evaluate_subcommand():
    from lipsync_sts.cli import _parser

    args = _parser().parse_args(["evaluate", "v.mp4", "--audio", "a.wav", "--json", "--html", "r.html",
                                 "--syncnet", "syncnet_v2.model"])
    assert (args.command, args.input, args.audio, args.json, args.html, args.syncnet) == \
        ("evaluate", "v.mp4", "a.wav", True, "r.html", "syncnet_v2.model")


def test_a_real_clip_scores_its_own_audio_above_other_speech(testdata):
    """v10 (in sync per the MANIFEST): own audio near lag 0; Hindi news speech clearly lower."""
    from lipsync_sts import media
    from lipsync_sts.evaluation import evaluate
    from models.face import FaceTrackConfig, track_faces

    video = testdata / "video" / "v10_styletalk_feifeili_clip1.mp4"
    info = media.probe(video)
    track = track_faces(media.iter_frames(video), info.fps, FaceTrackConfig())
    own = evaluate(video, track, media.read_audio(video.with_suffix(".orig_audio.wav"), RATE))
    other_audio = media.read_audio(testdata / "speech" / "hi_noa_Bhopal_1910-201989195036_sent_7.wav", RATE)
    other = evaluate(video, track, other_audio, audio_label="hindi news")
    assert own.sync.sync > 0.3 and abs(own.sync.offset) <= 2
    assert other.sync.sync < own.sync.sync - 0.2
    assert "data:image/png" in render_html(own)
