"""Speech recognition: audio -> timed segments in the language's own script.

Default backend: faster-whisper running the embedded whisper-base (see embedded_whisper).
"""

from models.asr.transcribe import AsrConfig, transcribe, transcribe_with_regions
from models.asr.vad import VadConfig, speech_regions

__all__ = ["AsrConfig", "VadConfig", "speech_regions", "transcribe", "transcribe_with_regions"]
