"""Machine translation of segment texts between Indian languages.

Backends: Apertium (Hindi <-> Urdu, offline, embedded) and transformers seq2seq models
(IndicTrans2, NLLB-200, M2M100, MarianMT) from a local folder or hub id. Any other pair can come
from a user's translation .srt.
"""

from models.mt.backends import translate
from models.mt.config import MtConfig

__all__ = ["MtConfig", "translate"]
