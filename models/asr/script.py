"""Write a transcript in its language's own script.

whisper-base was trained on far more Urdu than Hindi text, so for spoken Hindi it mostly writes
Urdu (Perso-Arabic) script, sometimes romanised Hindi. The first is fixed after decoding: Apertium
urd-hin converts the words it knows and a character table transliterates the rest. The second is
prevented during decoding by suppressing the tokens of other scripts (``foreign_script_tokens``).
"""

from __future__ import annotations

import functools
import logging
import unicodedata

from lipsync_sts.errors import UserInputError
from lipsync_sts.languages import get_language
from models.mt.apertium import translate_one
from models.mt.transliterate import urdu_to_devanagari

log = logging.getLogger(__name__)

# Scripts whisper may decode into, per language; languages not listed are left unrestricted.
# Hindi is decoded in Urdu script only: on the shared Hindi clips whisper-base wrote one clip in
# Latin letters and stray CJK/Cyrillic when unrestricted (with condition_on_previous_text on),
# gibberish when held to Devanagari (also when Devanagari was allowed beside Arabic), and Urdu
# script that converts well when held to Arabic. With the default settings both give the same
# mean CER there (0.373 vs 0.367, 5 clips), so this is a guard, not a gain. Urdu is only
# ever written in Arabic script, so holding it there can only remove wrong output (not measured:
# no Urdu clips here).
DECODE_SCRIPTS: dict[str, tuple[str, ...]] = {
    "hi": ("ARABIC",),
    "ur": ("ARABIC",),
}


def _script(ch: str) -> str:
    # Unicode names start with the script: "ARABIC LETTER ...", "DEVANAGARI VOWEL SIGN ...".
    return unicodedata.name(ch, "").split(" ", 1)[0]


def script_share(text: str, script: str) -> float:
    """Fraction of the letters in ``text`` that belong to ``script`` (0 when there are none)."""
    letters = [c for c in text if unicodedata.category(c)[0] in "LM"]
    return sum(_script(c) == script for c in letters) / len(letters) if letters else 0.0


def normalize_script(text: str, language: str) -> str:
    """Hindi written in Urdu script -> Devanagari; any other text comes back unchanged."""
    if get_language(language).code != "hi" or script_share(text, "ARABIC") <= 0.5:
        return text
    try:
        return translate_one(text, "ur", "hi")
    except UserInputError as err:  # Apertium not installed: the table alone still gives Devanagari
        log.warning("%s; transliterating letter by letter instead", err)
        return urdu_to_devanagari(text)


def _written_scripts(piece: bytes) -> set[str]:
    """Scripts of the letters and marks a byte-level BPE token writes, or begins to write.

    A token may start inside a character (those bytes are ignored: they say nothing about the
    script) or stop inside one. A cut-off 2-byte character, or a 3/4-byte one with two of its
    bytes present, already fixes a 64-code-point block, so it is completed with 0x80 bytes and
    that block's script counts; a lone lead byte of a longer character fixes nothing.
    """
    text = piece.decode("utf-8", errors="ignore")  # the complete characters
    scripts = {_script(c) for c in text if unicodedata.category(c)[0] in "LM"}
    lead = max((i for i, b in enumerate(piece) if b >= 0xC0), default=None)
    if lead is not None:
        tail = piece[lead:]
        need = 2 if tail[0] < 0xE0 else 3 if tail[0] < 0xF0 else 4
        if len(tail) < need and all(0x80 <= b < 0xC0 for b in tail[1:]) and (need == 2 or len(tail) >= 2):
            first = (tail + b"\x80" * (need - len(tail))).decode("utf-8", errors="ignore")
            scripts |= {_script(c) for c in first if unicodedata.name(c, "")}
    return scripts


@functools.lru_cache(maxsize=8)
def _foreign_tokens(pieces: tuple[bytes, ...], scripts: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(i for i, piece in enumerate(pieces) if _written_scripts(piece) - set(scripts))


def foreign_script_tokens(token_bytes: list[bytes], language: str) -> list[int]:
    """Ids of the text tokens that write a letter of a script ``language`` is not decoded in.

    ``token_bytes[i]`` is the UTF-8 byte string of token i. Empty when the language has no entry
    in DECODE_SCRIPTS: nothing is suppressed.
    """
    scripts = DECODE_SCRIPTS.get(get_language(language).code)
    if scripts is None:
        return []
    return list(_foreign_tokens(tuple(token_bytes), scripts))
