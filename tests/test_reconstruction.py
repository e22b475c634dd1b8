"""Lip shape against a real reference (issue 12): the reconstruction measures, and the speaker's
fitted sound-to-lips mapping that the embedded lip-sync uses.

Synthetic faces: landmarks with a mouth of known opening and width, frames with a dark mouth
drawn at that size, so every measure has a known right answer.
"""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from lipsync_sts.evaluation.reconstruction import ReconstructionConfig, compare_to_reference
from models.face import FaceTrack
from models.face import landmarks as lm
from models.lipsync.speaker_fit import fit_speaker
from models.lipsync.visemes import OPEN, shapes_from_envelope

SIZE, FPS, RATE = 160, 25.0, 16_000


def face(opening: float, width: float = 0.6, shift: tuple[float, float] = (0, 0), scale: float = 1.0) -> np.ndarray:
    """(478, 2) landmarks: eyes 60 px apart; lips an ellipse ``width`` and ``opening`` eye
    distances across (inner and outer contours alike); the whole face moved by ``shift`` and
    scaled by ``scale`` about the centre (head motion)."""
    pts = np.tile([80.0, 80.0], (lm.N_LANDMARKS, 1))
    pts += np.random.default_rng(0).normal(0, 12, pts.shape)  # distinct stable points, same every frame
    pts[lm.EYE_OUTER_LEFT], pts[lm.EYE_OUTER_RIGHT] = (50, 60), (110, 60)
    mouth = list(lm.MOUTH)
    angles = np.linspace(0, 2 * np.pi, len(mouth), endpoint=False)
    pts[mouth] = np.stack([80 + 30 * width * np.cos(angles), 110 + 30 * max(opening, 0.002) * np.sin(angles)], axis=1)
    for upper, lower in ((lm.UPPER_LIP_INNER_MID, opening / 2), (lm.LOWER_LIP_INNER_MID, -opening / 2)):
        pts[upper] = (80, 110 - 60 * lower)
    pts[lm.MOUTH_CORNER_LEFT], pts[lm.MOUTH_CORNER_RIGHT] = (80 - 30 * width, 110), (80 + 30 * width, 110)
    return ((pts - 80) * scale + 80 + np.asarray(shift)).astype(np.float32)


def track_of(points: list[np.ndarray]) -> FaceTrack:
    landmarks = np.stack(points).astype(np.float32)
    n = len(points)
    boxes = np.concatenate([landmarks.min(axis=1), landmarks.max(axis=1)], axis=1)
    return FaceTrack(present=np.ones(n, bool), boxes=boxes, landmarks=landmarks, confidence=np.ones(n, np.float32),
                     fps=FPS, size=(SIZE, SIZE))


def frames_of(openings: np.ndarray, noise: np.ndarray | None = None) -> list[np.ndarray]:
    """Frames with a dark mouth ellipse of each opening; ``noise``: per-frame mouth brightness jump."""
    out = []
    for i, o in enumerate(openings):
        frame = np.full((SIZE, SIZE, 3), 180, np.uint8)
        colour = 40 + (int(noise[i]) if noise is not None else 0)
        cv2.ellipse(frame, (80, 110), (18, max(int(round(30 * o)), 1)), 0, 0, 360, (colour, colour // 2, colour // 2), -1)
        out.append(frame)
    return out


def syllable_openings(n: int, seed: int = 0) -> np.ndarray:
    """Lip openings of speech: 4-7 Hz syllables with closures between some of them."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FPS
    wave = np.sin(2 * np.pi * 5.0 * t + rng.uniform(0, 6)) + 0.4 * np.sin(2 * np.pi * 2.3 * t)
    return np.clip(0.18 * wave + 0.08, 0.0, 0.4)


def score(real_openings, out_openings, real_frames=None, out_frames=None, **out_face):
    real = track_of([face(o) for o in real_openings])
    output = track_of([face(o, **out_face) for o in out_openings])
    return compare_to_reference(output, real, iter(out_frames or frames_of(out_openings)),
                                iter(real_frames or frames_of(real_openings)), "real.mp4")


class TestReconstructionMeasures:
    N = 120

    def test_a_video_compared_with_itself_scores_perfectly(self):
        real = syllable_openings(self.N)
        s = score(real, real)
        assert s.frames_used == self.N
        assert s.lmd == pytest.approx(0.0, abs=1e-6)
        assert s.opening_correlation == pytest.approx(1.0)
        assert s.closed_recall == 1.0 and s.closed_precision == 1.0 and s.closed_frames > 10
        assert s.pop == pytest.approx(1.0)

    def test_head_motion_and_zoom_are_not_lip_error(self):
        real = syllable_openings(self.N)
        s = score(real, real, shift=(6.0, -4.0), scale=1.1)
        assert s.lmd < 1e-4

    def test_a_mouth_that_follows_the_speech_beats_one_that_does_not(self):
        real = syllable_openings(self.N)
        following = score(real, real * 0.8 + 0.01 * np.random.default_rng(1).standard_normal(self.N))
        unrelated = score(real, np.random.default_rng(7).permutation(real))  # same openings, wrong times
        assert following.opening_correlation > 0.9 > unrelated.opening_correlation + 0.5
        assert following.lmd < unrelated.lmd

    def test_closed_recall_is_the_share_of_real_closures_the_output_closes_too(self):
        real = syllable_openings(self.N)
        out = real.copy()
        closed = np.flatnonzero(real < 0.05)
        out[closed[::2]] = 0.2  # open half of the real closures
        s = score(real, out)
        assert s.closed_frames == len(closed)
        assert s.closed_recall == pytest.approx(len(closed[1::2]) / len(closed), abs=1e-3)
        assert s.closed_precision == 1.0

    def test_a_mouth_that_is_always_closed_recalls_every_closure_but_without_precision(self):
        real = syllable_openings(self.N)
        s = score(real, np.zeros(self.N))
        assert s.closed_recall == 1.0
        assert s.closed_precision == pytest.approx(s.closed_frames / self.N, abs=1e-3)
        assert s.opening_correlation is None  # a constant says nothing

    def test_texture_jumps_raise_pop_and_a_frozen_mouth_lowers_it(self):
        real = syllable_openings(self.N)
        jumps = np.where(np.arange(self.N) % 2 == 0, 50, 0)  # the mouth texture flickers
        popping = score(real, real, out_frames=frames_of(real, noise=jumps))
        frozen = score(real, real, out_frames=frames_of(np.full(self.N, 0.1)))
        assert popping.pop > 1.5
        assert frozen.pop < 0.2

    def test_too_few_frames_with_a_face_give_no_score_and_say_why(self):
        real = syllable_openings(self.N)
        real_track = track_of([face(o) for o in real])
        absent = FaceTrack(present=np.zeros(self.N, bool), boxes=np.full((self.N, 4), np.nan, np.float32),
                           landmarks=np.full((self.N, lm.N_LANDMARKS, 2), np.nan, np.float32),
                           confidence=np.zeros(self.N, np.float32), fps=FPS, size=(SIZE, SIZE))
        s = compare_to_reference(absent, real_track, iter(frames_of(real)), iter(frames_of(real)))
        assert s.lmd is None and s.pop is None and "no score" in s.notes[0]

    def test_videos_of_different_sizes_are_not_compared(self):
        real = track_of([face(0.1)] * 20)
        other = FaceTrack(present=real.present, boxes=real.boxes, landmarks=real.landmarks,
                          confidence=real.confidence, fps=FPS, size=(SIZE * 2, SIZE))
        with pytest.raises(ValueError, match="same|made from"):
            compare_to_reference(other, real, iter([]), iter([]), config=ReconstructionConfig())


def voiced_audio(openings: np.ndarray, seed: int = 0) -> np.ndarray:
    """Speech-like audio in which the lip opening shows as *brightness* (a formant moving up with
    the jaw, like F1), at constant loudness: loudness alone cannot tell the openings apart."""
    rng = np.random.default_rng(seed)
    hop = int(RATE / FPS)
    out = np.zeros(len(openings) * hop, np.float32)
    t = np.arange(hop) / RATE
    phase = 0.0
    for i, o in enumerate(openings):
        formant = 300 + 2500 * o  # Hz
        tone = np.sin(2 * np.pi * formant * t + phase) + 0.3 * np.sin(2 * np.pi * 120 * t)
        phase += 2 * np.pi * formant * hop / RATE
        out[i * hop:(i + 1) * hop] = 0.2 * tone + 0.01 * rng.standard_normal(hop)
    return out


class TestSpeakerFit:
    N = 400  # 16 s: a recording of the speaker

    def test_the_fit_learns_what_loudness_cannot_and_predicts_new_speech(self):
        train, test = syllable_openings(self.N, seed=1), syllable_openings(200, seed=2)
        width = np.full(self.N, 0.6)
        audio = voiced_audio(train)
        heuristic = shapes_from_envelope(audio, RATE, FPS, self.N)[:, OPEN]
        fit = fit_speaker(audio, RATE, FPS, train, width, heuristic)
        assert fit is not None and fit.useful
        predicted = fit.predict(voiced_audio(test, seed=3), RATE, FPS, len(test))[:, 0]
        assert np.corrcoef(predicted, test)[0, 1] > 0.8
        # Predictions are mapped onto the speaker's own range: closed frames come out closed.
        assert predicted.min() < 0.05 and predicted.max() > 0.2

    def test_lips_unrelated_to_the_sound_give_a_fit_that_is_not_used(self):
        rng = np.random.default_rng(5)
        audio = voiced_audio(syllable_openings(self.N, seed=1))
        lips = rng.uniform(0, 0.3, self.N)
        fit = fit_speaker(audio, RATE, FPS, lips, np.full(self.N, 0.6),
                          shapes_from_envelope(audio, RATE, FPS, self.N)[:, OPEN])
        assert fit is not None and not fit.useful

    def test_a_recording_with_too_few_faces_gives_no_fit(self):
        audio = voiced_audio(syllable_openings(self.N))
        openings = np.full(self.N, np.nan)
        openings[:20] = 0.1
        assert fit_speaker(audio, RATE, FPS, openings, openings, np.zeros(self.N)) is None


def test_evaluate_reference_on_a_real_clip_through_the_cli(testdata, tmp_path):
    """The protocol on a real clip: the second half re-synced to its own audio with the first half
    as the mouth library, then `lipsync-sts evaluate OUT --reference SECOND --json`."""
    from flows.lipsync_only import LipSyncOptions, lipsync_flow
    from lipsync_sts import media
    from tasks.lipsync import LipSyncConfig

    clip = testdata / "video" / "v10_styletalk_feifeili_clip1.mp4"
    n = media.probe(clip).n_frames
    first, second, out = tmp_path / "first.mp4", tmp_path / "second.mp4", tmp_path / "out.mp4"
    media.cut(clip, 0, n // 2, first)
    media.cut(clip, n // 2, n, second)
    assert media.probe(first).n_frames + media.probe(second).n_frames == n
    store = str(tmp_path / "store")
    lipsync_flow(video=str(second), audio=str(second), output=str(out), store_url=store, mouth_library=str(first),
                 options=LipSyncOptions(lipsync=LipSyncConfig(shapes_from="speaker")))
    html = tmp_path / "report.html"
    run = subprocess.run([sys.executable, "-m", "lipsync_sts.cli", "evaluate", str(out), "--reference", str(second),
                          "--store", store, "--json", "--html", str(html)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    measures = json.loads(run.stdout[run.stdout.index("{"):run.stdout.rindex("}") + 1])
    ref = measures["reference"]
    assert ref["reference"] == "second.mp4" and ref["frames_used"] > 0.9 * (n - n // 2)
    assert 0 < ref["lmd"] < 0.1  # re-drawn, so not the real lips exactly, but on the face
    assert ref["opening_correlation"] > 0.2  # the lips follow the real ones
    assert 0.5 < ref["pop"] < 1.5  # no texture jumps, not frozen
    page = html.read_text()
    assert "reference: second.mp4" in page and "lip-landmark distance to the real video" in page


def test_a_reference_of_other_frames_is_refused_with_a_clear_message(testdata, tmp_path):
    video = testdata / "video" / "v03_retalking_face3.mp4"
    other = testdata / "video" / "v01_retalking_face1.mp4"
    run = subprocess.run([sys.executable, "-m", "lipsync_sts.cli", "evaluate", str(video), "--reference", str(other),
                          "--store", str(tmp_path / "store")], capture_output=True, text=True)
    assert run.returncode != 0
    assert "reference" in run.stderr and other.name in run.stderr and "same frames" in run.stderr
    assert "Traceback" not in run.stderr
