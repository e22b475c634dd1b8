"""Character-level transliteration between Urdu (Perso-Arabic) and Hindi (Devanagari) script.

Used for the words Apertium does not know (names, loan words, ASR misspellings), so that a
translation or an ASR transcript ends up entirely in the target script.

This is deliberately a table plus a handful of context rules, not a model. Urdu leaves most
short vowels unwritten and uses ی / و for several long vowels, so Urdu -> Devanagari is a guess
(دیش -> देश is right, but نیچے -> नेचे, not नीचे); Devanagari -> Urdu is close to exact because it
only has to drop information. Characters outside the source script pass through unchanged.
"""

from __future__ import annotations

import re
import unicodedata

# --- Devanagari -> Urdu -------------------------------------------------------------------------

_DEVA_CONSONANTS = {
    "क": "ک", "ख": "کھ", "ग": "گ", "घ": "گھ", "ङ": "ن",
    "च": "چ", "छ": "چھ", "ज": "ج", "झ": "جھ", "ञ": "ن",
    "ट": "ٹ", "ठ": "ٹھ", "ड": "ڈ", "ढ": "ڈھ", "ण": "ن",
    "त": "ت", "थ": "تھ", "द": "د", "ध": "دھ", "न": "ن",
    "प": "پ", "फ": "پھ", "ब": "ب", "भ": "بھ", "म": "م",
    "य": "ی", "र": "ر", "ल": "ل", "व": "و",
    "श": "ش", "ष": "ش", "स": "س", "ह": "ہ", "ळ": "ل",
    # nukta forms (matched before the bare consonant: the input is NFD, so consonant + U+093C)
    "क़": "ق", "ख़": "خ", "ग़": "غ", "ज़": "ز", "फ़": "ف", "ड़": "ڑ", "ढ़": "ڑھ", "य़": "ی",
}
# Independent vowels: (at the start of a word, after another vowel).
_DEVA_VOWELS = {
    "अ": ("ا", "ا"), "आ": ("آ", "آ"), "इ": ("ا", "ئ"), "ई": ("ای", "ئی"),
    "उ": ("ا", "ؤ"), "ऊ": ("او", "ؤ"), "ए": ("ای", "ئی"), "ऐ": ("ای", "ئی"),
    "ओ": ("او", "و"), "औ": ("او", "ؤ"), "ऋ": ("ر", "ر"), "ऑ": ("آ", "آ"),
}
# Vowel signs after a consonant: (inside a word, at its end). Short i / u are not written in Urdu.
_DEVA_SIGNS = {
    "ा": ("ا", "ا"), "ि": ("", ""), "ी": ("ی", "ی"), "ु": ("", ""), "ू": ("و", "و"),
    "े": ("ی", "ے"), "ै": ("ی", "ے"), "ो": ("و", "و"), "ौ": ("و", "و"), "ृ": ("ر", "ر"),
    "ॉ": ("ا", "ا"), "ॅ": ("ی", "ے"), "्": ("", ""), "ं": ("ن", "ں"), "ँ": ("ن", "ں"), "ः": ("ہ", "ہ"),
}
_DEVA_OTHER = {
    # ASCII punctuation stays: Apertium converts it where needed, and "3,000" must survive.
    "।": "۔", "॥": "۔", "ॐ": "اوم", "़": "",
    **{chr(0x0966 + d): chr(0x06F0 + d) for d in range(10)},  # ०-९ -> ۰-۹
}
_DEVA_KEYS = sorted([*_DEVA_CONSONANTS, *_DEVA_VOWELS, *_DEVA_SIGNS, *_DEVA_OTHER], key=len, reverse=True)
_DEVA_TOKEN = re.compile("|".join(map(re.escape, _DEVA_KEYS)) + "|.", re.S)
_DEVA_LETTER = re.compile("[\u0900-\u0963\u0970-\u097F]")  # not the dandas or digits


def _deva_word_end(text: str, end: int) -> bool:
    return end >= len(text) or not _DEVA_LETTER.match(text[end])


def devanagari_to_urdu(text: str) -> str:
    """Hindi script -> Urdu script, one Devanagari unit at a time."""
    text = unicodedata.normalize("NFD", text)
    out: list[str] = []
    after_letter = False  # inside a word: decides initial vs medial vowel forms
    for match in _DEVA_TOKEN.finditer(text):
        unit, final = match.group(), _deva_word_end(text, match.end())
        if unit in _DEVA_CONSONANTS:
            out.append(_DEVA_CONSONANTS[unit])
        elif unit in _DEVA_VOWELS:
            out.append(_DEVA_VOWELS[unit][after_letter])
            if final and unit in "एऐ":
                out[-1] = out[-1][:-1] + "ے"
        elif unit in _DEVA_SIGNS:
            out.append(_DEVA_SIGNS[unit][final])
        else:
            out.append(_DEVA_OTHER.get(unit, unit))
        after_letter = bool(_DEVA_LETTER.match(unit)) and unit not in _DEVA_OTHER
    return unicodedata.normalize("NFC", "".join(out))


# --- Urdu -> Devanagari -------------------------------------------------------------------------

_URDU_CONSONANTS = {
    "ب": "ब", "پ": "प", "ت": "त", "ٹ": "ट", "ث": "स", "ج": "ज", "چ": "च", "ح": "ह", "خ": "ख़",
    "د": "द", "ڈ": "ड", "ذ": "ज़", "ر": "र", "ڑ": "ड़", "ز": "ज़", "ژ": "झ़", "س": "स", "ش": "श",
    "ص": "स", "ض": "ज़", "ط": "त", "ظ": "ज़", "غ": "ग़", "ف": "फ़", "ق": "क़", "ک": "क", "ك": "क",
    "گ": "ग", "ل": "ल", "م": "म", "ن": "न", "ہ": "ह", "ه": "ह", "ۃ": "त", "ة": "त",
}
# Do-chashmi he after a consonant makes it aspirated.
_ASPIRATED = {"क": "ख", "ग": "घ", "च": "छ", "ज": "झ", "ट": "ठ", "ड": "ढ", "त": "थ", "द": "ध",
              "प": "फ", "ब": "भ", "ड़": "ढ़", "र": "र्ह", "ल": "ल्ह", "म": "म्ह", "न": "न्ह"}
_URDU_OTHER = {
    "۔": "।", "،": ",", "؟": "?", "؛": ";", "٪": "%",
    **{chr(0x06F0 + d): chr(0x0966 + d) for d in range(10)},  # ۰-۹ -> ०-९
    **{chr(0x0660 + d): chr(0x0966 + d) for d in range(10)},  # ٠-٩ -> ०-९
}
_FATHA, _KASRA, _DAMMA, _SHADDA, _SUKUN = "\u064e", "\u0650", "\u064f", "\u0651", "\u0652"
_CARRIERS = "اآأعئءؤ"  # letters that only carry a vowel
_URDU_LETTER = re.compile("[\u0600-\u06FF]")
# Independent vowel, matra: what a long vowel letter means after a consonant vs. in the open.
_LONG = {"ا": ("आ", "ा"), "آ": ("आ", "ा"), "و": ("ओ", "ो"), "ی": ("ई", "ी"), "ي": ("ई", "ी"),
         "ى": ("ई", "ी"), "ے": ("ए", "े"), "ێ": ("ए", "े")}


def _urdu_word_to_devanagari(word: str) -> str:
    out: list[str] = []
    state = "start"  # "start" | "cons" (last output a consonant) | "vowel" (last output a vowel)
    fatha = False  # a zabar before ی / و / ے makes ai / au
    i = 0
    while i < len(word):
        ch, nxt = word[i], word[i + 1] if i + 1 < len(word) else ""
        is_last = i + 1 == len(word) or (nxt == "ں" and i + 2 == len(word))
        if ch in "ہه" and i + 1 == len(word) and state == "cons" and i >= 2:
            out.append("ा")  # final choti he after a consonant is a vowel: پلازمہ, زیادہ
            state = "vowel"
        elif ch in _URDU_CONSONANTS:
            out.append(_URDU_CONSONANTS[ch])
            state, fatha = "cons", False
        elif ch == "ھ":
            if state == "cons" and out[-1] in _ASPIRATED:
                out[-1] = _ASPIRATED[out[-1]]
            else:
                out.append("ह")
                state = "cons"
        elif ch in (_FATHA, _KASRA, _DAMMA):
            if ch == _FATHA:
                fatha = True
            elif state == "cons":
                out.append("ि" if ch == _KASRA else "ु")
                state = "vowel"
            else:
                out.append("इ" if ch == _KASRA else "उ")
                state = "vowel"
        elif ch == _SHADDA and state == "cons":
            out.extend(["्", out[-1]])
        elif ch == _SUKUN and state == "cons":
            out.append("्")
        elif ch == "\u0670":  # superscript alef
            out.append("ा" if state == "cons" else "आ")
            state = "vowel"
        elif ch == "\u064b":  # tanwin -an, as in فوراً
            out.append("न")
            state = "cons"
        elif ch == "ں":
            out.append("ं")
        elif ch in "وی" and nxt and nxt in "اآوی" + "ے" and state == "cons" and ch != nxt:
            # before another vowel letter و / ی are the consonants v / y: سوال, پیار
            out.append("व" if ch == "و" else "य")
            state = "cons"
        elif ch in "وی" and state in ("start", "vowel"):
            if state == "vowel" and ch == "ی" and is_last:
                out.append("ई")  # آئی, بھائی
                state = "vowel"
            else:
                out.append("व" if ch == "و" else "य")
                state = "cons"
        elif ch in _LONG and not (ch in "اآ" and state != "cons"):
            independent, sign = _LONG[ch]
            if ch == "ی" and not is_last and not fatha and state == "cons":
                sign = "े"  # medial ی is ē as often as ī: دیش, بیچ
            if fatha and state == "cons":
                sign = {"ی": "ै", "ے": "ै", "و": "ौ"}.get(ch, sign)
            if state == "cons":
                out.append(sign)
                state = "vowel"
            else:
                out.append(independent)
                state = "vowel"
            fatha = False
        elif ch in _CARRIERS:
            # Alef, ain and hamza carry the vowel that follows (or a short a / i).
            follow = nxt
            if ch == "آ":
                out.append("आ" if state != "cons" else "ा")
            elif follow in ("ا", "آ"):
                out.append("आ")
                i += 1
            elif follow in ("ی", "ي") and i + 2 == len(word) and ch in "ئء":
                out.append("ई")
                i += 1
            elif follow in ("ی", "ي", "ے"):
                out.append("ए")
                i += 1
            elif follow == "و" and not (i + 2 < len(word) and word[i + 2] in "ا"):
                out.append("ओ")
                i += 1
            elif follow == _KASRA:
                out.append("इ")
                i += 1
            elif follow == _DAMMA:
                out.append("उ")
                i += 1
            elif ch in "اأع":
                out.append("अ" if state != "cons" else ("ा" if ch != "ع" else ""))
            elif ch == "ؤ":
                out.append("ओ")
            elif ch in "ئء":
                out.append("इ" if state != "cons" else "")
            state = "vowel"
            fatha = False
        else:
            out.append(_URDU_OTHER.get(ch, ch if not _URDU_LETTER.match(ch) else ""))
            state = "start" if not _URDU_LETTER.match(ch) else state
        i += 1
    return "".join(out)


_URDU_RUN = re.compile("[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]+")


def urdu_to_devanagari(text: str) -> str:
    """Urdu script -> Hindi script, word by word; see the module note on what it gets wrong."""
    text = unicodedata.normalize("NFKC", text)  # presentation forms -> base letters
    return unicodedata.normalize("NFC", _URDU_RUN.sub(lambda m: _urdu_word_to_devanagari(m.group()), text))
