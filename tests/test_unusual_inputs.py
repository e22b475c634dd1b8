"""Unusual but valid input dubs correctly: tiny and 4K frames, variable frame rate, 5.1 and 8 kHz
audio, a video without any face."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from skimage import data

from lipsync_sts import media

HINDI = "नमस्ते। आज मौसम अच्छा है।"


def hindi_speech(rate: int) -> np.ndarray:
    from models.tts import TtsConfig, synthesize

    speech = synthesize(HINDI, "hi", TtsConfig(sample_rate=rate))
    pad = np.zeros(rate // 4, np.float32)
    return np.concatenate([pad, speech.audio.astype(np.float32), pad])


def write_clip(path: Path, frame: np.ndarray, audio: np.ndarray, rate: int, channels: int = 1,
               fps: int = 25, vfr: bool = False) -> Path:
    """A still ``frame`` for the audio's length; with ``vfr``, frame durations alternate 1 and 3 ticks."""
    seconds = len(audio) / rate
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = frame.shape[1], frame.shape[0], "yuv420p"
        video.codec_context.time_base = Fraction(1, fps * 2)
        sound = out.add_stream("aac", rate=rate, layout={1: "mono", 2: "stereo", 6: "5.1"}[channels])
        pts, i = 0, 0
        while pts < seconds * fps * 2:
            f = av.VideoFrame.from_ndarray(frame, format="rgb24")
            f.pts, f.time_base = pts, Fraction(1, fps * 2)
            out.mux(video.encode(f))
            pts += (1 if i % 2 == 0 else 3) if vfr else 2
            i += 1
        out.mux(video.encode(None))
        planar = np.repeat(audio[None, :], channels, axis=0).astype(np.float32)
        step = 1024
        for start in range(0, planar.shape[1], step):
            a = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar[:, start:start + step]), format="fltp",
                                           layout={1: "mono", 2: "stereo", 6: "5.1"}[channels])
            a.sample_rate, a.pts = rate, start
            out.mux(sound.encode(a))
        out.mux(sound.encode(None))
    return path


def portrait(size: tuple[int, int]) -> np.ndarray:
    return np.ascontiguousarray(cv2.resize(data.astronaut(), size, interpolation=cv2.INTER_AREA))


def dub_it(clip: Path, tmp_path: Path, transcript: str | None = None):
    from flows.dub import dub

    out = tmp_path / "out.mp4"
    result = dub(video=str(clip), source="hi", targets=["ur"], output=str(out), store_url=str(tmp_path / "store"),
                 transcript=transcript)
    return result, media.probe(clip), media.probe(out)


@pytest.mark.parametrize("case", ["5.1 audio at 48 kHz", "8 kHz audio", "variable frame rate"])
def test_unusual_audio_and_timing_dub_with_the_picture_unchanged_in_format(prefect_api, tmp_path, case):
    rate, channels, vfr = {"5.1 audio at 48 kHz": (48000, 6, False), "8 kHz audio": (8000, 1, False),
                           "variable frame rate": (16000, 1, True)}[case]
    clip = write_clip(tmp_path / "in.mp4", portrait((320, 320)), hindi_speech(rate), rate, channels, vfr=vfr)
    result, src, dst = dub_it(clip, tmp_path)
    assert (dst.width, dst.height, dst.n_frames) == (src.width, src.height, src.n_frames)
    assert dst.has_audio and result.outputs[0].segments, "speech was recognised and dubbed"


def test_64_pixel_frames_dub_at_their_size(prefect_api, tmp_path):
    clip = write_clip(tmp_path / "tiny.mp4", portrait((64, 64)), hindi_speech(16000), 16000)
    result, src, dst = dub_it(clip, tmp_path)
    assert (dst.width, dst.height, dst.n_frames) == (64, 64, src.n_frames) and dst.has_audio


def test_a_video_without_a_face_gets_an_audio_only_dub_with_the_picture_untouched(prefect_api, tmp_path):
    wall = np.full((96, 128, 3), 120, np.uint8)
    wall[:, :64] = 60  # a plain two-tone wall: nothing face-like
    clip = write_clip(tmp_path / "wall.mp4", wall, hindi_speech(16000), 16000)
    result, src, dst = dub_it(clip, tmp_path)
    assert "lipsync" not in {s["stage"] for s in result.stages}
    assert dst.has_audio and dst.n_frames == src.n_frames
    same = all(np.array_equal(a, b) for a, b in zip(media.iter_frames(clip), media.iter_frames(tmp_path / "out.mp4")))
    assert same, "without a face the picture is copied, not re-encoded"


def test_a_4k_portrait_dubs_at_full_resolution(prefect_api, tmp_path):
    # One second (25 frames of 2160x2160) keeps this affordable on 2 cores; the transcript spares
    # recognition, which is not what is under test here.
    srt = tmp_path / "uhd.hi.srt"
    srt.write_text("1\n00:00:00,100 --> 00:00:00,900\nनमस्ते\n", encoding="utf-8")
    clip = write_clip(tmp_path / "uhd.mp4", portrait((2160, 2160)), hindi_speech(16000)[:16000], 16000)
    result, src, dst = dub_it(clip, tmp_path, transcript=str(srt))
    assert (dst.width, dst.height, dst.n_frames) == (2160, 2160, src.n_frames)
    assert next(s for s in result.stages if s["stage"] == "lipsync")["state"] == "Completed"
