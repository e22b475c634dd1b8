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
    assert (still_track.confidence == 1).all()  # no detector score asked for: the mesh's face counts
    assert still_track.size == (512, 512) and still_track.fps == 25.0
    x0, y0, x1, y1 = still_track.boxes[0]
    assert 150 < x0 < x1 < 300 and 40 < y0 < y1 < 220  # the astronaut's face, upper middle


def test_asked_for_it_the_detector_scores_each_tracked_face(astronaut):
    scored = track_faces([astronaut] * 3, 25.0, FaceTrackConfig(score_with_detector=True))
    unscored = track_faces([astronaut] * 3, 25.0, FaceTrackConfig())
    assert (scored.confidence > 0.5).all() and (scored.confidence < 1).all()
    np.testing.assert_array_equal(scored.landmarks, unscored.landmarks)  # the score changes nothing else


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


# -- issue 3: backends, rotation, sizes, cuts, speaker choice, jitter, debug pictures ------------

from models.face import render_debug  # noqa: E402
from models.face import rotation as rot  # noqa: E402
from models.face import speaker  # noqa: E402
from models.face.backends import FAN_WEIGHTS, S3FD_WEIGHTS, FaceAlignmentBackend, face_alignment_checkpoints  # noqa: E402
from models.face.identities import Candidate  # noqa: E402
from models.face.metrics import mouth_jitter  # noqa: E402


def test_display_rotation_maps_points_back_to_the_stored_frame():
    for w, h in [(5, 3), (4, 7)]:
        stored = np.arange(w * h).reshape(h, w)
        for turns in range(4):
            shown = rot.upright(stored, turns)
            ys, xs = np.mgrid[0 : shown.shape[0], 0 : shown.shape[1]]
            back = rot.to_stored(np.stack([xs, ys], -1), turns, (w, h)).astype(int)
            np.testing.assert_array_equal(stored[back[..., 1], back[..., 0]], shown)
    assert rot.quarter_turns(-90) == 3 and rot.quarter_turns(180) == 2
    with pytest.raises(ValueError):
        rot.quarter_turns(45)


def test_a_phone_video_stored_sideways_is_tracked_upright_in_stored_pixels(astronaut, still_track, tmp_path):
    from lipsync_sts import media

    import av

    stored = np.ascontiguousarray(np.rot90(astronaut, -1))  # the player turns it 90° counter-clockwise
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as out:  # as a phone writes it: display matrix set before encoding
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 512, 512, "yuv420p"
        stream.set_display_rotation(90)
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    info = media.probe(path)
    assert info.rotation == 90  # PyAV's convention, as MediaInfo reports it

    track = track_faces(media.iter_frames(path), info.fps, FaceTrackConfig(), rotation=info.rotation)
    assert track.present.all() and track.rotation == 90
    expected = rot.to_stored(still_track.landmarks[-1], 1, (512, 512))
    assert np.median(np.linalg.norm(track.landmarks[-1] - expected, axis=-1)) < 4.0  # codec loss only


@pytest.mark.parametrize("size", [(301, 257), (97, 75)])
def test_odd_and_tiny_frames_are_tracked_in_their_own_pixels(astronaut, size):
    import cv2

    frame = cv2.resize(astronaut[0:300, 100:400], size, interpolation=cv2.INTER_AREA)  # the face fills it
    track = track_faces([frame] * 3, 25.0, FaceTrackConfig())
    assert track.size == size and track.present.all()
    x0, y0, x1, y1 = track.boxes[-1]
    assert 0 <= x0 < x1 <= size[0] and 0 <= y0 < y1 <= size[1]


def test_frames_too_small_for_a_face_are_absent_not_an_error():
    track = track_faces([grey(9, 17)] * 2, 25.0, FaceTrackConfig())
    assert track.size == (17, 9) and not track.present.any()


def _two_shots(astronaut) -> list[np.ndarray]:
    face = astronaut[20:260, 140:360]  # (240, 220, 3)
    second = np.full((512, 512, 3), 40, np.uint8)
    second[250:490, 270:490] = face  # the face elsewhere, on another background
    return [astronaut] * 5 + [second] * 5


def test_a_scene_cut_starts_a_new_shot_and_the_smoothing_does_not_drag_across_it(astronaut):
    frames = _two_shots(astronaut)
    smooth = track_faces(frames, 25.0, FaceTrackConfig())
    raw = track_faces(frames, 25.0, FaceTrackConfig(smooth=False))
    assert smooth.cuts.tolist() == [False] * 5 + [True] + [False] * 4
    assert smooth.shot_starts().tolist() == [0, 5] and len(smooth.notes) == 2
    assert smooth.present.all()
    # The first frame after the cut is where the new face is, not pulled towards the old place.
    assert np.abs(smooth.landmarks[5] - raw.landmarks[5]).max() < 1.0


def _candidate(shot: int, frames: range, centre: tuple[float, float], width: float, gap: np.ndarray) -> Candidate:
    cand = Candidate(shot=shot)
    for t in frames:
        pts = np.zeros((lm.N_LANDMARKS, 2), np.float32) + np.array(centre, np.float32)
        pts[:, 0] += np.linspace(-width / 2, width / 2, lm.N_LANDMARKS)  # the face's extent
        pts[lm.EYE_OUTER_LEFT] = (centre[0] - width / 3, centre[1])
        pts[lm.EYE_OUTER_RIGHT] = (centre[0] + width / 3, centre[1])
        pts[lm.LOWER_LIP_INNER_MID, 1] = pts[lm.UPPER_LIP_INNER_MID, 1] + gap[t]
        cand.add(t, pts, 0.9)
    return cand


def test_the_speaker_is_the_face_whose_lips_follow_the_speech():
    rng = np.random.default_rng(1)
    n = 150
    speech = np.clip(rng.normal(0.5, 0.3, n), 0, 1).astype(np.float32)
    talking = 2.0 + 20.0 * speech  # its lip gap follows the speech
    other = 2.0 + 20.0 * np.clip(rng.normal(0.5, 0.3, n), 0, 1)  # talks, but other words
    shot = range(0, n)
    small_speaker = _candidate(0, shot, (100, 100), 60, talking)
    big_other = _candidate(0, shot, (320, 240), 150, other)  # larger and more central
    cands = [big_other, small_speaker]
    assert speaker.choose(cands, shot, (640, 480), speech, None).candidate is small_speaker
    # Without speech: the most prominent face.
    assert speaker.choose(cands, shot, (640, 480), None, None).candidate is big_other
    # Overrides: an index from the left, or a point in fractions of the picture.
    assert speaker.choose(cands, shot, (640, 480), speech, 1).candidate is big_other
    assert speaker.choose(cands, shot, (640, 480), speech, (0.5, 0.5)).candidate is big_other
    assert speaker.choose(cands, shot, (640, 480), None, 2).candidate is None


def test_face_override_is_validated():
    assert FaceTrackConfig(face="1").face == "1" and FaceTrackConfig(face="0.25,0.6").face == "0.25,0.6"
    for bad in ("left", "1.5,0.2", "-1"):
        with pytest.raises(ValueError):
            FaceTrackConfig(face=bad)


def test_haar_gives_a_box_with_a_mean_face_and_says_so(astronaut, still_track):
    track = track_faces([astronaut] * 3, 25.0, FaceTrackConfig(backend="haar"))
    assert track.present.all() and track.backend == "haar"
    eye = np.linalg.norm(still_track.landmarks[-1, lm.EYE_OUTER_RIGHT] - still_track.landmarks[-1, lm.EYE_OUTER_LEFT])
    err = np.linalg.norm(track.landmarks[-1] - still_track.landmarks[-1], axis=-1) / eye
    assert np.median(err) < 0.25  # a coarse fit: the average face in the cascade's box


def test_face_alignment_refuses_clearly_without_its_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match=S3FD_WEIGHTS):
        face_alignment_checkpoints(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="checkpoints"):
        track_faces([grey()], 25.0, FaceTrackConfig(backend="face_alignment", face_alignment_dir=str(tmp_path)))
    (tmp_path / "checkpoints").mkdir()
    for name in (S3FD_WEIGHTS, FAN_WEIGHTS):
        (tmp_path / "checkpoints" / name).write_bytes(b"")
    assert face_alignment_checkpoints(str(tmp_path)) == tmp_path


def test_face_alignment_68_points_drive_the_whole_mesh(astronaut, still_track):
    """FAN itself needs weights; a stand-in returns what FAN would, the 68 iBUG points of the face."""
    truth = still_track.landmarks[-1]  # (478, 2) from the mesh

    class Fan:
        def get_landmarks_from_image(self, image, return_bboxes=False):
            x0, y0, x1, y1 = still_track.boxes[-1]
            return [truth[list(lm.IBUG68_TO_MESH)]], None, [np.array([x0, y0, x1, y1, 0.99])]

    found = FaceAlignmentBackend(predictor=Fan()).detect(astronaut)
    assert len(found) == 1 and found[0].score == pytest.approx(0.99)
    mesh = found[0].points * 512 - 0.5
    eye = np.linalg.norm(truth[lm.EYE_OUTER_RIGHT] - truth[lm.EYE_OUTER_LEFT])
    err = np.linalg.norm(mesh - truth, axis=-1) / eye
    assert np.median(err) < 0.03 and np.median(err[list(lm.MOUTH)]) < 0.02


def test_jitter_is_the_mean_second_difference_of_the_lips_over_face_width():
    n = 6
    pts = np.zeros((n, lm.N_LANDMARKS, 2), np.float32)
    pts[:, :, 0] = np.linspace(0, 100, lm.N_LANDMARKS)  # face width 100
    pts[:, list(lm.MOUTH), 1] += np.array([0, 2, 0, 2, 0, 2], np.float32)[:, None]  # |second difference| = 4
    present = np.ones(n, bool)
    assert mouth_jitter(pts, present) == pytest.approx(0.04)
    present[2] = False
    assert mouth_jitter(pts, present) == pytest.approx(0.04)  # only frames with both neighbours count
    assert np.isnan(mouth_jitter(pts, np.zeros(n, bool)))


def test_smoothing_follows_fast_head_motion_without_lag(astronaut):
    import cv2

    fps, n = 30.0, 45
    path = 40.0 * np.sin(2 * np.pi * 2.5 * np.arange(n) / fps)  # px, a fast head shake
    frames = [cv2.warpAffine(astronaut, np.float32([[1, 0, dx], [0, 1, 0]]), (512, 512), borderMode=cv2.BORDER_REFLECT)
              for dx in path]
    track = track_faces(frames, fps, FaceTrackConfig())
    x = track.landmarks[:, lm.NOSE_BASE, 0]
    x = x - np.mean(x - path)
    v, vt = np.diff(x), np.diff(path)
    best = max(range(-3, 4), key=lambda k: float(np.dot(np.roll(v, -k)[4:-4], vt[4:-4])))
    assert best == 0 and np.mean(np.abs(x - path)) < 4.0


def test_debug_strip_and_video_show_the_track(astronaut, tmp_path):
    from lipsync_sts import media

    path = tmp_path / "clip.mp4"
    frames = [astronaut] * 4 + [grey(512, 512)] * 2
    with media.VideoWriter(path, "25/1", 512, 512) as writer:
        for f in frames:
            writer.write(f)
    track = track_faces(media.iter_frames(path), 25.0, FaceTrackConfig())
    strip = render_debug(path, track, tmp_path / "faces.png", n_tiles=4, tile_width=160, columns=2)
    import cv2

    picture = cv2.imread(str(strip))
    assert picture.shape[1] == 320 and picture.shape[0] >= 320
    video = render_debug(path, track, tmp_path / "faces.mp4")
    assert media.probe(video).n_frames == 6
    with pytest.raises(ValueError, match="png"):
        render_debug(path, track, tmp_path / "faces.gif")


def test_the_stage_uses_the_speech_and_records_how_it_chose(astronaut, tmp_path):
    import soundfile as sf

    from lipsync_sts import media
    from lipsync_sts.store import ArtifactStore
    from tasks.track_faces import TrackFacesConfig, track_video_faces

    store = ArtifactStore(str(tmp_path / "store"))
    path = tmp_path / "clip.mp4"
    with media.VideoWriter(path, "25/1", 512, 512) as writer:
        for _ in range(4):
            writer.write(astronaut)
    video = store.put_file(path, kind="video", meta=media.probe(path).model_dump())
    wav = tmp_path / "speech.wav"
    sf.write(wav, np.zeros(16000 // 5, np.float32), 16000)
    audio = store.put_file(wav, kind="audio")
    ref = track_video_faces(store, video, TrackFacesConfig(), audio=audio)
    assert ref.meta["face_coverage"] == 1.0 and ref.meta["backend"] == "mediapipe"
    assert ref.meta["speaker"] == ["frames 0-3: the only face"]
    assert FaceTrack.load(store.local_path(ref)).present.all()


def test_the_speaking_face_of_two_real_clips_side_by_side_is_chosen(testdata):
    import cv2

    from lipsync_sts import media, timing

    a = testdata / "video" / "v08_styletalk_Obama_clip1.mp4"
    b = testdata / "video" / "v11_styletalk_KristiNoem.mp4"
    n = 240
    frames = [np.hstack([x, cv2.resize(y, (x.shape[1], x.shape[0]))])
              for x, y in zip(itertools.islice(media.iter_frames(a), n), itertools.islice(media.iter_frames(b), n))]
    for voice, left in ((a, True), (b, False)):
        speech = timing.speech_envelope(media.read_audio(voice, 16000), 16000, 30.0, len(frames))
        track = track_faces(frames, 30.0, FaceTrackConfig(), speech=speech)
        centre_x = np.nanmedian(track.boxes[:, [0, 2]].mean(axis=1))
        assert (centre_x < frames[0].shape[1] / 2) == left, track.notes
        assert "follow the speech" in track.notes[0]


def test_a_face_found_twice_in_a_frame_or_lost_for_a_while_stays_one_candidate():
    from models.face.identities import FaceLinker, merge_fragments

    def face(x: float) -> np.ndarray:
        pts = np.zeros((lm.N_LANDMARKS, 2), np.float32)
        pts[:, 0] = np.linspace(x, x + 100, lm.N_LANDMARKS)
        pts[:, 1] = np.linspace(50, 170, lm.N_LANDMARKS)
        return pts

    linker = FaceLinker(max_gap=2)
    linker.add(0, [(face(100), 0.9)])
    linker.add(1, [(face(101), 0.8), (face(104), 0.9)])  # the same face twice
    linker.add(10, [(face(110), 0.9)])  # back after a long gap, near where it was
    linker.add(11, [(face(400), 0.9), (face(111), 0.9)])  # and another face appears
    assert len(linker.candidates) == 3
    merged = merge_fragments(linker.candidates)
    assert sorted(len(c.frames) for c in merged) == [1, 4]


def test_frames_scaled_by_the_decoder_give_the_track_of_full_size_frames(astronaut, tmp_path):
    """track_faces decodes straight to detection size; the track must still be in stored pixels and
    agree with tracking the full-size frames (within a pixel or two of scaling differences)."""
    import cv2

    from lipsync_sts import media
    from models.face import detection_size

    big = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    clip = tmp_path / "big.mp4"
    with media.VideoWriter(clip, "25/1", 1024, 1024, crf=12) as writer:
        for _ in range(4):
            writer.write(big)
    small = detection_size((1024, 1024), 480)
    assert small == (480, 480)
    scaled = track_faces(media.iter_frames(clip, size=small), 25.0, FaceTrackConfig(), stored_size=(1024, 1024))
    full = track_faces(media.iter_frames(clip), 25.0, FaceTrackConfig())
    assert scaled.size == full.size == (1024, 1024)
    assert scaled.present.all() and full.present.all()
    face = full.boxes[0, 2] - full.boxes[0, 0]
    assert np.nanmax(np.abs(scaled.landmarks - full.landmarks)) < 0.02 * face


def test_detection_size_keeps_small_frames_and_scales_the_displayed_width():
    from models.face import detection_size

    assert detection_size((320, 240), 480) == (320, 240)
    assert detection_size((1920, 1080), 480) == (480, 270)
    # A portrait phone video stored landscape with rotation 90: its displayed width is the height.
    assert detection_size((1920, 1080), 480, rotation=90) == (853, 480)


def test_the_output_of_a_one_face_video_is_measured_looking_for_one_face(still_track):
    """Measuring an output's lips needs neither detector scores nor, where the input only ever
    showed one face, a search for more faces (mediapipe runs its detector on every frame then)."""
    from models.face.speaker import one_face_only
    from tasks.track_faces import TrackFacesConfig

    assert one_face_only(still_track.notes)
    measuring = TrackFacesConfig.for_measuring(FaceTrackConfig(), list(still_track.notes)).face
    assert measuring.max_num_faces == 1 and not measuring.score_with_detector
    several = ["frames 0-9: the only face", "frames 10-49: most prominent of 2 faces (no speech given)"]
    assert not one_face_only(several)
    assert TrackFacesConfig.for_measuring(FaceTrackConfig(), several).face.max_num_faces == FaceTrackConfig().max_num_faces
