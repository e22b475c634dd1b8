"""A checkpoint is a pickle, and unpickling can run any code. A file handed to the command line as
weights (downloaded, shared, attached to an issue) must be refused without its code running:
every command that takes weights loads them with ``torch.load(weights_only=True)``.

Each test builds a "checkpoint" whose unpickling would write a marker file, passes it to the
command line as a user would, and checks: exit status 2, one line naming the file and why it was
refused, no traceback, and no marker.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from lipsync_sts.demo import build_sample_video
from tests.test_input_matrix import refused


class _RunsCode:
    """Pickled as "call exec on this source": what a malicious checkpoint carries."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"import pathlib; pathlib.Path({self.marker!r}).write_text('code from the checkpoint ran')",))


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory):
    """A short talking head: the lip-sync stage (where weights are loaded) needs a face to work on."""
    return build_sample_video(tmp_path_factory.mktemp("clip") / "face.mp4", text="नमस्ते।")


@pytest.fixture
def evil(tmp_path):
    """(checkpoint, marker): a Wav2Lip-looking file whose unpickling writes the marker."""
    marker = tmp_path / "PWNED"
    path = tmp_path / "wav2lip_gan.pth"
    torch.save({"state_dict": {"audio_encoder.0.conv_block.0.weight": torch.zeros(1)}, "global_step": _RunsCode(marker)},
               path)
    return path, marker


def assert_refused_as_untrusted(message: str, checkpoint, marker) -> None:
    assert str(checkpoint) in message
    assert "weights_only=True" in message and "untrusted" in message
    assert not marker.exists(), "the checkpoint's code ran"


def test_dub_refuses_a_checkpoint_that_would_run_code(prefect_api, capsys, face_clip, evil, tmp_path):
    checkpoint, marker = evil
    transcript = tmp_path / "face.hi.srt"
    transcript.write_text("1\n00:00:00,500 --> 00:00:01,300\nनमस्ते।\n", encoding="utf-8")
    translation = tmp_path / "face.ur.srt"
    translation.write_text("1\n00:00:00,500 --> 00:00:01,300\nسلام\n", encoding="utf-8")
    message = refused(capsys, "dub", face_clip, "--from", "hi", "--to", "ur", "--transcript", transcript,
                      "--translation", f"ur={translation}", "--lipsync", "wav2lip", "--checkpoint", checkpoint,
                      "-o", tmp_path / "out.mp4", "--store", tmp_path / "store")
    assert_refused_as_untrusted(message, checkpoint, marker)
    assert not (tmp_path / "out.mp4").exists()


def test_lipsync_refuses_a_checkpoint_that_would_run_code(prefect_api, capsys, face_clip, evil, tmp_path):
    checkpoint, marker = evil
    speech = tmp_path / "speech.wav"
    t = np.arange(16000) / 16000
    sf.write(speech, (0.3 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 4 * t) > 0)).astype(np.float32), 16000)
    message = refused(capsys, "lipsync", face_clip, speech, "--lipsync", "wav2lip", "--checkpoint", checkpoint,
                      "-o", tmp_path / "out.mp4", "--store", tmp_path / "store")
    assert_refused_as_untrusted(message, checkpoint, marker)
    assert not (tmp_path / "out.mp4").exists()


def test_evaluate_refuses_syncnet_weights_that_would_run_code(prefect_api, capsys, face_clip, tmp_path):
    marker = tmp_path / "PWNED"
    weights = tmp_path / "syncnet_v2.model"
    torch.save({"netcnnaud.0.weight": torch.zeros(1), "payload": _RunsCode(marker)}, weights)
    message = refused(capsys, "evaluate", face_clip, "--syncnet", weights, "--store", tmp_path / "store")
    assert "cannot be loaded safely" in message
    assert_refused_as_untrusted(message, weights, marker)
    assert "\x1b[" not in message, "torch's terminal colour codes are not passed on"
    assert not (tmp_path / "store" / "objects").exists() or not list((tmp_path / "store" / "objects").rglob("*.model")), \
        "refused before it was copied into the store"
