"""Integration on real footage from ../shared/testdata (skipped where that folder is absent):
a real talking face with real Hindi speech, dubbed into Urdu."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lipsync_sts import media

ARABIC = re.compile(r"[\u0600-\u06FF]")


@pytest.fixture(scope="module")
def hindi_talking_head(tmp_path_factory):
    from tests.conftest import TESTDATA

    if not TESTDATA.is_dir():
        pytest.skip(f"real test clips not present at {TESTDATA}")
    video = TESTDATA / "video" / "v03_retalking_face3.mp4"  # 590x590, 25 fps, 5 s, one frontal face
    speech = TESTDATA / "speech" / "hi_noa_Jaipur_1830-2020724214042_sent_32.wav"  # real Hindi news speech
    info = media.probe(video)
    audio = media.read_audio(speech, 16000)[: int(info.duration * 16000)]
    clip = tmp_path_factory.mktemp("real") / "face3_hindi.mp4"
    media.mux(video, audio, 16000, clip)  # the real picture, its speech replaced by real Hindi
    return clip


def test_real_clip_dubs_hindi_to_urdu_keeping_the_picture_format(prefect_api, hindi_talking_head, tmp_path):
    from flows.dub import dub

    out = tmp_path / "face3.mp4"
    result = dub(video=str(hindi_talking_head), source="hi", targets=["ur"], output=str(out),
                 store_url=str(tmp_path / "store"))
    src, dst = media.probe(hindi_talking_head), media.probe(out)
    assert (dst.width, dst.height, dst.fps_fraction, dst.n_frames) == (src.width, src.height, src.fps_fraction,
                                                                         src.n_frames)
    assert abs(dst.duration - src.duration) <= 1 / src.fps
    urdu = (tmp_path / "face3.ur.srt").read_text(encoding="utf-8")
    assert ARABIC.search(urdu)
    track_stage = next(s for s in result.stages if s["stage"] == "track_faces")
    assert track_stage["state"] == "Completed"

    # The lower face changed and the top of the picture did not (beyond codec noise).
    frames_in = list(media.iter_frames(hindi_talking_head))
    frames_out = list(media.iter_frames(out))
    top_diff = np.mean([np.abs(a[:150].astype(int) - b[:150].astype(int)).mean() for a, b in zip(frames_in, frames_out)])
    assert top_diff < 2.0
