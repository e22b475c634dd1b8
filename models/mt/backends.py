"""One entry point for every MT backend: texts in, exactly one translation per text out."""

from __future__ import annotations

from lipsync_sts.errors import UserInputError
from models.mt import apertium
from models.mt.config import MtConfig


def translate(texts: list[str], source: str, target: str, config: MtConfig | None = None) -> list[str]:
    config = config or MtConfig()
    if config.backend == "apertium":
        return apertium.translate(texts, source, target, config)
    if not config.model:
        raise UserInputError("the transformers MT backend needs a model: pass --mt-model with a local model folder, "
                             "a hub id or a name from `lipsync-sts models`")
    from models.mt import seq2seq  # torch/transformers: only when used

    out = seq2seq.translate(texts, source, target, config.model, config.family, config.num_beams,
                            config.batch_size, config.max_input_tokens)
    assert len(out) == len(texts)
    return out
