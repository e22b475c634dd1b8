"""`lipsync-sts lipsync VIDEO AUDIO`: the lip-sync stage on its own, for tracks users already have."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from lipsync_sts import media
from lipsync_sts.demo import build_sample_video
from tests.test_s3_store import s3_endpoint  # noqa: F401 - the moto S3 server fixture


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory):
    return build_sample_video(tmp_path_factory.mktemp("clip") / "face.mp4", text="नमस्ते।")


def speech(path, seconds: float, rate: int = 22050):
    """Speech-like bursts: 4 Hz syllables of a voiced tone, so the mouth has something to follow."""
    t = np.arange(int(seconds * rate)) / rate
    audio = 0.3 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 4 * t) > 0)
    sf.write(path, audio.astype(np.float32), rate)
    return path


def test_a_longer_track_lengthens_the_video_and_the_cache_is_shared_with_dubs(prefect_api, face_clip, tmp_path):
    from flows.lipsync_only import lipsync_flow

    store = str(tmp_path / "store")
    n = media.probe(face_clip).n_frames
    long_track = speech(tmp_path / "long.wav", seconds=n / 25 + 2.0)
    result = lipsync_flow(video=str(face_clip), audio=str(long_track), output=str(tmp_path / "out.mp4"),
                          store_url=store)
    info = media.probe(tmp_path / "out.mp4")
    assert info.n_frames == n + 50 == result.frames and result.extended_frames == 50
    assert info.has_audio and abs(info.duration - (n / 25 + 2.0)) <= 1 / 25

    again = lipsync_flow(video=str(face_clip), audio=str(long_track), output=str(tmp_path / "again.mp4"),
                         store_url=store)
    assert not [s for s in again.stages if not s["cached"]], "a rerun computes nothing"


def test_a_shorter_track_is_padded_and_a_video_can_serve_as_the_audio(prefect_api, face_clip, tmp_path):
    from flows.lipsync_only import lipsync_flow

    n = media.probe(face_clip).n_frames
    short = media.probe(face_clip)
    donor = tmp_path / "donor.mp4"  # a video whose soundtrack is the speech to follow
    media.mux(face_clip, np.zeros(int(short.duration * 8000 / 2), np.float32) + 0.2 *
              np.sin(np.arange(int(short.duration * 8000 / 2)) / 8000 * 2 * np.pi * 150).astype(np.float32),
              8000, donor)
    result = lipsync_flow(video=str(face_clip), audio=str(donor), output=str(tmp_path / "out.mp4"),
                          store_url=str(tmp_path / "store"))
    assert result.frames == n and result.extended_frames == 0


def test_trim_keeps_the_video_length(prefect_api, face_clip, tmp_path):
    from flows.lipsync_only import LipSyncOptions, lipsync_flow
    from tasks.prepare_track import PrepareTrackConfig

    n = media.probe(face_clip).n_frames
    result = lipsync_flow(video=str(face_clip), audio=str(speech(tmp_path / "long.wav", n / 25 + 1.0)),
                          output=str(tmp_path / "out.mp4"), store_url=str(tmp_path / "store"),
                          options=LipSyncOptions(track=PrepareTrackConfig(longer="trim")))
    assert result.frames == n and result.trimmed_s == pytest.approx(1.0, abs=0.05)


def test_a_silent_or_missing_track_is_a_clear_error(prefect_api, capsys, face_clip, tmp_path):
    from lipsync_sts.cli import main

    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    assert main(["lipsync", str(face_clip), str(tmp_path / "missing.wav"), "-o", str(tmp_path / "o.mp4")]) == 2
    assert "missing.wav" in capsys.readouterr().err

    from flows.lipsync_only import lipsync_flow
    from lipsync_sts.errors import UserInputError

    with pytest.raises(UserInputError, match="silent"):
        lipsync_flow(video=str(face_clip), audio=str(silent), output=str(tmp_path / "o.mp4"),
                     store_url=str(tmp_path / "store"))
    assert not (tmp_path / "o.mp4").exists()


def test_a_mouth_library_from_another_recording_is_used(prefect_api, face_clip, tmp_path):
    from flows.lipsync_only import lipsync_flow

    other = build_sample_video(tmp_path / "other.mp4", text="आज मौसम अच्छा है।")
    result = lipsync_flow(video=str(face_clip), audio=str(speech(tmp_path / "s.wav", 2.0)),
                          output=str(tmp_path / "out.mp4"), store_url=str(tmp_path / "store"),
                          mouth_library=str(other))
    assert {(s["stage"], s["for"]) for s in result.stages} >= {("ingest", "library"), ("track_faces", "library")}
    assert media.probe(tmp_path / "out.mp4").n_frames == result.frames


def test_tts_phonemes_are_placed_where_fit_timing_put_each_clip(tmp_path):
    from lipsync_sts.store import ArtifactStore
    from tasks.lipsync import dub_phonemes
    from tasks.synthesize import SpeechClips

    store = ArtifactStore(str(tmp_path / "store"))
    clips = SpeechClips(clips=[np.zeros(1000, np.float32)], sample_rate=1000,
                        phonemes=[[(0.0, 0.5, "m"), (0.5, 1.0, "a")]])
    clips.save(tmp_path / "c.npz")
    speech_ref = store.put_file(tmp_path / "c.npz", kind="speech-clips")
    dub = store.put_bytes(b"dub", suffix=".wav", meta={"timing": [{"index": 0, "dub_start": 2.0, "dub_end": 2.8}]})
    assert dub_phonemes(store, speech_ref, dub) == [(2.0, 2.4, "m"), (2.4, 2.8, "a")]  # sped up 1.25x
    assert dub_phonemes(store, None, dub) is None


def test_a_video_and_a_track_in_a_bucket_are_fetched_lip_synced_and_measured(prefect_api, s3_endpoint, capsys,
                                                                              face_clip, tmp_path, monkeypatch):
    import fsspec

    from lipsync_sts.cli import main

    monkeypatch.setenv("LIPSYNC_STS_CACHE", str(tmp_path / "cache"))
    fs = fsspec.filesystem("s3")
    fs.put_file(str(face_clip), "lipsync-bucket/talks/face.mp4")
    n = media.probe(face_clip).n_frames
    fs.put_file(str(speech(tmp_path / "s.wav", n / 25)), "lipsync-bucket/talks/speech.wav")
    video, track = "s3://lipsync-bucket/talks/face.mp4", "s3://lipsync-bucket/talks/speech.wav"
    store = str(tmp_path / "store")

    assert main(["lipsync", video, track, "-o", str(tmp_path / "out.mp4"), "--store", store]) == 0
    assert media.probe(tmp_path / "out.mp4").n_frames == n
    assert main(["evaluate", video, "--audio", track, "--json", "--store", store]) == 0
    assert '"audio": "speech.wav"' in capsys.readouterr().out

    assert main(["lipsync", video, "s3://lipsync-bucket/talks/absent.wav", "-o", str(tmp_path / "o.mp4"),
                 "--store", store]) == 2
    err = capsys.readouterr().err
    assert "s3://lipsync-bucket/talks/absent.wav does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "o.mp4").exists()
