"""The command line: bad input gets one clear line, a non-zero exit, and no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lipsync_sts.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.fixture
def video(tmp_path):
    from tests.test_media import make_clip

    return make_clip(tmp_path / "clip.mp4", n_frames=10, fps="25/1", audio_seconds=0.4)


def test_unknown_language_code_lists_the_valid_ones(capsys, video, tmp_path):
    code, err = run_cli(capsys, "dub", str(video), "--from", "hi", "--to", "xx", "-o", str(tmp_path / "o.mp4"))
    assert code == 2
    assert "unknown language code 'xx'" in err and "ur (Urdu)" in err and "ta (Tamil)" in err
    assert "Traceback" not in err


def test_same_source_and_target_language_is_refused(capsys, video, tmp_path):
    code, err = run_cli(capsys, "dub", str(video), "--from", "hi", "--to", "hi", "-o", str(tmp_path / "o.mp4"))
    assert code == 2 and "is the source language" in err


def test_missing_input_names_the_path(capsys, tmp_path):
    code, err = run_cli(capsys, "dub", str(tmp_path / "missing.mp4"), "--from", "hi", "--to", "ur")
    assert code == 2 and "missing.mp4" in err and "does not exist" in err


def test_corrupt_input_is_refused_before_any_work(capsys, tmp_path):
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500)
    store = tmp_path / "store"
    code, err = run_cli(capsys, "dub", str(bad), "--from", "hi", "--to", "ur", "--store", str(store),
                        "-o", str(tmp_path / "o.mp4"))
    assert code == 2 and "corrupt.mp4" in err
    assert not (tmp_path / "o.mp4").exists()


def test_malformed_translation_option_is_explained(capsys, video, tmp_path):
    code, err = run_cli(capsys, "dub", str(video), "--from", "hi", "--to", "ur", "--translation", "nofile",
                        "-o", str(tmp_path / "o.mp4"))
    assert code == 2 and "LANG=FILE.srt" in err


def test_a_preview_without_the_evaluation_it_draws_is_explained(capsys, video, tmp_path):
    code, err = run_cli(capsys, "dub", str(video), "--from", "hi", "--to", "ur", "--no-evaluate",
                        "--preview", str(tmp_path / "strip.png"), "-o", str(tmp_path / "o.mp4"))
    assert code == 2 and "--no-evaluate" in err and not (tmp_path / "o.mp4").exists()


def test_the_installed_command_reports_errors_with_exit_status_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lipsync_sts.cli", "dub", str(tmp_path / "none.mp4"),
                           "--from", "hi", "--to", "ur"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "none.mp4" in proc.stderr
