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


def iter_frames(path: str | os.PathLike, only: set[int] | None = None,
                size: tuple[int, int] | None = None, prefetch: int = 4) -> Iterator[np.ndarray | None]:
    """Decoded frames, (H, W, 3) uint8 RGB, one at a time. ``only``: the frame indices wanted;
    the others are decoded (H.264 must be) but not converted to RGB, and come out as None.
    ``size``: (width, height) to scale to in the same swscale pass as the RGB conversion (area
    filter), which costs less than converting at full size and resizing after.
    ``prefetch``: frames decoded ahead in a thread (PyAV decodes and converts without the GIL),
    so decoding overlaps the consumer's work on the other core; 0 decodes in the caller's thread."""
    frames = _decode_frames(path, only, size)
    return prefetched(frames, prefetch) if prefetch > 0 else frames


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


def _decode_frames(path: str | os.PathLike, only: set[int] | None,
                   size: tuple[int, int] | None) -> Iterator[np.ndarray | None]:
    scale = {} if size is None else {"width": int(size[0]), "height": int(size[1]), "interpolation": "AREA"}
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for index, frame in enumerate(container.decode(stream)):
                yield frame.to_ndarray(format="rgb24", **scale) if only is None or index in only else None
        except av.error.FFmpegError as exc:
            raise UserInputError(f"input {path} is corrupt part-way through ({exc}); re-encode or replace it") from None


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
