"""`lipsync-sts languages` and `lipsync-sts models`, and the dub's speech-backend options."""

from __future__ import annotations

from lipsync_sts.cli import _parser, _speech_options, main
from lipsync_sts.languages import LANGUAGES


def test_languages_lists_every_language_with_its_backends(capsys):
    assert main(["languages"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n{code:<5} {lang.name}" in out for code, lang in LANGUAGES.items() if code != "as")
    hindi = next(line for line in out.splitlines() if line.startswith("hi "))
    assert "espeak-ng" in hindi or "-" in hindi


def test_models_lists_the_cache_and_what_can_be_fetched(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LIPSYNC_STS_CACHE", str(tmp_path))
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "nllb-200-distilled-600M" in out and "indictrans2" in out


def test_dub_speech_options_become_stage_configs(tmp_path):
    args = _parser().parse_args(["dub", "in.mp4", "--from", "hi", "--to", "ta", "--mt-model", str(tmp_path),
                                 "--asr", "transformers", "--asr-model", "openai/whisper-small", "--tts", "festival"])
    options = _speech_options(args)
    assert options["mt"].backend == "transformers" and options["mt"].model == str(tmp_path.resolve())
    assert options["asr"].model == "openai/whisper-small" and options["tts"].backend == "festival"
