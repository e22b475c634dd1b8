"""The languages the pipeline knows: the 22 scheduled languages of India plus English.

One table, keyed by ISO 639 code, with each backend's own code for the language (Whisper,
Apertium, espeak-ng) and its script, so that no stage invents its own mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

from lipsync_sts.errors import UserInputError


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1 where one exists, else 639-2/3 (brx, doi, kok, mai, mni, sat)
    name: str
    script: str  # ISO 15924 of the usual script
    whisper: str | None = None  # Whisper's language token, if Whisper was trained on it
    apertium: str | None = None  # Apertium's three-letter code, if a pair ships
    espeak: str | None = None  # espeak-ng voice name, if one exists


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in [
        Language("as", "Assamese", "Beng", whisper="as", espeak="as"),
        Language("bn", "Bengali", "Beng", whisper="bn", espeak="bn"),
        Language("brx", "Bodo", "Deva"),
        Language("doi", "Dogri", "Deva"),
        Language("gu", "Gujarati", "Gujr", whisper="gu", espeak="gu"),
        Language("hi", "Hindi", "Deva", whisper="hi", apertium="hin", espeak="hi"),
        Language("kn", "Kannada", "Knda", whisper="kn", espeak="kn"),
        Language("ks", "Kashmiri", "Arab"),
        Language("kok", "Konkani", "Deva", espeak="kok"),
        Language("mai", "Maithili", "Deva"),
        Language("ml", "Malayalam", "Mlym", whisper="ml", espeak="ml"),
        Language("mni", "Manipuri", "Beng"),
        Language("mr", "Marathi", "Deva", whisper="mr", espeak="mr"),
        Language("ne", "Nepali", "Deva", whisper="ne", espeak="ne"),
        Language("or", "Odia", "Orya", espeak="or"),
        Language("pa", "Punjabi", "Guru", whisper="pa", espeak="pa"),
        Language("sa", "Sanskrit", "Deva", whisper="sa"),
        Language("sat", "Santali", "Olck"),
        Language("sd", "Sindhi", "Arab", whisper="sd", espeak="sd"),
        Language("ta", "Tamil", "Taml", whisper="ta", espeak="ta"),
        Language("te", "Telugu", "Telu", whisper="te", espeak="te"),
        Language("ur", "Urdu", "Arab", whisper="ur", apertium="urd", espeak="ur"),
        Language("en", "English", "Latn", whisper="en", espeak="en-us"),
    ]
}


def get_language(code: str) -> Language:
    """The language for a code, or a clear error that lists the valid ones."""
    lang = LANGUAGES.get(code.strip().lower()) if isinstance(code, str) else None
    if lang is None:
        valid = ", ".join(f"{c} ({l.name})" for c, l in sorted(LANGUAGES.items()))
        raise UserInputError(f"unknown language code {code!r}; use one of: {valid}")
    return lang
