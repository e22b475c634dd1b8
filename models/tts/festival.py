"""Festival with the C-DAC / IIT Madras NSK diphone voices (Debian festvox-hi-nsk, -mr-nsk, -te-nsk,
with festival-hi, -mr, -te: each language's phone set and lexicon, which the voices only recommend).

These voices write an empty or broken wav under Festival's default intonation method, so every
call sets ``(Parameter.set 'Int_Method 'DuffInt)`` after selecting the voice. The text goes through
a file and every expression is a separate argument: no character of it reaches a shell or Scheme.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from lipsync_sts.errors import UserInputError
from lipsync_sts.languages import LANGUAGES, get_language

VOICE_ROOTS = (Path("/usr/share/festival/voices"),)
# Language -> the voices Debian packages for it, best first.
VOICES: dict[str, tuple[str, ...]] = {"hi": ("hindi_NSK_diphone",), "mr": ("marathi_NSK_diphone",),
                                      "te": ("telugu_NSK_diphone",)}
_TIMEOUT_S = 120


def installed_voices() -> set[str]:
    return {d.name for root in VOICE_ROOTS if root.is_dir() for d in root.glob("*/*") if d.is_dir()}


def festival_languages() -> list[str]:
    if shutil.which("text2wave") is None:
        return []
    have = installed_voices()
    return sorted(code for code, voices in VOICES.items() if set(voices) & have and code in LANGUAGES)


def _voice(language: str, requested: str | None) -> str:
    lang = get_language(language)
    have = installed_voices()
    if requested:
        if requested not in have:
            raise UserInputError(f"Festival voice {requested!r} is not installed; installed: {', '.join(sorted(have)) or 'none'}")
        return requested
    for name in VOICES.get(lang.code, ()):
        if name in have:
            return name
    raise UserInputError(f"no Festival voice for {lang.name} ({lang.code}) is installed; Festival voices exist for "
                         f"hi, mr, te (`apt-get install festival festvox-hi-nsk festival-hi`, likewise mr and te), "
                         f"or use --tts espeak-ng")


def synthesize(text: str, language: str, rate_wpm: int, voice: str | None = None) -> tuple[np.ndarray, int]:
    program = shutil.which("text2wave")
    if program is None:
        raise UserInputError("Festival is not installed; `apt-get install festival festvox-hi-nsk festival-hi` or use "
                             "--tts espeak-ng")
    name = _voice(language, voice)
    with tempfile.TemporaryDirectory(prefix="festival-") as tmp:
        src, wav = Path(tmp) / "text.txt", Path(tmp) / "speech.wav"
        src.write_text(text, encoding="utf-8")
        args = [program, "-eval", f"(voice_{name})", "-eval", "(Parameter.set 'Int_Method 'DuffInt)",
                "-eval", f"(Parameter.set 'Duration_Stretch {160 / rate_wpm:.3f})", str(src), "-o", str(wav)]
        try:
            proc = subprocess.run(args, capture_output=True, timeout=_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"Festival took longer than {_TIMEOUT_S} s") from None
        try:
            audio, rate = sf.read(str(wav), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError):
            detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
            raise UserInputError(f"Festival voice {name} wrote no audio for {text[:40]!r} ({detail[0]}); "
                                 f"give the segment text in the voice's script, or use --tts espeak-ng") from None
    return audio.mean(axis=1), int(rate)
