"""Machine translation with a transformers seq2seq model: IndicTrans2, NLLB-200, M2M100, MarianMT.

The families differ only in how they are told the languages:

- NLLB-200: the tokenizer's ``src_lang`` prepends the source code; the target code is forced as
  the first generated token (``forced_bos_token_id``).
- M2M100: the same, with ``__hi__``-style tokens (the tokenizer's ``get_lang_id``).
- IndicTrans2: plain ``"src_tag tgt_tag text"`` input (what IndicTransToolkit's IndicProcessor
  writes), nothing forced; model and tokenizer are the repository's own code (trust_remote_code).
- MarianMT: one pair per model; a multilingual target model reads a ``>>xxx<<`` tag at the start
  of the input. The pair is checked against the model name where it says one (opus-mt-hi-en).

Each text is chunked at sentence boundaries within the model's input limit (models.mt.sentences),
chunks of all texts are translated in batches, and each text's chunks are joined again: one
output per input, in order.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Any

from lipsync_sts.errors import UserInputError
from lipsync_sts.languages import get_language
from lipsync_sts.model_registry import detect_family, load_pretrained
from models.mt.codes import family_code, marian_target_tags
from models.mt.sentences import chunk_text

log = logging.getLogger(__name__)

_OPTION = "--mt-model"
# Input pieces stay well below every family's trained length (IndicTrans2 256, NLLB/M2M100 1024,
# Marian 512): quality falls off long before the hard limit, and shorter pieces batch better.
DEFAULT_MAX_INPUT_TOKENS = 200


@dataclass
class Seq2SeqModel:
    model: Any
    tokenizer: Any
    family: str
    name: str
    max_input_tokens: int
    control_ids: frozenset[int] = frozenset()  # special and language-tag tokens: never part of a translation


@functools.lru_cache(maxsize=2)
def load(model: str, family: str = "auto", max_input_tokens: int | None = None) -> Seq2SeqModel:
    """Load a model folder or hub id once per process (translation is deterministic: no reload needed)."""
    from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

    remote = family == "indictrans2" or "indictrans" in model.lower()
    config = load_pretrained(AutoConfig, model, "mt", _OPTION, trust_remote_code=remote)
    tokenizer = load_pretrained(AutoTokenizer, model, "mt", _OPTION, trust_remote_code=remote)
    if family == "auto":
        family = detect_family(getattr(config, "model_type", ""), (getattr(config, "architectures", None) or [""])[0],
                               type(tokenizer).__name__, model)
    if family not in ("indictrans2", "nllb", "m2m100", "marian"):
        raise UserInputError(f"MT model {model!r} is not an IndicTrans2, NLLB, M2M100 or MarianMT model "
                             f"(config model_type {getattr(config, 'model_type', '?')!r}); pass one of those to "
                             f"{_OPTION}, or name its family with --mt-family")
    net = load_pretrained(AutoModelForSeq2SeqLM, model, "mt", _OPTION, trust_remote_code=remote)
    net.eval()
    limit = max_input_tokens or min(DEFAULT_MAX_INPUT_TOKENS, _model_limit(config, tokenizer))
    return Seq2SeqModel(net, tokenizer, family, model, limit, _control_ids(tokenizer))


_TAG = re.compile(r"^(__[a-z]{2,3}__|[a-z]{3}_[A-Z][a-z]{3}|>>[\w-]+<<)$")


def _control_ids(tokenizer: Any) -> frozenset[int]:
    # Not every tokenizer marks its language tokens special (M2M100's python tokenizer does not),
    # so decoding with skip_special_tokens alone would leave "__ur__" in the text to be spoken.
    ids = set(getattr(tokenizer, "all_special_ids", []) or [])
    ids |= set(getattr(tokenizer, "lang_token_to_id", {}).values())
    for token, token_id in {**tokenizer.get_vocab(), **tokenizer.get_added_vocab()}.items():
        if _TAG.match(token):
            ids.add(token_id)
    return frozenset(ids)


def _model_limit(config: Any, tokenizer: Any) -> int:
    limits = [getattr(config, "max_source_positions", None), getattr(config, "max_position_embeddings", None),
              getattr(tokenizer, "model_max_length", None)]
    usable = [int(v) for v in limits if isinstance(v, int) and 0 < v < 1_000_000]
    # Two tokens go to the language tags / end of sentence.
    return max(8, min(usable) - 4) if usable else DEFAULT_MAX_INPUT_TOKENS


def _vocab_id(tokenizer: Any, token: str) -> int | None:
    token_id = tokenizer.convert_tokens_to_ids(token)
    unk = getattr(tokenizer, "unk_token_id", None)
    return token_id if isinstance(token_id, int) and token_id != unk else None


_MARIAN_PAIR = re.compile(r"opus-mt-(?:tc-big-)?([a-z]{2,3}(?:_[a-z]+)?)-([a-z]{2,3}(?:_[a-z]+)?)", re.I)


@dataclass(frozen=True)
class Prompt:
    """How one language pair is put to the model: text prefix, tokenizer settings, forced first token."""

    prefix: str = ""
    src_lang: str | None = None
    forced_bos_token_id: int | None = None


def prompt_for(m: Seq2SeqModel, source: str, target: str) -> Prompt:
    src, tgt = get_language(source), get_language(target)
    if src.code == tgt.code:
        raise UserInputError(f"source and target language are both {src.code!r}; choose a different target language")
    if m.family == "indictrans2":
        return Prompt(prefix=f"{family_code('indictrans2', src.code)} {family_code('indictrans2', tgt.code)} ")
    if m.family in ("nllb", "m2m100"):
        src_code, tgt_code = family_code(m.family, src.code), family_code(m.family, tgt.code)
        tag = tgt_code if m.family == "nllb" else f"__{tgt_code}__"
        forced = _vocab_id(m.tokenizer, tag)
        if forced is None or _vocab_id(m.tokenizer, src_code if m.family == "nllb" else f"__{src_code}__") is None:
            raise UserInputError(f"the tokenizer of MT model {m.name!r} has no language token for {src.code} or {tgt.code}; "
                                 f"pass a complete {m.family} model folder to {_OPTION}")
        return Prompt(src_lang=src_code, forced_bos_token_id=forced)
    return _marian_prompt(m, src.code, tgt.code)


def _marian_prompt(m: Seq2SeqModel, source: str, target: str) -> Prompt:
    pair = _MARIAN_PAIR.search(m.name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or m.name)
    if pair:
        from models.mt.codes import FLORES

        named_src, named_tgt = pair.group(1).lower(), pair.group(2).lower()
        src_names = {source, FLORES[source].split("_")[0]}
        tgt_names = {target, FLORES[target].split("_")[0]}
        if named_src not in src_names | {"mul", "inc", "dra"}:
            raise UserInputError(f"MarianMT model {m.name!r} translates from {named_src!r}, not {source!r}; "
                                 f"pass an opus-mt-{source}-… model to {_OPTION}")
        if named_tgt not in tgt_names | {"mul", "inc", "dra"}:
            raise UserInputError(f"MarianMT model {m.name!r} translates into {named_tgt!r}, not {target!r}; "
                                 f"pass an opus-mt-…-{target} model to {_OPTION}")
    tags = [t for t in marian_target_tags(target) if _vocab_id(m.tokenizer, t) is not None]
    has_any_tag = any(tok.startswith(">>") and tok.endswith("<<") for tok in m.tokenizer.get_vocab())
    if has_any_tag and not tags:
        raise UserInputError(f"multilingual MarianMT model {m.name!r} has no target tag for {target!r} "
                             f"(tried {', '.join(marian_target_tags(target))}); choose another {_OPTION}")
    return Prompt(prefix=f"{tags[0]} " if tags else "")


def _count_tokens(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def translate(texts: list[str], source: str, target: str, model: str, family: str = "auto",
              num_beams: int = 4, batch_size: int = 8, max_input_tokens: int | None = None) -> list[str]:
    """One translation per text, in order; "" for an empty text. Long texts are chunked."""
    if not any(t.strip() for t in texts):
        get_language(source), get_language(target)
        return ["" for _ in texts]
    m = load(model, family, max_input_tokens)
    prompt = prompt_for(m, source, target)
    if prompt.src_lang is not None:
        m.tokenizer.src_lang = prompt.src_lang
    prefix_tokens = _count_tokens(m.tokenizer, prompt.prefix) if prompt.prefix else 0
    limit = max(4, m.max_input_tokens - prefix_tokens)

    pieces: list[tuple[int, str]] = []  # (text index, chunk)
    for i, text in enumerate(texts):
        if text.strip():
            pieces += [(i, c) for c in chunk_text(text, limit, functools.partial(_count_tokens, m.tokenizer))]
    done: dict[str, str] = {}  # chunks repeat ("हाँ", "धन्यवाद"): translate each once
    unique = list(dict.fromkeys(c for _, c in pieces))
    for start in range(0, len(unique), batch_size):
        batch = unique[start:start + batch_size]
        for chunk, out in zip(batch, _generate(m, [prompt.prefix + c for c in batch], prompt, num_beams)):
            done[chunk] = out
    joined: dict[int, list[str]] = {}
    for i, chunk in pieces:
        joined.setdefault(i, []).append(done[chunk])
    return [" ".join(p for p in joined.get(i, []) if p).strip() for i in range(len(texts))]


def _generate(m: Seq2SeqModel, inputs: list[str], prompt: Prompt, num_beams: int) -> list[str]:
    import torch

    enc = m.tokenizer(inputs, return_tensors="pt", padding=True, truncation=True, max_length=m.max_input_tokens + 4)
    kwargs: dict[str, Any] = {"num_beams": num_beams, "max_new_tokens": _max_new_tokens(m, enc["input_ids"].shape[1])}
    if prompt.forced_bos_token_id is not None:
        kwargs["forced_bos_token_id"] = prompt.forced_bos_token_id
    with torch.inference_mode():
        out = m.model.generate(**enc, **kwargs)
    rows = [[t for t in row.tolist() if t not in m.control_ids] for row in out]

    def decode(ids, **kw):
        return m.tokenizer.batch_decode(ids, **kw)

    if m.family == "indictrans2" and hasattr(m.tokenizer, "_switch_to_target_mode"):
        # IndicTrans2's tokenizer keeps separate source and target vocabularies.
        m.tokenizer._switch_to_target_mode()
        try:
            texts = decode(rows, skip_special_tokens=True)
        finally:
            m.tokenizer._switch_to_input_mode()
    else:
        texts = decode(rows, skip_special_tokens=True)
    return [" ".join(t.split()) for t in texts]


def _max_new_tokens(m: Seq2SeqModel, input_len: int) -> int:
    # Indian languages differ in length by up to ~2x in tokens; the model's own limit caps it.
    config = m.model.config
    cap = getattr(config, "max_target_positions", None) or getattr(config, "max_position_embeddings", None) or 512
    return int(min(cap - 2, 2 * input_len + 16))
