"""Machine translation of segment texts between Indian languages.

Offline backend: Apertium (Hindi <-> Urdu). Other pairs come from a user's translation .srt.
"""

from models.mt.apertium import MtConfig, translate

__all__ = ["MtConfig", "translate"]
