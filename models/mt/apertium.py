"""Machine translation with Apertium, the rule-based engine whose Hindi <-> Urdu pair ships offline.

Apertium marks what it could not translate: ``*word`` (unknown to the analyser), ``@word`` (no
bilingual entry) and ``#word`` (no target form). Those words come back in the source script, so
they are transliterated into the target script here: a dubbing pipeline feeds this text to a TTS
voice that cannot read the other script.

Each text is translated by its own ``apertium`` process (~80-150 ms on a 2-core Xeon: a shell
script and a pipe of five programs, each loading its dictionaries): Apertium's transfer rules may
move words across a newline, so joining segments with a separator would not keep one output per
input reliably. The processes run side by side, as many as there are cores.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from lipsync_sts.errors import UserInputError
from lipsync_sts.languages import get_language
from models.mt.config import MtConfig
from models.mt.transliterate import devanagari_to_urdu, urdu_to_devanagari


# ISO code pair -> (Apertium mode, transliterator into the target script)
_PAIRS: dict[tuple[str, str], tuple[str, Callable[[str], str]]] = {
    ("hi", "ur"): ("hin-urd", devanagari_to_urdu),
    ("ur", "hi"): ("urd-hin", urdu_to_devanagari),
}

# Letters, digits and the combining vowel signs that Python's \w leaves out (Devanagari, Arabic).
_WORD = r"[\w\u0900-\u0903\u093A-\u094F\u0951-\u0957\u0962\u0963\u064B-\u065F\u0670\u06D6-\u06ED]"
# One mark glued to the front of a word: "*ٹیسٹ", "3،*000", "#*1" (a literal # then the mark).
_MARK = re.compile(rf"(?<![A-Za-z0-9])[*@#](?={_WORD})")
# Free variants from the generator, e.g. हूं/हूँ: keep the first.
_VARIANTS = re.compile(rf"(?<!{_WORD})({_WORD}+)(?:/{_WORD}+)+")


def _check_pair(source: str, target: str) -> tuple[str, Callable[[str], str]]:
    src, tgt = get_language(source), get_language(target)
    if src.code == tgt.code:
        raise UserInputError(f"source and target language are both {src.code!r}; choose a different target language")
    pair = _PAIRS.get((src.code, tgt.code))
    if pair is None:
        raise UserInputError(
            f"no offline translation from {src.name} ({src.code}) to {tgt.name} ({tgt.code}): only Hindi <-> Urdu "
            f"(hi <-> ur) ships with Apertium; pass a translation .srt for this language, or --mt transformers "
            f"with --mt-model naming a local IndicTrans2, NLLB-200, M2M100 or MarianMT model folder"
        )
    return pair


def _apertium_binary() -> str:
    binary = shutil.which("apertium")
    if binary is None:
        raise UserInputError(
            "the `apertium` program is not installed; install it with `apt-get install apertium apertium-urd-hin` "
            "or pass a translation .srt"
        )
    return binary


def run_apertium(text: str, mode: str, timeout_s: float = 60.0) -> str:
    """Raw Apertium output for one text, with its unknown-word marks kept."""
    # An argument list and stdin: the text never meets a shell. -n: do not add sentence periods.
    proc = subprocess.run([_apertium_binary(), "-n", mode], input=text, capture_output=True,
                          text=True, encoding="utf-8", timeout=timeout_s)
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no message"])[0]  # "Error: Mode x does not exist"
        if "does not exist" in detail:
            raise UserInputError(f"Apertium has no {mode} mode installed; run `apt-get install apertium-urd-hin`")
        raise RuntimeError(f"apertium {mode} failed (exit {proc.returncode}): {detail}")
    return proc.stdout.rstrip("\n")


def clean_output(raw: str, source_text: str, transliterate: Callable[[str], str]) -> str:
    """Drop Apertium's marks and variants; put the words it left untranslated into the target script."""
    text = raw if "/" in source_text else _VARIANTS.sub(r"\1", raw)
    text = _MARK.sub("", text)
    # Unmarked leftovers exist too (digits, letters Apertium does not analyse), so the whole text
    # goes through the transliterator; it only touches source-script characters.
    return transliterate(text)


def translate_one(text: str, source: str, target: str, config: MtConfig | None = None) -> str:
    config = config or MtConfig()
    mode, transliterate = _check_pair(source, target)
    # One line per call: a segment's internal newlines would only confuse sentence handling.
    flat = " ".join(text.split())
    if not flat:
        return ""
    return clean_output(run_apertium(flat, mode, config.timeout_s), flat, transliterate)


def translate(texts: list[str], source: str, target: str, config: MtConfig | None = None) -> list[str]:
    """Translate each text; the result has exactly one string per input, "" for an empty one."""
    config = config or MtConfig()
    _check_pair(source, target)  # fail on a bad pair even when every text is empty
    unique = list(dict.fromkeys(texts))  # segments repeat ("हाँ", "धन्यवाद"); translate each once
    # map yields in input order, so the first failing text is the one reported.
    with ThreadPoolExecutor(max_workers=max(1, min(len(os.sched_getaffinity(0)), len(unique)))) as pool:
        done = dict(zip(unique, pool.map(lambda text: translate_one(text, source, target, config), unique)))
    return [done[text] for text in texts]
