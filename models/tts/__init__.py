"""Text-to-speech backends: espeak-ng (embedded, with phoneme timings), Festival NSK voices, gTTS
(online) and transformers VITS/MMS-TTS; :func:`synthesize` picks by ``TtsConfig.backend``."""

from models.tts.backends import parallel_calls, synthesize
from models.tts.espeak import Speech, TtsConfig, espeak_languages
from models.tts.espeak_phonemes import Phoneme

__all__ = ["Phoneme", "Speech", "TtsConfig", "espeak_languages", "parallel_calls", "synthesize"]
