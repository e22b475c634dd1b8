"""Lip-sync renderers: frames + face track + dub → frames with the mouth re-synced."""

from .embedded import EmbeddedLipSync, EmbeddedLipSyncConfig, embedded_renderer, target_opening_from_envelope
from .mouth_library import MouthLibrary, MouthLibraryConfig

__all__ = ["EmbeddedLipSync", "EmbeddedLipSyncConfig", "MouthLibrary", "MouthLibraryConfig", "embedded_renderer",
           "target_opening_from_envelope"]
