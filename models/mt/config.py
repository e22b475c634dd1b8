"""The translate stage's settings (part of its cache key)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class MtConfig(BaseModel):
    backend: Literal["apertium", "transformers"] = "apertium"
    timeout_s: float = 60.0  # Apertium, per text: a stuck pipeline must not hang a whole flow
    # transformers: a model folder, a short name from `lipsync-sts models`, or a hub id.
    model: str | None = None
    family: Literal["auto", "indictrans2", "nllb", "m2m100", "marian"] = "auto"
    num_beams: int = Field(4, ge=1, le=16)
    batch_size: int = Field(8, ge=1)
    max_input_tokens: int | None = Field(None, ge=8)  # None: the model's limit, at most 200
