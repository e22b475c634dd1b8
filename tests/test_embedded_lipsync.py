"""The embedded lip-sync: opens the mouth to a target, closes it at 0, changes only the lower face."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from models.face import FaceTrack, FaceTrackConfig, track_faces
from models.face import landmarks as lm
from models.lipsync import EmbeddedLipSync, EmbeddedLipSyncConfig, target_opening_from_envelope


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()  # (512, 512, 3) RGB; smiling, teeth showing (mouth opening ~0.11)


@pytest.fixture(scope="module")
def track(astronaut) -> FaceTrack:
    return track_faces([astronaut] * 3, 25.0, FaceTrackConfig())


def render(track: FaceTrack, frame: np.ndarray, target: float) -> np.ndarray:
    return EmbeddedLipSync(track, np.full(len(track), target, np.float32)).render(len(track) - 1, frame)


def opening_of(frame: np.ndarray) -> float:
    """The mesh's mouth opening of a still frame, measured afresh."""
    return float(track_faces([frame] * 3, 25.0, FaceTrackConfig()).mouth_opening()[-1])


@pytest.fixture(scope="module")
def closed(track, astronaut) -> np.ndarray:
    return render(track, astronaut, 0.0)


@pytest.fixture(scope="module")
def wide(track, astronaut) -> np.ndarray:
    return render(track, astronaut, 1.0)


def test_target_zero_closes_an_open_mouth(track, closed):
    assert track.mouth_opening()[-1] > 0.08  # the source shows her teeth
    assert opening_of(closed) < 0.03


def test_target_one_opens_the_mouth_wide(track, closed, wide):
    opened = opening_of(wide)
    assert opened > 1.5 * track.mouth_opening()[-1]
    assert opened - opening_of(closed) > 0.15


def test_the_opening_grows_with_the_target(track, astronaut):
    openings = [opening_of(render(track, astronaut, t)) for t in (0.0, 0.5, 1.0)]
    assert openings[0] < openings[1] < openings[2]


def test_pixels_outside_the_lower_face_stay_bit_identical(track, astronaut, closed, wide):
    pts = track.landmarks[-1]
    nose_y = pts[lm.NOSE_BASE, 1]
    mouth_w = np.linalg.norm(pts[lm.MOUTH_CORNER_RIGHT] - pts[lm.MOUTH_CORNER_LEFT])
    jaw_x = pts[[lm.JAW_LEFT, lm.JAW_RIGHT], 0]
    for out in (closed, wide):
        changed = np.any(out != astronaut, axis=2)
        ys, xs = np.nonzero(changed)
        assert ys.size > 100  # something did change
        assert ys.min() >= nose_y - 0.5 * mouth_w  # nothing above the nose base: eyes, nose, hair untouched
        assert ys.max() <= pts[lm.CHIN, 1] + 1.5 * mouth_w  # nor further down the neck
        assert xs.min() >= jaw_x[0] - 0.5 * mouth_w and xs.max() <= jaw_x[1] + 0.5 * mouth_w
        assert out.dtype == np.uint8 and out.shape == astronaut.shape


def test_the_paste_keeps_every_pixel_value_exactly_where_its_mask_is_zero():
    """The paste (cv2.blendLinear) is trusted to give the frame back bit for bit at weight 0, for
    every uint8 value and channel, so nothing outside the feathered mask changes."""
    import cv2

    frame = np.broadcast_to(np.arange(256, dtype=np.uint8)[:, None, None], (256, 5, 3)).copy()
    pasted = np.random.default_rng(0).integers(0, 256, frame.shape, np.uint8)
    mask = np.zeros(frame.shape[:2], np.float32)
    mask[:, 2:] = np.linspace(0.0, 1.0, 3, dtype=np.float32)  # a feathered edge in the same call
    out = cv2.blendLinear(pasted, frame, mask, 1.0 - mask)
    np.testing.assert_array_equal(out[:, :3], frame[:, :3])
    np.testing.assert_array_equal(out[:, -1], pasted[:, -1])


def test_the_input_frame_is_not_modified(track, astronaut):
    before = astronaut.copy()
    render(track, astronaut, 1.0)
    np.testing.assert_array_equal(astronaut, before)


def test_frames_without_a_face_pass_through_untouched(track, astronaut):
    absent = dataclasses.replace(
        track,
        present=np.zeros(len(track), bool),
        landmarks=np.full_like(track.landmarks, np.nan),
        boxes=np.full_like(track.boxes, np.nan),
    )
    out = EmbeddedLipSync(absent, np.ones(len(track), np.float32)).render(0, astronaut)
    assert out is astronaut


def test_a_closed_mouth_at_target_zero_is_left_alone(closed):
    again = track_faces([closed] * 3, 25.0, FaceTrackConfig())
    out = EmbeddedLipSync(again, np.zeros(3, np.float32)).render(2, closed)
    assert np.abs(out.astype(int) - closed.astype(int)).max() <= 2  # at most sub-pixel touch-ups


def test_the_target_must_match_the_track_and_the_frame_its_size(track, astronaut):
    with pytest.raises(ValueError, match="target_opening"):
        EmbeddedLipSync(track, np.zeros(len(track) + 1, np.float32))
    renderer = EmbeddedLipSync(track, np.zeros(len(track), np.float32))
    with pytest.raises(ValueError, match="expected"):
        renderer.render(0, astronaut[:256])


def test_config_is_typed_and_frozen():
    config = EmbeddedLipSyncConfig(max_gap=0.3)
    with pytest.raises(Exception):
        config.max_gap = 0.5
    with pytest.raises(Exception):
        EmbeddedLipSyncConfig(unknown=1)


# -- target from the dub's speech envelope ---------------------------------------------------


def test_silence_gives_a_closed_mouth():
    assert (target_opening_from_envelope(np.zeros(50)) == 0).all()
    quiet_then_loud = np.r_[np.full(20, 0.01), np.full(20, 1.0)]
    target = target_opening_from_envelope(quiet_then_loud)
    assert (target[:20] == 0).all()  # below the gate: closed, not slightly open


def test_the_mouth_opens_within_about_two_frames_and_closes_after_speech():
    envelope = np.r_[np.zeros(10), np.ones(20), np.zeros(20)]
    target = target_opening_from_envelope(envelope)
    assert target.shape == envelope.shape and target.dtype == np.float32
    assert 0.0 <= target.min() and target.max() <= 1.0
    assert target[9] == 0 and target[11] > 0.8  # speech starts at frame 10
    assert 0 < target[31] < target[29]  # releases smoothly...
    assert (target[40:] == 0).all()  # ...and is fully closed a few frames into the silence


def test_the_envelope_scale_does_not_matter_and_bad_values_are_silence():
    rng = np.random.default_rng(1)
    envelope = rng.random(100)
    np.testing.assert_allclose(target_opening_from_envelope(envelope), target_opening_from_envelope(1000 * envelope))
    with_nan = envelope.copy()
    with_nan[10] = np.nan
    assert np.isfinite(target_opening_from_envelope(with_nan)).all()
    assert target_opening_from_envelope(np.zeros(0)).shape == (0,)


# -- on a real talking-face clip ---------------------------------------------------------------


def test_on_a_real_clip_the_mouth_follows_the_target_and_not_the_source_speech(testdata):
    import itertools

    import av

    path = testdata / "video" / "v08_styletalk_Obama_clip1.mp4"
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in itertools.islice(container.decode(video=0), 120)]
    source = track_faces(frames, 30.0, FaceTrackConfig())
    # Syllable-like bursts of a dub with pauses between them: 1 s talking, 1/3 s silent.
    n = len(frames)
    talking = (np.arange(n) % 40) < 30
    envelope = np.where(talking, 0.5 + 0.5 * np.sin(np.arange(n) * 2 * np.pi / 7), 0.0)
    target = target_opening_from_envelope(envelope)
    renderer = EmbeddedLipSync(source, target)
    rendered = track_faces((renderer.render(i, f) for i, f in enumerate(frames)), 30.0, FaceTrackConfig(smooth=False))

    out, src = rendered.mouth_opening(), source.mouth_opening()
    assert rendered.present.all()
    assert np.corrcoef(out, target)[0, 1] > 0.8
    assert abs(np.corrcoef(src, target)[0, 1]) < 0.5  # the source's own speech does not explain it
    silent = target == 0
    assert silent.sum() > 10
    assert np.mean(out[silent]) < 0.03 < np.mean(src[silent])  # he talks there; the dub does not


# -- phoneme-driven mouth shapes (visemes.py) ---------------------------------------------------

from models.lipsync import visemes  # noqa: E402
from models.lipsync.mouth_library import MouthLibrary, MouthLibraryConfig  # noqa: E402
from models.lipsync.select import switch_frames  # noqa: E402


def test_bilabials_close_the_lips_and_rounded_vowels_narrow_them():
    fps = 25.0
    # "a m a u i" then silence: 120 ms each.
    names = ["a", "m", "a", "uː", "i", "_"]
    phonemes = [(0.2 + 0.12 * k, 0.32 + 0.12 * k, p) for k, p in enumerate(names)]
    shapes = visemes.shapes_from_phonemes(phonemes, fps, 40)
    frame = lambda t: int(t * fps)  # noqa: E731
    m_frame = frame(0.2 + 0.12 + 0.06)
    assert shapes[m_frame, visemes.CLOSURE] == 1.0 and shapes[m_frame, visemes.OPEN] == 0.0
    assert shapes[frame(0.26), visemes.OPEN] > 0.4  # the short /a/ before it opens (coarticulated)
    assert shapes[frame(0.2 + 0.36 + 0.06), visemes.ROUND] > 0.1 > 0 > shapes[frame(0.2 + 0.48 + 0.06), visemes.ROUND]
    assert (shapes[: frame(0.1), visemes.OPEN] < 0.1).all() and (shapes[frame(1.2):, visemes.OPEN] == 0).all()


def test_phonemes_follow_their_clip_to_where_fit_timing_put_it():
    placed = visemes.phonemes_on_dub_clock(
        [[(0.0, 0.5, "a"), (0.5, 1.0, "m")]], [1.0], [{"index": 0, "dub_start": 2.0, "dub_end": 2.8}])
    assert placed == [(2.0, 2.4, "a"), (2.4, 2.8, "m")]  # sped up 1.25x, shifted by 2 s


def test_silence_in_the_dub_closes_the_mouth_whatever_the_phonemes_say():
    rate, fps = 16000, 25.0
    audio = np.zeros(rate * 2, np.float32)
    audio[: rate // 2] = 0.3 * np.sin(np.arange(rate // 2) * 2 * np.pi * 220 / rate)
    shapes = visemes.dub_mouth_shapes(audio, rate, fps, 50, [(0.0, 1.5, "a")])
    assert shapes[5, visemes.OPEN] > 0.5
    assert (shapes[20:, visemes.OPEN] == 0).all()


def test_without_phonemes_the_audio_drives_the_opening():
    rate, fps = 16000, 25.0
    t = np.arange(rate * 2) / rate
    audio = (0.3 * np.sin(2 * np.pi * 200 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    shapes = visemes.dub_mouth_shapes(audio, rate, fps, 50)
    loud = np.sin(2 * np.pi * 2 * (np.arange(50) + 0.5) / fps) > 0.3
    assert shapes[loud, visemes.OPEN].mean() > 2 * shapes[~loud, visemes.OPEN].mean()


# -- appearance re-use on a real clip -----------------------------------------------------------


@pytest.fixture(scope="module")
def obama():
    import itertools

    import av

    from tests.conftest import TESTDATA

    if not TESTDATA.is_dir():
        pytest.skip(f"real test clips not present at {TESTDATA}")
    path = TESTDATA / "video" / "v08_styletalk_Obama_clip1.mp4"
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in itertools.islice(container.decode(video=0), 150)]
    return frames, track_faces(frames, 30.0, FaceTrackConfig())


def test_the_library_is_bounded_and_kept_in_runs(obama):
    frames, track = obama
    lib = MouthLibrary.from_frames(iter(frames), track, MouthLibraryConfig(max_entries=60, run_length=10, min_entries=10))
    assert len(lib) == 60 and len(set(lib.run_id.tolist())) == 6
    assert all(c.shape[0] < frames[0].shape[0] for c in lib.crops)  # crops, not frames
    assert lib.usable(MouthLibraryConfig(min_entries=10, min_open_range=0.03))


def test_a_still_photo_falls_back_to_the_warp(track, astronaut):
    lib = MouthLibrary.from_frames([astronaut] * 3, track)
    renderer = EmbeddedLipSync(track, np.ones(3, np.float32), library=lib)
    assert not renderer.reusing  # 3 identical mouths: nothing to choose from
    assert opening_of(renderer.render(2, astronaut)) > track.mouth_opening()[-1]


def test_reused_mouths_follow_the_target_close_in_silence_and_touch_only_the_lower_face(obama):
    frames, track = obama
    n = len(frames)
    # Hindi-like syllables with pauses: "pa ma ta" loops, 2/3 of the time talking.
    phonemes, t = [], 0.0
    while t < n / 30.0:
        for p in ("p", "a", "m", "aː", "t", "ə", "n", "i"):
            phonemes.append((t, t + 0.09, p))
            t += 0.09
        t += 0.4  # pause
    shapes = visemes.shapes_from_phonemes(phonemes, 30.0, n)
    lib = MouthLibrary.from_frames(iter(frames), track)
    renderer = EmbeddedLipSync(track, shapes, library=lib)
    assert renderer.reusing
    out = [renderer.render(i, f) for i, f in enumerate(frames)]
    rendered = track_faces(out, 30.0, FaceTrackConfig(smooth=False))
    opening = rendered.mouth_opening()
    assert np.corrcoef(opening, shapes[:, visemes.OPEN])[0, 1] > 0.6
    rest = shapes[:, visemes.OPEN] == 0
    assert np.mean(opening[rest] < 0.05) > 0.9
    # Playing runs of real frames through, not a new source every frame.
    assert switch_frames(renderer.path, lib).sum() / (n / 30.0) < 8
    for i in (10, 70, 130):
        pts = track.landmarks[i]
        eye = np.linalg.norm(pts[lm.EYE_OUTER_RIGHT] - pts[lm.EYE_OUTER_LEFT])
        top = int(pts[lm.NOSE_BASE, 1] - 0.1 * eye)  # the mask's top follows the (tilted) nose-base line
        np.testing.assert_array_equal(out[i][:top], frames[i][:top])  # eyes, nose, hair


def test_a_saved_mouth_library_loads_back_entry_for_entry(tmp_path):
    """The mouth_library stage stores the crops (each its own size) for every lipsync to load."""
    from models.lipsync.mouth_library import THUMB, MouthLibrary

    rng = np.random.default_rng(0)
    k = 3
    library = MouthLibrary(
        crops=[rng.integers(0, 256, (40 + i, 60 + 2 * i, 3), dtype=np.uint8) for i in range(k)],
        landmarks=rng.normal(size=(k, 478, 2)).astype(np.float32), source_index=np.arange(k, dtype=np.int64),
        run_id=np.zeros(k, np.int64), opening=rng.random(k).astype(np.float32), width=rng.random(k).astype(np.float32),
        teeth=rng.random(k).astype(np.float32), pose=rng.normal(size=(k, 2)).astype(np.float32),
        sharpness=rng.random(k).astype(np.float32), thumbs=rng.random((k, THUMB[0] * THUMB[1])).astype(np.float32))
    library.save(tmp_path / "mouths.npz")
    back = MouthLibrary.load(tmp_path / "mouths.npz")
    assert len(back) == k
    assert all(np.array_equal(a, b) for a, b in zip(library.crops, back.crops))
    for name in ("landmarks", "source_index", "run_id", "opening", "width", "teeth", "pose", "sharpness", "thumbs"):
        assert np.array_equal(getattr(library, name), getattr(back, name)), name
    MouthLibrary.empty().save(tmp_path / "none.npz")
    assert len(MouthLibrary.load(tmp_path / "none.npz")) == 0
