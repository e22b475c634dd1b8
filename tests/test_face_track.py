"""Face tracking: one face per frame from mediapipe's face mesh, in full-resolution pixels."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from models.face import FaceTrack, FaceTrackConfig, track_faces
from models.face import landmarks as lm
from models.face.smoothing import smooth_runs


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()  # (512, 512, 3) uint8 RGB; the face is in the upper middle


@pytest.fixture(scope="module")
def still_track(astronaut) -> FaceTrack:
    return track_faces([astronaut] * 6, 25.0, FaceTrackConfig())


def grey(h: int = 240, w: int = 320) -> np.ndarray:
    return np.full((h, w, 3), 128, dtype=np.uint8)


def test_a_face_is_found_in_every_frame_of_a_still_photo_clip(still_track):
    assert still_track.present.all()
    assert np.isfinite(still_track.landmarks).all()
    assert (still_track.confidence > 0.5).all()
    assert still_track.size == (512, 512) and still_track.fps == 25.0
    x0, y0, x1, y1 = still_track.boxes[0]
    assert 150 < x0 < x1 < 300 and 40 < y0 < y1 < 220  # the astronaut's face, upper middle


def test_landmarks_are_full_resolution_pixels_whatever_the_detection_width(astronaut, still_track):
    small = track_faces([astronaut] * 3, 25.0, FaceTrackConfig(detect_width=256))
    assert small.size == (512, 512)
    err = np.linalg.norm(small.landmarks[-1] - still_track.landmarks[-1], axis=-1)
    assert np.median(err) < 3.0


def test_a_blank_clip_has_no_face_and_does_not_crash():
    track = track_faces([grey()] * 4, 30.0, FaceTrackConfig())
    assert len(track) == 4 and track.size == (320, 240)
    assert not track.present.any()
    assert np.isnan(track.landmarks).all() and np.isnan(track.boxes).all()
    assert (track.confidence == 0).all()
    assert np.isnan(track.mouth_opening()).all()


def test_frames_without_a_face_are_absent_between_frames_with_one(astronaut):
    blank = grey(512, 512)
    track = track_faces([astronaut, astronaut, blank, blank, astronaut, astronaut], 25.0, FaceTrackConfig())
    assert track.present.tolist() == [True, True, False, False, True, True]
    assert np.isnan(track.landmarks[2:4]).all() and np.isfinite(track.landmarks[[0, 1, 4, 5]]).all()


def test_frames_are_consumed_as_a_stream_and_progress_is_reported(astronaut):
    seen: list[int] = []
    frames = itertools.repeat(astronaut, 3)  # an iterator, not a list: consumed once, never indexed
    track = track_faces(frames, 25.0, FaceTrackConfig(), on_progress=seen.append)
    assert seen == [1, 2, 3] and len(track) == 3


def test_frames_of_another_size_or_type_are_refused(astronaut):
    with pytest.raises(ValueError, match="size"):
        track_faces([astronaut, grey()], 25.0, FaceTrackConfig())
    with pytest.raises(ValueError, match="uint8"):
        track_faces([astronaut.astype(np.float32)], 25.0, FaceTrackConfig())


def test_no_frames_give_an_empty_track():
    track = track_faces([], 25.0, FaceTrackConfig())
    assert len(track) == 0 and track.landmarks.shape == (0, lm.N_LANDMARKS, 2)


def _synthetic_track(gap: float, eye_distance: float) -> FaceTrack:
    pts = np.zeros((2, lm.N_LANDMARKS, 2), np.float32)
    pts[:, lm.EYE_OUTER_RIGHT, 0] = eye_distance
    pts[:, lm.LOWER_LIP_INNER_MID, 1] = gap
    pts[1] = np.nan
    return FaceTrack(
        present=np.array([True, False]),
        boxes=np.zeros((2, 4), np.float32),
        landmarks=pts,
        confidence=np.array([0.9, 0.0], np.float32),
        fps=30.0,
        size=(100, 100),
    )


def test_mouth_opening_is_the_inner_lip_gap_over_the_eye_corner_distance():
    opening = _synthetic_track(gap=10.0, eye_distance=50.0).mouth_opening()
    assert opening[0] == pytest.approx(0.2)
    assert np.isnan(opening[1])


def test_a_track_survives_a_save_load_round_trip(still_track, tmp_path):
    path = tmp_path / "track.facetrack"  # saved at exactly this name: no ".npz" appended
    still_track.save(path)
    loaded = FaceTrack.load(path)
    assert path.exists() and not (tmp_path / "track.facetrack.npz").exists()
    np.testing.assert_array_equal(loaded.present, still_track.present)
    np.testing.assert_array_equal(loaded.landmarks, still_track.landmarks)
    np.testing.assert_array_equal(loaded.boxes, still_track.boxes)
    np.testing.assert_array_equal(loaded.confidence, still_track.confidence)
    assert loaded.fps == still_track.fps and loaded.size == still_track.size

    absent = track_faces([grey()] * 2, 30.0, FaceTrackConfig())
    absent.save(tmp_path / "absent.npz")
    again = FaceTrack.load(tmp_path / "absent.npz")
    assert not again.present.any() and np.isnan(again.landmarks).all()


def test_smoothing_removes_jitter_but_keeps_lip_motion_without_lag():
    rng = np.random.default_rng(0)
    fps, n = 30.0, 120
    pts = np.zeros((n, lm.N_LANDMARKS, 2), np.float32)
    pts[:, lm.EYE_OUTER_RIGHT, 0] = 60.0  # face size 60 px
    motion = 12.0 * np.sin(2 * np.pi * 4.0 * np.arange(n) / fps)  # a lip moving at 4 Hz, 0.2 face sizes
    pts[:, lm.LOWER_LIP_INNER_MID, 1] = motion
    noisy = pts + rng.normal(0.0, 0.7, pts.shape).astype(np.float32)
    present = np.ones(n, bool)

    smooth = smooth_runs(noisy, present, fps, min_cutoff=2.0, beta=4.0, d_cutoff=1.0)

    still = lm.NOSE_BASE
    assert smooth[:, still].std(axis=0).max() < 0.5 * noisy[:, still].std(axis=0).min()
    lip = smooth[:, lm.LOWER_LIP_INNER_MID, 1]
    assert np.corrcoef(lip, motion)[0, 1] > 0.97
    lags = range(-3, 4)
    best = max(lags, key=lambda k: np.dot(np.roll(lip, k)[5:-5], motion[5:-5]))
    assert best == 0


def test_smoothing_restarts_after_a_gap():
    pts = np.zeros((10, lm.N_LANDMARKS, 2), np.float32)
    pts[:, :, 0] = np.where(np.arange(10) < 5, 0.0, 100.0)[:, None]  # the face jumps while absent
    pts[:, lm.EYE_OUTER_RIGHT, 0] += 50.0
    present = np.array([True] * 4 + [False] + [True] * 5)
    pts[~present] = np.nan
    out = smooth_runs(pts, present, 25.0, 2.0, 4.0, 1.0)
    np.testing.assert_allclose(out[5:, lm.NOSE_BASE, 0], 100.0, atol=1e-3)  # not dragged from 0
    assert np.isnan(out[4]).all()


def test_a_real_talking_face_clip_is_tracked_in_nearly_every_frame(testdata):
    import av

    path = testdata / "video" / "v08_styletalk_Obama_clip1.mp4"

    def frames():
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="rgb24")

    track = track_faces(frames(), 30.0, FaceTrackConfig())
    assert len(track) > 500
    assert track.present.mean() >= 0.98
    opening = track.mouth_opening()[track.present]
    assert np.nanpercentile(opening, 95) - np.nanpercentile(opening, 5) > 0.05  # he talks
