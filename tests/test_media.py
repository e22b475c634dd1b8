"""Decoding, encoding and muxing keep what users notice: frame count, frame rate, size, duration."""

from __future__ import annotations

import numpy as np
import pytest

from lipsync_sts import media
from lipsync_sts.errors import UserInputError


def make_clip(path, n_frames=30, fps="30000/1001", size=(96, 64), audio_seconds=None, rate=16000):
    w, h = size
    frames_only = path.with_name("frames_" + path.name)
    with media.VideoWriter(frames_only, fps, w, h) as writer:
        for i in range(n_frames):
            frame = np.zeros((h, w, 3), np.uint8)
            frame[:, : (i * w) // n_frames] = 200  # a wipe, so frames differ
            writer.write(frame)
    if audio_seconds is None:
        return frames_only
    t = np.arange(int(audio_seconds * rate)) / rate
    media.mux(frames_only, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, path)
    return path


def test_encoded_clip_keeps_exact_frame_rate_size_and_frame_count(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", n_frames=30, fps="30000/1001", size=(96, 64), audio_seconds=1.0)
    info = media.probe(clip)
    assert (info.width, info.height, info.n_frames) == (96, 64, 30)
    assert info.fps_fraction == "30000/1001"
    assert info.has_audio and info.audio_rate == 16000
    assert info.duration == pytest.approx(30 * 1001 / 30000)


def test_odd_frame_sizes_are_encoded_without_cropping(tmp_path):
    clip = make_clip(tmp_path / "odd.mp4", n_frames=5, fps="25/1", size=(65, 49))
    info = media.probe(clip)
    assert (info.width, info.height) == (65, 49)
    assert sum(1 for _ in media.iter_frames(clip)) == 5


def test_decoded_frames_come_back_in_order(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", n_frames=10, fps="25/1")
    brightness = [f[:, :, 0].mean() for f in media.iter_frames(clip)]
    assert brightness == sorted(brightness) and len(brightness) == 10


def test_audio_is_read_as_mono_at_the_requested_rate(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", n_frames=25, fps="25/1", audio_seconds=1.0, rate=44100)
    audio = media.read_audio(clip, 16000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == pytest.approx(16000, abs=1600)  # AAC priming/padding
    assert np.sqrt(np.mean(audio[4000:12000] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.05)  # the sine survives


def test_a_video_without_audio_is_a_clear_error(tmp_path):
    clip = make_clip(tmp_path / "silent.mp4", n_frames=5, fps="25/1")
    assert not media.probe(clip).has_audio
    with pytest.raises(UserInputError, match="no audio track"):
        media.read_audio(clip, 16000)


@pytest.mark.parametrize("content,expected", [
    (b"", "empty"),
    (b"this is not a video at all" * 100, "cannot be read as a video"),
])
def test_unreadable_inputs_are_clear_errors(tmp_path, content, expected):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(UserInputError, match=expected):
        media.probe(bad)


def test_a_truncated_video_is_a_clear_error(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", n_frames=30, fps="25/1", audio_seconds=1.2)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    with pytest.raises(UserInputError, match=str(truncated.name)):
        media.probe(truncated)


def test_a_missing_input_names_the_path(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        media.probe(tmp_path / "nope.mp4")


def test_a_rotated_phone_video_keeps_its_rotation_through_the_writer(tmp_path):
    out = tmp_path / "rotated.mp4"
    with media.VideoWriter(out, "30/1", 64, 48, rotation=90) as writer:
        for _ in range(3):
            writer.write(np.zeros((48, 64, 3), np.uint8))
    assert abs(media.probe(out).rotation) == 90


def test_prefetched_frames_are_the_frames_decoded_in_the_callers_thread(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", n_frames=12, fps="25/1")
    ahead = list(media.iter_frames(clip, prefetch=3))
    inline = list(media.iter_frames(clip, prefetch=0))
    assert len(ahead) == len(inline) == 12
    assert all(np.array_equal(a, b) for a, b in zip(ahead, inline))


def test_a_consumer_that_stops_early_stops_the_decoding_thread(tmp_path):
    import threading

    clip = make_clip(tmp_path / "c.mp4", n_frames=40, fps="25/1")
    frames = media.iter_frames(clip, prefetch=2)
    first = next(frames)
    frames.close()
    assert first.shape == (64, 96, 3)
    assert not [t for t in threading.enumerate() if t.name == "prefetch"]


def test_an_error_while_decoding_ahead_reaches_the_consumer():
    def failing():
        yield 1
        raise UserInputError("input x.mp4 is corrupt part-way through")

    frames = media.prefetched(failing(), 2)
    assert next(frames) == 1
    with pytest.raises(UserInputError, match="corrupt part-way"):
        next(frames)


def encode_wipe(path, n_frames, keyframe_every, pts=None, container_format=None):
    """A wipe encoded by x264 with B-frames and a keyframe every ``keyframe_every`` frames;
    ``pts``: each frame's timestamp in milliseconds (variable frame rate), default 40 ms apart."""
    import av

    with av.open(str(path), "w", format=container_format) as out:
        stream = out.add_stream("libx264", rate=25, options={"g": str(keyframe_every), "bf": "2"})
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.time_base = stream.time_base = __import__("fractions").Fraction(1, 1000)
        for i in range(n_frames):
            image = np.zeros((64, 96, 3), np.uint8)
            image[:, : (i * 96) // n_frames] = 200
            image[0, 0] = i  # every frame different, even where the wipe moves less than a pixel
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = pts[i] if pts is not None else 40 * i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _same_frames_as_a_full_decode(path, only):
    full = list(media.iter_frames(path))
    frames = media.iter_frames(path, only=only)
    sparse = list(frames)
    assert len(sparse) == len(full)
    for i, (a, b) in enumerate(zip(sparse, full)):
        if i in only:
            assert a is not None and np.array_equal(a, b), f"frame {i} differs"
        else:
            assert a is None
    return frames.decoded


def test_a_few_wanted_frames_of_a_long_video_are_read_without_decoding_the_groups_between(tmp_path):
    clip = encode_wipe(tmp_path / "gop.mp4", n_frames=300, keyframe_every=30)
    wanted = {5, 95, 96, 181, 299}
    decoded = _same_frames_as_a_full_decode(clip, wanted)
    # Each wanted frame costs at most the frames from its group's keyframe: far fewer than 300.
    assert decoded < 150


def test_frames_of_a_variable_frame_rate_video_are_placed_by_their_timestamps(tmp_path):
    rng = np.random.default_rng(0)
    pts = np.cumsum(rng.integers(20, 90, 200)).tolist()
    clip = encode_wipe(tmp_path / "vfr.mp4", n_frames=200, keyframe_every=25, pts=pts)
    assert _same_frames_as_a_full_decode(clip, {0, 60, 61, 140, 199}) < 200


def test_wanted_frames_of_a_stream_without_timestamps_are_decoded_in_order(tmp_path):
    # A raw H.264 stream carries no timestamps to seek by: every frame is decoded, none misplaced.
    clip = encode_wipe(tmp_path / "raw.h264", n_frames=90, keyframe_every=10, container_format="h264")
    assert _same_frames_as_a_full_decode(clip, {3, 50, 88}) == 90


def _unreferenced(path) -> set[int]:
    """Indices of the frames no other frame is predicted from: those FFmpeg's decoder drops when
    told to skip non-reference frames (found apart from media, by a whole decode each way)."""
    import av

    def decoded_pts(skip: str) -> list[int]:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = skip
            return [frame.pts for frame in container.decode(stream)]

    every = sorted(decoded_pts("DEFAULT"))
    kept = set(decoded_pts("NONREF"))
    return {i for i, pts in enumerate(every) if pts not in kept}


def test_dense_wanted_frames_decode_each_frame_once_up_to_the_last_wanted(tmp_path):
    clip = encode_wipe(tmp_path / "gop.mp4", n_frames=120, keyframe_every=30)
    wanted = set(range(0, 118, 3))
    skipped = {i for i in _unreferenced(clip) if i < 118} - wanted
    # Frames 0..117 (the last wanted), each once, but for the unwanted ones nothing refers to.
    assert skipped and _same_frames_as_a_full_decode(clip, wanted) == 118 - len(skipped)


def test_frames_nothing_refers_to_are_decoded_only_when_wanted(tmp_path):
    clip = encode_wipe(tmp_path / "one_gop.mp4", n_frames=100, keyframe_every=300)
    unreferenced = _unreferenced(clip)
    assert len(unreferenced) >= 10  # x264 with B-frames (a fifth of this clip): nothing predicted from them
    # Wanted frames closer together than a seek would gain: the saving is all in the frames left
    # undecoded, some of the unreferenced ones among the wanted.
    wanted = set(range(0, 100, 10)) | {41, 42, 99} | set(sorted(unreferenced)[:3])
    assert _same_frames_as_a_full_decode(clip, wanted) == 100 - len(unreferenced - wanted)
