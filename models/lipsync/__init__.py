"""Lip-sync renderers: frames + face track + dub → frames with the mouth re-synced."""

from .embedded import EmbeddedLipSync, EmbeddedLipSyncConfig, target_opening_from_envelope

__all__ = ["EmbeddedLipSync", "EmbeddedLipSyncConfig", "target_opening_from_envelope"]
