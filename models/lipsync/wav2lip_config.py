"""The Wav2Lip renderer's settings, apart from the renderer: the lipsync stage's configuration
holds them, and importing the renderer would load torch in every dub, Wav2Lip or not."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Wav2LipConfig(BaseModel):
    """Parameters of the wav2lip renderer (part of the lipsync stage's cache key, with the
    checkpoint's sha256)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_size: int = Field(16, ge=1, le=512, description="frames per generator call; 16 is the CPU sweet "
                            "spot measured in DESIGN.md §4, GPUs take more")
    pad: tuple[float, float, float, float] = Field(
        (0.0, 0.1, 0.0, 0.0), description="crop margins (top, bottom, left, right) as fractions of the mesh box "
        "height/width; the bottom margin keeps the chin inside as the public [0, 10, 0, 0] px pads did")
    feather: float = Field(0.06, gt=0.0, le=0.3, description="soft edge of the blend mask, in crop widths")
    mask_top: float = Field(0.5, ge=0.3, le=0.7, description="top of the replaced region, in crop heights "
                            "(the generator only redraws the lower half)")
    silence_level: float = Field(0.05, ge=0.0, le=1.0, description="dub envelope below this counts as silence")
    min_silence_s: float = Field(0.12, ge=0.0, description="shorter pauses keep the speech mel (no flapping)")
    device: Literal["auto", "cpu", "cuda"] = "auto"
