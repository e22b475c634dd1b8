"""Tiny, randomly initialised models of the real transformers classes, with real tokenizers,
built and saved by the tests: the backends' loading and language-code code runs exactly as it
would on a downloaded model, only the weights are noise (so the words they write are too)."""

from __future__ import annotations

import io
import json
from pathlib import Path

TEXTS = ["मेरा नाम राम है।", "मैं घर जा रहा हूँ। आप कैसे हैं?", "میرا نام رام ہے۔", "hello world, this is a test.",
         "தமிழ் மொழி", "আমি বাংলায় কথা বলি", "నేను తెలుగు", "ನಾನು ಕನ್ನಡ"] * 20
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def sentencepiece_model(path: Path, vocab_size: int = 150) -> Path:
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(TEXTS), model_writer=buf, vocab_size=vocab_size,
                                   model_type="bpe", character_coverage=1.0, hard_vocab_limit=False,
                                   bos_id=0, pad_id=1, eos_id=2, unk_id=3, minloglevel=2)
    path.write_bytes(buf.getvalue())
    return path


def _spm_vocab(model: Path, extra: list[str] = ()) -> dict[str, int]:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    vocab = {p: i for i, p in enumerate(pieces)}
    for token in extra:
        vocab.setdefault(token, len(vocab))
    return vocab


def _seq2seq_config(cls, vocab_size: int, **ids):
    return cls(vocab_size=vocab_size, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
               decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64, **ids)


def _save(model, tokenizer, folder: Path) -> Path:
    import torch

    torch.manual_seed(0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def nllb(folder: Path) -> Path:
    """M2M100ForConditionalGeneration + NllbTokenizer (tokenizers BPE with Metaspace), as NLLB-200 ships."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    bpe.train_from_iterator(TEXTS, trainers.BpeTrainer(vocab_size=200, special_tokens=SPECIALS, show_progress=False))
    state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    tokenizer = NllbTokenizer(vocab=state["vocab"], merges=merges)
    config = _seq2seq_config(M2M100Config, len(tokenizer), pad_token_id=1, bos_token_id=0, eos_token_id=2,
                             decoder_start_token_id=2)
    return _save(M2M100ForConditionalGeneration(config), tokenizer, folder)


def m2m100(folder: Path) -> Path:
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    spm_file = sentencepiece_model(folder / "sentencepiece.bpe.model")
    (folder / "vocab.json").write_text(json.dumps(_spm_vocab(spm_file)), encoding="utf-8")
    tokenizer = M2M100Tokenizer(vocab_file=str(folder / "vocab.json"), spm_file=str(spm_file))
    # Language tokens sit after the spm vocabulary, then 8 "madeup" slots as in the real checkpoints.
    vocab_size = max(tokenizer.lang_token_to_id.values()) + 1 + 8
    config = _seq2seq_config(M2M100Config, vocab_size, pad_token_id=tokenizer.pad_token_id,
                             bos_token_id=0, eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=2)
    return _save(M2M100ForConditionalGeneration(config), tokenizer, folder)


def marian(folder: Path, target_tags: list[str] = ()) -> Path:
    """MarianMTModel + MarianTokenizer (one sentencepiece model for both sides); ``target_tags``
    like ``>>hin<<`` make it a multilingual-target model as OPUS-MT's en-mul."""
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    spm_file = sentencepiece_model(folder / "source.spm")
    (folder / "target.spm").write_bytes(spm_file.read_bytes())
    vocab = _spm_vocab(spm_file, list(target_tags))
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = MarianTokenizer(str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json"))
    config = _seq2seq_config(MarianConfig, len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id)
    return _save(MarianMTModel(config), tokenizer, folder)


WHISPER_LANGUAGES = ["en", "hi", "ur", "ta", "te", "bn"]


def whisper(folder: Path) -> Path:
    """WhisperForConditionalGeneration + WhisperProcessor with a byte-level BPE vocabulary and the
    real special-token layout: <|endoftext|>, <|startoftranscript|>, language tokens, task tokens,
    <|notimestamps|>, then the 1501 timestamp tokens <|0.00|>..<|30.00|>."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import (WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration,
                              WhisperProcessor, WhisperTokenizer)
    from transformers.generation import GenerationConfig

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(TEXTS, trainers.BpeTrainer(vocab_size=300, show_progress=False,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    vocab = dict(state["vocab"])
    specials = (["<|endoftext|>", "<|startoftranscript|>"] + [f"<|{c}|>" for c in WHISPER_LANGUAGES]
                + ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>",
                   "<|notimestamps|>"] + [f"<|{i * 0.02:.2f}|>" for i in range(1501)])
    tokenizer = WhisperTokenizer(vocab=vocab, merges=merges)
    from tokenizers import AddedToken

    tokenizer.add_special_tokens({"additional_special_tokens": [AddedToken(t, special=True, normalized=False)
                                                                 for t in specials[1:]]})
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in specials}
    processor = WhisperProcessor(WhisperFeatureExtractor(feature_size=80), tokenizer)
    config = WhisperConfig(vocab_size=len(tokenizer), d_model=16, encoder_layers=1, decoder_layers=1,
                           encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                           decoder_ffn_dim=32, num_mel_bins=80, max_target_positions=64,
                           pad_token_id=ids["<|endoftext|>"], bos_token_id=ids["<|endoftext|>"],
                           eos_token_id=ids["<|endoftext|>"], decoder_start_token_id=ids["<|startoftranscript|>"])
    model = WhisperForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=ids["<|startoftranscript|>"], eos_token_id=ids["<|endoftext|>"],
        pad_token_id=ids["<|endoftext|>"], bos_token_id=ids["<|endoftext|>"], max_length=24,
        is_multilingual=True, lang_to_id={f"<|{c}|>": ids[f"<|{c}|>"] for c in WHISPER_LANGUAGES},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        no_timestamps_token_id=ids["<|notimestamps|>"], prev_sot_token_id=ids["<|startofprev|>"],
        max_initial_timestamp_index=50, begin_suppress_tokens=[ids["<|endoftext|>"]], suppress_tokens=[])
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def wav2vec2_ctc(folder: Path) -> Path:
    """Wav2Vec2ForCTC + Wav2Vec2Processor with a Devanagari character vocabulary ("|" between words)."""
    from transformers import (Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC,
                              Wav2Vec2Processor)

    folder.mkdir(parents=True, exist_ok=True)
    letters = sorted(set("".join(TEXTS[:2])) - {" ", "।", "?", "."})
    vocab = {"<pad>": 0, "<unk>": 1, "|": 2, **{c: i + 3 for i, c in enumerate(letters)}}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(str(folder / "vocab.json"), pad_token="<pad>", unk_token="<unk>",
                                     word_delimiter_token="|")
    processor = Wav2Vec2Processor(Wav2Vec2FeatureExtractor(sampling_rate=16_000), tokenizer)
    config = Wav2Vec2Config(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=32, conv_dim=(8,) * 7, num_conv_pos_embeddings=16,
                            num_conv_pos_embedding_groups=2, pad_token_id=0, ctc_loss_reduction="mean")
    Wav2Vec2ForCTC(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def vits(folder: Path) -> Path:
    """VitsModel + VitsTokenizer with a Devanagari character vocabulary, as facebook/mms-tts-hin ships."""
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    letters = sorted(set("".join(TEXTS[:2])) - {"।", "?", "."})
    vocab = {"<pad>": 0, **{c: i + 1 for i, c in enumerate(letters)}, "<unk>": len(letters) + 1}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = VitsTokenizer(str(folder / "vocab.json"), language="hin", add_blank=True, phonemize=False)
    config = VitsConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, ffn_dim=32,
                        flow_size=16, spectrogram_bins=33, upsample_initial_channel=16, upsample_rates=[8, 8],
                        upsample_kernel_sizes=[16, 16], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
                        prior_encoder_num_flows=1, prior_encoder_num_wavenet_layers=1,
                        posterior_encoder_num_wavenet_layers=1, duration_predictor_num_flows=1,
                        duration_predictor_filter_channels=16, depth_separable_num_layers=1, sampling_rate=16_000)
    _save(VitsModel(config), tokenizer, folder)
    return folder
