"""Text-to-speech backends. The embedded one is espeak-ng (see :mod:`models.tts.espeak`)."""

from models.tts.espeak import Speech, TtsConfig, espeak_languages, synthesize
from models.tts.espeak_phonemes import Phoneme

__all__ = ["Phoneme", "Speech", "TtsConfig", "espeak_languages", "synthesize"]
