"""Speech recognition with a transformers model: Whisper (seq2seq) or a CTC model (wav2vec2,
IndicWav2Vec, MMS), from a local folder or a hub id.

Long audio is cut into windows in the pauses (models.asr.chunks). Whisper writes segment
timestamps itself (``return_timestamps``); a CTC model gives each character a frame, so words get
times and a segment ends at a pause. Times are seconds in the whole audio.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from lipsync_sts.errors import UserInputError
from lipsync_sts.model_registry import detect_family, load_pretrained
from lipsync_sts.segments import Segment

_OPTION = "--asr-model"
SAMPLE_RATE = 16_000


@dataclass
class HfAsrModel:
    model: Any
    processor: Any
    family: str  # "whisper" | "ctc"
    name: str


@functools.lru_cache(maxsize=2)
def load(model: str) -> HfAsrModel:
    from transformers import AutoConfig, AutoModelForCTC, AutoProcessor, WhisperForConditionalGeneration

    config = load_pretrained(AutoConfig, model, "asr", _OPTION)
    family = detect_family(config.model_type, (getattr(config, "architectures", None) or [""])[0], "", "")
    if family == "whisper":
        net = load_pretrained(WhisperForConditionalGeneration, model, "asr", _OPTION)
    elif family == "ctc" or config.model_type in ("wav2vec2", "wav2vec2-conformer", "hubert", "wavlm", "data2vec-audio"):
        family, net = "ctc", load_pretrained(AutoModelForCTC, model, "asr", _OPTION)
    else:
        raise UserInputError(f"ASR model {model!r} is neither a Whisper nor a CTC model (model_type "
                             f"{config.model_type!r}); pass one of those to {_OPTION}")
    processor = load_pretrained(AutoProcessor, model, "asr", _OPTION)
    net.eval()
    return HfAsrModel(net, processor, family, model)


def transcribe_windows(audio: np.ndarray, windows: list[tuple[float, float]], m: HfAsrModel,
                       whisper_language: str | None, beam_size: int = 1, pause_s: float = 0.5) -> list[Segment]:
    """Segments of every window, in order, with times in the whole ``audio``."""
    segments: list[Segment] = []
    for start, end in windows:
        piece = audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
        if piece.size < SAMPLE_RATE // 10:
            continue
        found = (_whisper(piece, m, whisper_language, beam_size) if m.family == "whisper"
                 else _ctc(piece, m, pause_s))
        for a, b, text in found:
            a, b = start + max(0.0, a), start + min(end - start, b)
            if text.strip() and b > a:
                segments.append(Segment(start=a, end=b, text=" ".join(text.split())))
    return segments


def _whisper(piece: np.ndarray, m: HfAsrModel, language: str | None, beam_size: int) -> list[tuple[float, float, str]]:
    import torch

    features = m.processor.feature_extractor(piece, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features
    kwargs: dict[str, Any] = {"task": "transcribe", "return_timestamps": True, "num_beams": beam_size}
    if language is not None:
        kwargs["language"] = language  # always, where known: auto-detection misfires on Indian languages
    try:
        with torch.inference_mode():
            ids = m.model.generate(features.to(m.model.dtype), **kwargs)
    except ValueError as err:  # the model's generation config does not know this language
        raise UserInputError(f"Whisper model {m.name!r} cannot transcribe {language!r} ({err}); "
                             f"choose a multilingual Whisper model for {_OPTION}") from None
    ids = ids.sequences if hasattr(ids, "sequences") else ids
    decoded = m.processor.tokenizer.decode(ids[0], output_offsets=True, skip_special_tokens=False)
    duration = piece.size / SAMPLE_RATE
    offsets = decoded.get("offsets") or [] if isinstance(decoded, dict) else []
    tokenizer = m.processor.tokenizer
    out = []
    for o in offsets:
        a, b = o["timestamp"]
        text = tokenizer.decode(tokenizer(o["text"], add_special_tokens=False).input_ids, skip_special_tokens=True) \
            if "<|" in o["text"] else o["text"]
        out.append((float(a), float(b if b is not None else duration), text))
    if not out:  # no timestamp pairs came out: the window is one segment
        text = tokenizer.decode(ids[0], skip_special_tokens=True)
        out = [(0.0, duration, text)]
    return out


def _ctc(piece: np.ndarray, m: HfAsrModel, pause_s: float) -> list[tuple[float, float, str]]:
    import torch

    inputs = m.processor(piece, sampling_rate=SAMPLE_RATE, return_tensors="pt")
    with torch.inference_mode():
        logits = m.model(inputs.input_values.to(m.model.dtype)).logits[0]
    ids = logits.argmax(dim=-1).tolist()
    decoded = m.processor.tokenizer.decode(ids, output_word_offsets=True)
    frame_s = m.model.config.inputs_to_logits_ratio / SAMPLE_RATE
    words = [(w["start_offset"] * frame_s, w["end_offset"] * frame_s, w["word"]) for w in decoded.word_offsets]
    return group_words(words, pause_s)


def group_words(words: list[tuple[float, float, str]], pause_s: float, max_s: float = 10.0) -> list[tuple[float, float, str]]:
    """Timed words -> segments that end at a pause of ``pause_s`` or after ``max_s`` of speech."""
    segments: list[list] = []
    for a, b, word in words:
        if segments and a - segments[-1][1] < pause_s and b - segments[-1][0] <= max_s:
            segments[-1][1] = b
            segments[-1][2] += " " + word
        else:
            segments.append([a, b, word])
    return [(a, b, t) for a, b, t in segments]
