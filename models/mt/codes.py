"""Each transformers MT family's name for a language.

The families disagree: NLLB-200 and IndicTrans2 use FLORES-200 codes (``hin_Deva``), M2M100 the
two-letter ones (``__hi__`` tokens), multilingual MarianMT models a ``>>hin<<`` target tag in
ISO 639-3 (sometimes with the script). The tables hold only what each family was trained on, so
that ``lipsync-sts languages`` can say which pairs a model can do before loading it.
"""

from __future__ import annotations

from lipsync_sts.errors import UserInputError
from lipsync_sts.languages import get_language

# ISO 639-3 (as FLORES uses it: npi for Nepali, ory for Odia, gom for Konkani) and FLORES script.
FLORES: dict[str, str] = {
    "as": "asm_Beng", "bn": "ben_Beng", "brx": "brx_Deva", "doi": "doi_Deva", "gu": "guj_Gujr",
    "hi": "hin_Deva", "kn": "kan_Knda", "ks": "kas_Arab", "kok": "gom_Deva", "mai": "mai_Deva",
    "ml": "mal_Mlym", "mni": "mni_Beng", "mr": "mar_Deva", "ne": "npi_Deva", "or": "ory_Orya",
    "pa": "pan_Guru", "sa": "san_Deva", "sat": "sat_Olck", "sd": "snd_Arab", "ta": "tam_Taml",
    "te": "tel_Telu", "ur": "urd_Arab", "en": "eng_Latn",
}

# IndicTrans2 covers all 22 scheduled languages and English.
INDICTRANS2 = dict(FLORES)
# NLLB-200 lacks Bodo, Dogri and Konkani, and labels Santali in Bengali script (its training data).
NLLB = {code: tag for code, tag in FLORES.items() if code not in ("brx", "doi", "kok")} | {"sat": "sat_Beng"}
# M2M100's Indian languages (transformers' FAIRSEQ_LANGUAGE_CODES["m2m100"]).
M2M100 = {code: code for code in ("bn", "gu", "hi", "kn", "ml", "mr", "ne", "or", "pa", "sd", "ta", "ur", "en")}

FAMILY_CODES: dict[str, dict[str, str]] = {"indictrans2": INDICTRANS2, "nllb": NLLB, "m2m100": M2M100}

# Older ISO 639-3 / macro-language codes OPUS-MT tags also use.
_MARIAN_ALIASES = {"npi": ("nep",), "ory": ("ori",), "gom": ("kok",), "pan": (), "snd": (), "kas": ()}


def family_code(family: str, language: str) -> str:
    """The code ``family`` uses for ``language``; a clear error if it was not trained on it."""
    lang = get_language(language)
    table = FAMILY_CODES[family]
    if lang.code not in table:
        names = ", ".join(sorted(table))
        raise UserInputError(f"{family} models do not cover {lang.name} ({lang.code}); they cover {names} — "
                             f"choose another --mt-model or pass a translation .srt")
    return table[lang.code]


def marian_target_tags(language: str) -> list[str]:
    """Candidate ``>>tag<<`` tokens for ``language``, most specific first."""
    flores = FLORES[get_language(language).code]
    iso3, script = flores.split("_")
    codes = (iso3, *_MARIAN_ALIASES.get(iso3, ()))
    return [f">>{c}_{script}<<" for c in codes] + [f">>{c}<<" for c in codes]


def covers(family: str, language: str) -> bool:
    """Whether ``family`` (a multilingual one) was trained on ``language``."""
    return get_language(language).code in FAMILY_CODES.get(family, {})
