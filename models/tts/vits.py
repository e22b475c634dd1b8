"""VITS / MMS-TTS with transformers (``VitsModel``) from a local folder or hub id.

MMS voices exist per language (facebook/mms-tts-hin, -tam, -tel…); the folder decides the language,
so the caller's language is only checked against what the tokenizer can write. Some MMS voices
expect romanised input (``is_uroman``); those need the ``uroman`` package.
"""

from __future__ import annotations

import functools

import numpy as np

from lipsync_sts.errors import UserInputError
from lipsync_sts.model_registry import load_pretrained

_OPTION = "--tts-model"


@functools.lru_cache(maxsize=2)
def load(model: str):
    from transformers import AutoTokenizer, VitsModel

    net = load_pretrained(VitsModel, model, "tts", _OPTION)
    tokenizer = load_pretrained(AutoTokenizer, model, "tts", _OPTION)
    net.eval()
    return net, tokenizer


def synthesize(text: str, model: str, rate_wpm: int, seed: int) -> tuple[np.ndarray, int]:
    import torch

    net, tokenizer = load(model)
    if getattr(tokenizer, "is_uroman", False):
        try:
            import uroman  # noqa: F401
        except ImportError:
            raise UserInputError(f"VITS model {model!r} reads romanised text and needs the uroman package; "
                                 "install it or use a voice whose tokenizer reads the native script") from None
    inputs = tokenizer(text, return_tensors="pt")
    if inputs["input_ids"].shape[1] == 0 or (inputs["input_ids"] == tokenizer.pad_token_id).all():
        raise UserInputError(f"VITS model {model!r} has no characters for the text {text[:40]!r}; "
                             "choose a voice for the target language")
    net.speaking_rate = rate_wpm / 160  # 160 wpm is espeak-ng's and the pipeline's normal rate
    torch.manual_seed(seed)
    with torch.inference_mode():
        waveform = net(**inputs).waveform[0]
    return waveform.float().numpy(), int(net.config.sampling_rate)
