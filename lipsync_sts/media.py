"""Decoding, encoding and muxing with PyAV (FFmpeg's libraries, x264 included, in one wheel).

PyAV rather than moviepy for the hot path: it streams frame by frame without an ffmpeg
subprocess and pipe, copies packets when remuxing, and reports stream metadata (rotation, frame
rate as a fraction) that moviepy hides.
"""

from __future__ import annotations

import functools
import os
import threading
import uuid
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from queue import Full, Queue
from typing import Iterator

import av
import cv2
import numpy as np
from pydantic import BaseModel

from lipsync_sts.errors import UserInputError


class MediaInfo(BaseModel):
    width: int
    height: int
    fps: float
    fps_fraction: str  # exact rate, e.g. "30000/1001", so the output keeps it
    n_frames: int
    duration: float  # seconds of video
    video_codec: str
    rotation: int = 0  # degrees the player turns the picture (phone videos)
    has_audio: bool
    audio_rate: int | None = None
    audio_channels: int | None = None


def _open(path: str | os.PathLike) -> av.container.InputContainer:
    path = Path(path)
    if not path.exists():
        raise UserInputError(f"input {path} does not exist; check the path")
    if path.is_dir():
        raise UserInputError(f"input {path} is a folder; give a video file")
    if path.stat().st_size == 0:
        raise UserInputError(f"input {path} is empty (0 bytes); give a video file")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise UserInputError(
            f"input {path} cannot be read as a video ({exc.__class__.__name__}); "
            "it may be corrupt, truncated or not a media file"
        ) from None


def probe(path: str | os.PathLike) -> MediaInfo:
    """Stream facts of a video file; a clear error if it is not a readable video."""
    with _open(path) as container:
        if not container.streams.video:
            raise UserInputError(f"input {path} has no video stream; give a video (audio-only files cannot be lip-synced)")
        video = container.streams.video[0]
        rate = video.average_rate or video.guessed_rate or video.base_rate
        if not rate or rate <= 0:
            raise UserInputError(f"input {path} has no usable frame rate; re-encode it (e.g. ffmpeg -r 25)")
        n_frames, rotation = _count_frames(container, video)
        if n_frames == 0:
            raise UserInputError(f"input {path} has no decodable video frames; it may be corrupt or truncated")
        audio = container.streams.audio[0] if container.streams.audio else None
        return MediaInfo(
            width=video.width, height=video.height, fps=float(rate),
            fps_fraction=f"{rate.numerator}/{rate.denominator}", n_frames=n_frames,
            duration=n_frames / float(rate), video_codec=video.codec_context.name, rotation=rotation,
            has_audio=audio is not None, audio_rate=audio.rate if audio else None,
            audio_channels=audio.channels if audio else None,
        )


def _count_frames(container: av.container.InputContainer, video: av.VideoStream) -> tuple[int, int]:
    """Frames are counted by demuxing (no decoding): the header's count is missing or wrong for
    many files, and the output must have exactly as many frames as the input. The first frame is
    decoded to check the stream is decodable at all and to read its rotation."""
    rotation = 0
    try:
        first = next(container.decode(video=0))
        rotation = int(getattr(first, "rotation", 0) or 0)
    except (StopIteration, av.error.FFmpegError):
        return 0, 0
    container.seek(0)
    n = sum(1 for packet in container.demux(video) if packet.size)
    return n, rotation


class Frames(Iterator):
    """The iterator :func:`iter_frames` returns: one item per frame, and ``decoded``, how many
    frames the decoder has produced so far (fewer than the items where seeking skipped some)."""

    def __init__(self, items: Iterator[np.ndarray | None], count: list[int]) -> None:
        self._items, self._count = items, count

    @property
    def decoded(self) -> int:
        return self._count[0]

    def __next__(self) -> np.ndarray | None:
        return next(self._items)

    def close(self) -> None:
        close = getattr(self._items, "close", None)
        if close is not None:
            close()


def iter_frames(path: str | os.PathLike, only: set[int] | None = None,
                size: tuple[int, int] | None = None, prefetch: int = 4) -> Frames:
    """Decoded frames, (H, W, 3) uint8 RGB, one at a time. ``only``: the frame indices wanted;
    the others come out as None, unconverted, and where the wanted frames are sparse (a mouth
    library or 40 evaluation samples from a long video) the decoder seeks past whole groups of
    pictures that hold none of them instead of decoding them; within the groups it decodes, it
    skips the unwanted frames that no other frame is predicted from.
    ``size``: (width, height) to scale to in the same swscale pass as the RGB conversion (area
    filter), which costs less than converting at full size and resizing after.
    ``prefetch``: frames decoded ahead in a thread (PyAV decodes and converts without the GIL),
    so decoding overlaps the consumer's work on the other core; 0 decodes in the caller's thread."""
    count = [0]
    frames = _decode_frames(path, only, size, count)
    return Frames(prefetched(frames, prefetch) if prefetch > 0 else frames, count)


def prefetched(items: Iterator, depth: int) -> Iterator:
    """``items`` produced in a background thread, at most ``depth`` ahead of the consumer. The
    producer's exception is raised in the consumer; a consumer that stops early stops the producer."""
    done, stop = object(), threading.Event()
    queue: Queue = Queue(maxsize=depth)

    def put(item) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    break
        except BaseException as exc:  # handed to the consumer, raised there
            put((done, exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None and stop.is_set():
                close()  # the generator's finally (closing the container) runs in its own thread
        put((done, None))

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = queue.get()
            if item is done:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        thread.join()


# A seek flushes the decoder and its frame threads, which then refill: it is taken only where it
# skips more frames than this (a second of 25-fps video; a round number, not a tuned one).
SEEK_GAIN_FRAMES = 25


class _Unindexed(Exception):
    """The decoder gave a frame the demuxed timestamps do not place: decode every frame instead."""


def _decode_frames(path: str | os.PathLike, only: set[int] | None, size: tuple[int, int] | None,
                   count: list[int]) -> Iterator[np.ndarray | None]:
    scale = {} if size is None else {"width": int(size[0]), "height": int(size[1]), "interpolation": "AREA"}

    def rgb(frame: av.VideoFrame) -> np.ndarray:
        return frame.to_ndarray(format="rgb24", **scale)

    done = 0  # items yielded so far: where a sequential decode takes over from a failed sparse one
    try:
        if only is not None:
            with _open(path) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                timeline = _frame_timeline(container, stream)
                if timeline is not None:
                    try:
                        for item in _decode_sparse(container, stream, timeline, only, rgb, count):
                            done += 1
                            yield item
                        return
                    except _Unindexed:
                        pass
        with _open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                count[0] += 1
                if index >= done:
                    yield rgb(frame) if only is None or index in only else None
    except av.error.FFmpegError as exc:
        raise UserInputError(f"input {path} is corrupt part-way through ({exc}); re-encode or replace it") from None


def _frame_timeline(container: av.container.InputContainer,
                    stream: av.VideoStream) -> tuple[np.ndarray, np.ndarray] | None:
    """(pts of every frame in presentation order, the indices of the keyframes among them), from
    one pass of the demuxer (no decoding: 0.14 s for 10 minutes of 1080p, which take 33 s to
    decode). None where timestamps cannot index the frames (a pts missing or repeated, a packet the
    decoder would drop, a first frame that is not a keyframe): the frames are then decoded one
    after another."""
    pts, key = [], []
    for packet in container.demux(stream):
        if not packet.size:
            continue
        if packet.pts is None or packet.is_discard or packet.is_corrupt:
            return None
        pts.append(packet.pts)
        key.append(packet.is_keyframe)
    if not pts:
        return None
    order = np.argsort(np.asarray(pts, np.int64), kind="stable")
    sorted_pts = np.asarray(pts, np.int64)[order]
    keys = np.flatnonzero(np.asarray(key, bool)[order])
    if np.any(np.diff(sorted_pts) <= 0) or keys.size == 0 or keys[0] != 0:
        return None
    return sorted_pts, keys


def _decoded_skipping(container: av.container.InputContainer, stream: av.VideoStream,
                      index_of: dict[int, int], only: set[int]) -> Iterator[av.VideoFrame]:
    """The stream's frames from where the container stands, without decoding the ones that are not
    wanted and that no other frame is predicted from (H.264's non-reference B-frames: half of the
    bench's x264 videos, a fifth of the tests' small clips). Nothing depends on such a frame, so
    every other frame decodes to the same pixels; a decoder that cannot tell which frames these
    are decodes them all. The skip is set per packet (FFmpeg's frame threads copy it as each
    packet is submitted), and packets are matched to frames by pts, as the timeline indexes them."""
    context = stream.codec_context
    for packet in container.demux(stream):
        index = index_of.get(packet.pts) if packet.pts is not None else None
        context.skip_frame = "NONREF" if index is not None and index not in only else "DEFAULT"
        yield from stream.decode(packet)


def _decode_sparse(container: av.container.InputContainer, stream: av.VideoStream,
                   timeline: tuple[np.ndarray, np.ndarray], only: set[int], rgb, count: list[int]
                   ) -> Iterator[np.ndarray | None]:
    """One item per frame, in order, decoding only from the keyframe before each wanted frame
    where that skips more than SEEK_GAIN_FRAMES; frames are placed by their pts, so a seek that
    lands anywhere but where the demuxer said raises _Unindexed rather than give a wrong frame."""
    sorted_pts, keys = timeline
    n = len(sorted_pts)
    index_of = {int(p): i for i, p in enumerate(sorted_pts)}
    wanted = sorted(i for i in only if 0 <= i < n)
    out = 0  # the next index to yield
    position = -SEEK_GAIN_FRAMES - 1  # index of the next frame the decoder gives; none yet
    frames: Iterator[av.VideoFrame] = iter(())
    for target in wanted:
        key = int(keys[np.searchsorted(keys, target, side="right") - 1])
        if key - position > SEEK_GAIN_FRAMES or position > target:
            getattr(frames, "close", lambda: None)()
            container.seek(int(sorted_pts[key]), stream=stream, backward=True, any_frame=False)
            frames = _decoded_skipping(container, stream, index_of, only)
        for frame in frames:
            count[0] += 1
            index = index_of.get(frame.pts) if frame.pts is not None else None
            if index is None:
                raise _Unindexed
            position = index + 1
            if index < out:
                continue  # decoded on the way from the keyframe, already given
            if index > target or (index > out and any(i in only for i in range(out, index))):
                raise _Unindexed  # a wanted frame was skipped: the seek went too far
            while out < index:  # frames the seek skipped: none of them wanted
                yield None
                out += 1
            yield rgb(frame) if index in only else None
            out += 1
            if index == target:
                break
        else:
            raise _Unindexed  # the stream ended before the wanted frame
    while out < n:
        yield None
        out += 1


def read_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """The first audio stream, mixed to mono float32 at ``sample_rate``: shape (n_samples,)."""
    with _open(path) as container:
        if not container.streams.audio:
            raise UserInputError(f"input {path} has no audio track; give a video with speech, or pass --transcript")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            raise UserInputError(f"audio of {path} is corrupt ({exc}); re-encode or replace it") from None
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path next to ``path`` that replaces it only when the block succeeds."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.part{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@functools.cache
def _x264_would_use_avx512() -> bool:
    """Whether x264's CPU detection enables its AVX-512 code here: it needs AVX-512 F, CD, BW, DQ
    and VL with the OS saving ZMM state, which numpy's runtime detection calls AVX512_SKX."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features  # numpy >= 2
    except ImportError:
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features  # numpy 1.x
        except ImportError:
            features = None
    if features is not None:
        return bool(features.get("AVX512_SKX"))
    try:  # no numpy detection: Linux lists what the CPU and kernel support
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}.issubset(flags)


def x264_options(crf: int, preset: str) -> dict[str, str]:
    """libx264 options of every video we encode; the same frames always give the same bytes.

    On CPUs with AVX-512, x264's instruction set is capped at AVX2 (a no-op elsewhere). Its
    AVX-512 macroblock-tree code reads heap memory it never initialised where the width in
    macroblocks is not a multiple of 8 (by x264's source, mbtree_propagate_list does 8
    macroblocks per step without masking the lanes past a row's end; shown here with
    MALLOC_PERTURB_, and gone with mbtree=0 or asm=AVX2). The bitstream (rate control, hence
    every frame) then depended on what the process had freed before: after faster-whisper ran,
    every lipsync call gave other bytes. The AVX2 code gives the same bytes as x264's SSSE3 and
    AVX code, and as its AVX-512 code where the width is a multiple of 128 px; it was not slower
    here (590x590, 720p). mbtree stays on: turning it off would also fix this, but costs quality."""
    options = {"crf": str(crf), "preset": preset}
    if _x264_would_use_avx512():
        options["x264-params"] = "asm=AVX2"  # x264's "AVX2" level: AVX, FMA3, BMI1/2, LZCNT, AVX2
    return options


class VideoWriter:
    """H.264 encoder fed RGB frames one at a time, keeping the input's exact frame rate."""

    def __init__(self, path: str | os.PathLike, fps_fraction: str, width: int, height: int,
                 crf: int = 18, preset: str = "veryfast", rotation: int = 0):
        self.container = av.open(str(path), mode="w")
        self.stream = self.container.add_stream("libx264", rate=Fraction(fps_fraction))
        self.stream.width, self.stream.height = width, height
        # 4:2:0 needs even sizes; odd-sized inputs keep full chroma instead of being cropped.
        self.stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        self.stream.options = x264_options(crf, preset)  # deterministic: see x264_options
        self.stream.thread_type = "AUTO"
        if rotation:
            # Frames stay as decoded; the player turns them, as it did the input. PyAV only writes
            # the display matrix if it is set before the first frame is encoded.
            self.stream.set_display_rotation(rotation)
        self.count = 0

    def write(self, rgb: np.ndarray) -> None:
        if self.stream.pix_fmt == "yuv420p":
            # OpenCV's BT.601 conversion (the one FFmpeg assumes for untagged video) in this thread
            # is 1 ms a 720p frame cheaper than PyAV's per-frame swscale from RGB.
            frame = av.VideoFrame.from_ndarray(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420),
                                               format="yuv420p")
        else:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.count
        self.count += 1
        self.container.mux(self.stream.encode(frame))

    def close(self) -> None:
        self.container.mux(self.stream.encode(None))
        self.container.close()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _audio_packets(stream: av.AudioStream, audio: np.ndarray, sample_rate: int) -> list[av.Packet]:
    """``audio`` is (n,) mono or (n, channels), float in [-1, 1]."""
    planar = np.atleast_2d(np.asarray(audio, dtype=np.float32).T)  # (channels, n)
    layout = "mono" if planar.shape[0] == 1 else "stereo"
    frame_size = stream.codec_context.frame_size or 1024
    packets: list[av.Packet] = []
    for start in range(0, planar.shape[1], frame_size):
        chunk = np.ascontiguousarray(planar[:, start:start + frame_size])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate, frame.pts = sample_rate, start
        frame.time_base = Fraction(1, sample_rate)
        packets.extend(stream.encode(frame))
    packets.extend(stream.encode(None))
    return packets


def mux(video_path: str | os.PathLike, audio: np.ndarray, sample_rate: int, out_path: str | os.PathLike,
        audio_bitrate: int = 128_000) -> None:
    """Copy the video stream of ``video_path`` (no re-encode) and add ``audio`` as AAC.

    ``audio`` is (n,) mono or (n, 2) stereo. Packets are interleaved by time so players can start
    without seeking to the end.
    """
    audio = np.asarray(audio, dtype=np.float32)
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    if channels not in (1, 2):
        raise ValueError(f"mux takes mono or stereo audio, got {channels} channels")
    with av.open(str(video_path)) as source, av.open(str(out_path), mode="w") as out:
        v_in = source.streams.video[0]
        v_out = out.add_stream_from_template(v_in)
        a_out = out.add_stream("aac", rate=sample_rate, layout="mono" if channels == 1 else "stereo")
        a_out.bit_rate = audio_bitrate * channels
        # Audio packets are small (AAC at 128 kb/s); the video's are copied as they are read, so a
        # long 1080p video is never held in memory.
        audio_packets = _audio_packets(a_out, audio, sample_rate)
        pending = 0

        def seconds(packet: av.Packet) -> float:
            return float(packet.dts * packet.time_base)

        for packet in source.demux(v_in):
            if packet.dts is None:
                continue
            t = seconds(packet)
            while pending < len(audio_packets) and seconds(audio_packets[pending]) < t:
                audio_packets[pending].stream = a_out
                out.mux(audio_packets[pending])
                pending += 1
            packet.stream = v_out
            out.mux(packet)
        for packet in audio_packets[pending:]:
            packet.stream = a_out
            out.mux(packet)


def cut(path: str | os.PathLike, start_frame: int, end_frame: int, out_path: str | os.PathLike,
        crf: int = 12, sample_rate: int = 48_000) -> MediaInfo:
    """Frames [start_frame, end_frame) of ``path`` with the audio of the same span, re-encoded
    (near-lossless by default) to ``out_path``: e.g. the halves of the reconstruction benchmark."""
    info = probe(path)
    end_frame = min(end_frame, info.n_frames)
    if not 0 <= start_frame < end_frame:
        raise ValueError(f"cannot cut frames [{start_frame}, {end_frame}) of {path} ({info.n_frames} frames)")
    out_path = Path(out_path)
    with atomic_output(out_path) as tmp:
        silent = tmp.with_name(tmp.stem + ".video.mp4")
        try:
            with VideoWriter(silent, info.fps_fraction, info.width, info.height, crf=crf,
                             rotation=info.rotation) as writer:
                for index, frame in enumerate(iter_frames(path)):
                    if index >= end_frame:
                        break
                    if index >= start_frame:
                        writer.write(frame)
            audio = read_audio(path, sample_rate) if info.has_audio else np.zeros(0, np.float32)
            a, b = (int(round(f / info.fps * sample_rate)) for f in (start_frame, end_frame))
            mux(silent, audio[a:b], sample_rate, tmp)
        finally:
            silent.unlink(missing_ok=True)
    return probe(out_path)
