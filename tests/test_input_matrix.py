"""Bad input through the command line, as a user meets it: one clear line naming the input and
what to do, exit status 2, no traceback, and nothing half-written left behind."""

from __future__ import annotations

import numpy as np
import pytest

from lipsync_sts.cli import main
from tests.test_media import make_clip


def refused(capsys, *argv) -> str:
    """Run the CLI as a user would; assert it refused with one clear last line and no traceback."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    # Prefect's log lines may come first when the flow had started; the verdict is one last line.
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("lipsync-sts: error: "), err
    return last


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "clip.mp4", n_frames=10, fps="25/1", audio_seconds=0.4)


def test_a_video_without_audio_asks_for_a_transcript(capsys, tmp_path):
    silent = make_clip(tmp_path / "silent.mp4", n_frames=10, fps="25/1")
    err = refused(capsys, "dub", str(silent), "--from", "hi", "--to", "ur", "-o", str(tmp_path / "o.mp4"))
    assert "silent.mp4" in err and "no audio track" in err and "--transcript" in err


def test_an_audio_only_file_is_not_a_video(capsys, tmp_path):
    import soundfile as sf

    wav = tmp_path / "speech.wav"
    sf.write(wav, np.zeros(8000, np.float32), 16000)
    err = refused(capsys, "dub", str(wav), "--from", "hi", "--to", "ur", "-o", str(tmp_path / "o.mp4"))
    assert "speech.wav" in err and "no video stream" in err


def test_a_text_file_named_like_a_video_is_refused(capsys, tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("meeting notes, not a video\n" * 50)
    err = refused(capsys, "dub", str(fake), "--from", "hi", "--to", "ur", "-o", str(tmp_path / "o.mp4"))
    assert "notes.mp4" in err and "cannot be read as a video" in err


def test_an_output_under_a_file_is_refused_before_any_work(capsys, clip, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    err = refused(capsys, "dub", str(clip), "--from", "hi", "--to", "ur", "-o", str(blocker / "out.mp4"))
    assert "cannot be made" in err


def test_inputs_over_the_configured_limits_are_refused(capsys, clip, tmp_path, monkeypatch):
    import lipsync_sts.validation as validation

    monkeypatch.setattr(validation, "MAX_DURATION_S", 0.1)
    err = refused(capsys, "dub", str(clip), "--from", "hi", "--to", "ur", "-o", str(tmp_path / "o.mp4"))
    assert "LIPSYNC_STS_MAX_DURATION" in err
    monkeypatch.setattr(validation, "MAX_DURATION_S", 3600.0)
    monkeypatch.setattr(validation, "MAX_INPUT_BYTES", 10)
    err = refused(capsys, "dub", str(clip), "--from", "hi", "--to", "ur", "-o", str(tmp_path / "o.mp4"))
    assert "LIPSYNC_STS_MAX_BYTES" in err


@pytest.mark.parametrize("content, expected", [
    (b"", "no timed cues"),
    ("1\n00:00:00,000 --> 00:00:01,000\ncaf\xe9\n".encode("latin-1"), "UTF-8"),
])
def test_a_bad_transcript_is_named(capsys, clip, tmp_path, content, expected):
    transcript = tmp_path / "talk.srt"
    transcript.write_bytes(content)
    err = refused(capsys, "dub", str(clip), "--from", "hi", "--to", "ur", "--transcript", str(transcript),
                  "-o", str(tmp_path / "o.mp4"), "--store", str(tmp_path / "store"))
    assert expected in err
    assert not (tmp_path / "o.mp4").exists()


def test_a_missing_checkpoint_is_named(capsys, clip, tmp_path):
    err = refused(capsys, "dub", str(clip), "--from", "hi", "--to", "ur", "--lipsync", "wav2lip",
                  "--checkpoint", str(tmp_path / "wav2lip_gan.pth"), "-o", str(tmp_path / "o.mp4"))
    assert "wav2lip_gan.pth" in err and "does not exist" in err
