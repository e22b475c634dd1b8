"""transformers MT backend against tiny random models of the real classes (see tiny_models)."""

from __future__ import annotations

import pytest

from lipsync_sts.errors import UserInputError
from models.mt import MtConfig, translate
from models.mt import seq2seq
from models.mt.codes import family_code, marian_target_tags
from models.mt.sentences import chunk_text, split_sentences
from tests import tiny_models

LONG = "मेरा नाम राम है। मैं घर जा रहा हूँ। आप कैसे हैं? " * 6


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("mt")
    return {"nllb": tiny_models.nllb(base / "nllb"), "m2m100": tiny_models.m2m100(base / "m2m100"),
            "marian": tiny_models.marian(base / "opus-mt-hi-ur"),
            "marian-mul": tiny_models.marian(base / "opus-mt-en-mul", [">>hin<<", ">>urd<<"])}


def _spy(monkeypatch):
    calls = []
    real = seq2seq._generate

    def spy(m, inputs, prompt, num_beams):
        enc = m.tokenizer(inputs, padding=True)
        calls.append({"inputs": inputs, "prompt": prompt, "ids": enc["input_ids"], "tokenizer": m.tokenizer})
        return real(m, inputs, prompt, num_beams)

    monkeypatch.setattr(seq2seq, "_generate", spy)
    return calls


def _config(folder, **kw):
    return MtConfig(backend="transformers", model=str(folder), num_beams=1, **kw)


@pytest.mark.parametrize("family,src_tag,tgt_tag", [("nllb", "hin_Deva", "urd_Arab"), ("m2m100", "__hi__", "__ur__")])
def test_language_codes_are_the_familys_own(folders, monkeypatch, family, src_tag, tgt_tag):
    calls = _spy(monkeypatch)
    out = translate(["मेरा नाम राम है।"], "hi", "ur", _config(folders[family]))
    assert len(out) == 1 and isinstance(out[0], str)
    tok = calls[0]["tokenizer"]
    assert calls[0]["prompt"].forced_bos_token_id == tok.convert_tokens_to_ids(tgt_tag)
    assert tok.convert_tokens_to_ids(src_tag) in calls[0]["ids"][0]  # the source tag the tokenizer adds
    assert tgt_tag not in out[0] and src_tag not in out[0]  # tags never reach the text to be spoken


def test_multilingual_marian_gets_a_target_tag(folders, monkeypatch):
    calls = _spy(monkeypatch)
    translate(["hello world"], "en", "hi", _config(folders["marian-mul"]))
    assert calls[0]["inputs"][0].startswith(">>hin<< ")


def test_marian_pair_named_in_the_model_is_checked(folders):
    with pytest.raises(UserInputError, match="translates from 'hi'"):
        translate(["x"], "ta", "ur", _config(folders["marian"]))


def test_long_text_is_split_at_sentences_within_the_limit_and_gives_one_output(folders, monkeypatch):
    calls = _spy(monkeypatch)
    texts = [LONG, "", "नमस्ते", LONG]
    out = translate(texts, "hi", "ur", _config(folders["nllb"], max_input_tokens=8))
    assert len(out) == 4 and out[1] == ""
    inputs = [text for call in calls for text in call["inputs"]]
    tok = calls[0]["tokenizer"]
    assert len(inputs) > 2  # the long text went in as several pieces, each translated once
    assert all(len(tok(t, add_special_tokens=False)["input_ids"]) <= 8 for t in inputs)
    assert all(t.endswith(("।", "?")) for t in inputs if t != "नमस्ते")  # cut between sentences
    assert out[0] == out[3]


def test_language_a_family_was_not_trained_on_is_refused(folders):
    with pytest.raises(UserInputError, match="do not cover Telugu"):
        translate(["x"], "hi", "te", _config(folders["m2m100"]))


def test_missing_model_folder_says_how_to_supply_one(tmp_path):
    with pytest.raises(UserInputError, match="--mt-model"):
        translate(["x"], "hi", "ur", _config(tmp_path / "nowhere"))


def test_folder_without_a_model_is_named(tmp_path):
    with pytest.raises(UserInputError, match="config.json"):
        translate(["x"], "hi", "ur", _config(tmp_path))


def test_transformers_backend_without_a_model_is_a_user_error():
    with pytest.raises(UserInputError, match="--mt-model"):
        translate(["x"], "hi", "ur", MtConfig(backend="transformers"))


def test_indictrans2_prompt_is_source_and_target_tags(folders):
    m = seq2seq.load(str(folders["nllb"]))
    as_indictrans = seq2seq.Seq2SeqModel(m.model, m.tokenizer, "indictrans2", "indictrans2-indic-indic", 200)
    assert seq2seq.prompt_for(as_indictrans, "hi", "kok").prefix == "hin_Deva gom_Deva "


def test_every_scheduled_language_has_an_indictrans2_code():
    from lipsync_sts.languages import LANGUAGES

    assert all(family_code("indictrans2", code) for code in LANGUAGES)
    assert family_code("nllb", "sat") == "sat_Beng" and family_code("nllb", "ne") == "npi_Deva"
    assert marian_target_tags("pa")[0] == ">>pan_Guru<<"


def test_sentences_split_on_danda_urdu_stop_and_question_mark():
    assert split_sentences("एक। दो? تین۔ four. five") == ["एक।", "दो?", "تین۔", "four.", "five"]


def test_a_sentence_over_the_limit_is_cut_at_clauses_then_words():
    count = lambda t: len(t.split())  # noqa: E731
    pieces = chunk_text("a b c, d e f, g h i j k l", 3, count)
    assert all(count(p) <= 3 for p in pieces) and " ".join(pieces) == "a b c, d e f, g h i j k l"
