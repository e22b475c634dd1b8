"""Machine translation: what the translate stage can rely on."""

from __future__ import annotations

import shutil

import pytest

from lipsync_sts.errors import UserInputError
from models.asr.script import script_share
from models.mt import MtConfig, translate
from models.mt.apertium import clean_output
from models.mt.transliterate import devanagari_to_urdu, urdu_to_devanagari

needs_apertium = pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium is not installed")


# --- Apertium ---------------------------------------------------------------------------------

@needs_apertium
def test_hindi_is_translated_into_urdu_script():
    assert translate(["मेरा नाम राम है"], "hi", "ur", MtConfig()) == ["میرا نام رام ہے"]


@needs_apertium
def test_urdu_is_translated_into_devanagari():
    assert translate(["میرا نام رام ہے"], "ur", "hi", MtConfig()) == ["मेरा नाम राम है"]


@needs_apertium
def test_every_input_text_gets_exactly_one_output_in_order():
    texts = ["", "मैं घर जा रहा हूँ।", "   ", "किताब", "मैं घर जा रहा हूँ।"]
    out = translate(texts, "hi", "ur", MtConfig())
    assert len(out) == len(texts)
    assert out[0] == "" and out[2] == ""
    assert out[1] == out[4] and out[1] != out[3]
    assert all("\n" not in t for t in out)


def test_texts_are_translated_side_by_side_each_once_and_kept_in_order(monkeypatch):
    import os
    import threading
    import time

    from models.mt import apertium

    calls, running, most = [], [0], [0]
    lock = threading.Lock()

    def slow_echo(text, mode, timeout_s=60.0):
        with lock:
            calls.append(text)
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2 if text == "क" else 0.02)  # the first finishes last
        with lock:
            running[0] -= 1
        return text

    monkeypatch.setattr(apertium, "run_apertium", slow_echo)
    texts = ["क", "ख", "ग", "क", "घ"]
    assert translate(texts, "hi", "ur") == [devanagari_to_urdu(t) for t in texts]
    assert sorted(calls) == sorted(set(texts))
    assert most[0] == min(len(os.sched_getaffinity(0)), 4)


@needs_apertium
def test_a_multi_line_text_stays_one_output():
    assert len(translate(["मेरा नाम\nराम है"], "hi", "ur")) == 1


@needs_apertium
@pytest.mark.parametrize("source,target,text,script", [
    ("hi", "ur", "उन्होंने प्लाज्मा बैंक का पोस्टर जारी किया", "ARABIC"),
    ("ur", "hi", "انہوں نے پلازمہ بینک کا پوسٹر جاری کیا", "DEVANAGARI"),
])
def test_words_apertium_does_not_know_come_back_in_the_target_script(source, target, text, script):
    [out] = translate([text], source, target)
    assert not set("*@#") & set(out)
    assert script_share(out, script) == 1.0, out


@needs_apertium
def test_free_variants_are_reduced_to_one_form():
    assert translate(["میں ہوں"], "ur", "hi") == ["मैं हूं"]  # Apertium writes हूं/हूँ


@needs_apertium
def test_a_slash_the_user_wrote_is_kept():
    assert "/" in translate(["और/या"], "hi", "ur")[0]


@needs_apertium
def test_text_is_never_interpreted_by_a_shell(tmp_path):
    marker = tmp_path / "pwned"
    translate([f"$(touch {marker}) ; touch {marker} `touch {marker}`"], "hi", "ur")
    assert not marker.exists()


def test_apertium_marks_are_removed_and_leftovers_transliterated():
    raw = "इन्होंने आज *پلازمہ बैंक का *کوسٹر 3,*000 #*1"
    assert clean_output(raw, "source", urdu_to_devanagari) == "इन्होंने आज पलाज़मा बैंक का कोसटर 3,000 #1"


# --- refusals ---------------------------------------------------------------------------------

@pytest.mark.parametrize("source,target", [("hi", "ta"), ("en", "hi"), ("ta", "te")])
def test_unsupported_pair_says_what_ships_and_what_to_pass_instead(source, target):
    with pytest.raises(UserInputError) as err:
        translate(["x"], source, target)
    message = str(err.value)
    assert "hi <-> ur" in message and ".srt" in message and "transformers" in message


def test_same_source_and_target_is_refused():
    with pytest.raises(UserInputError, match="both 'hi'"):
        translate(["नमस्ते"], "hi", "hi")


def test_bad_pair_is_refused_even_when_all_texts_are_empty():
    with pytest.raises(UserInputError):
        translate(["", ""], "hi", "ta")


def test_unknown_language_code_is_refused():
    with pytest.raises(UserInputError, match="unknown language code"):
        translate(["x"], "hindi", "ur")


def test_missing_apertium_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(UserInputError, match="apt-get install apertium"):
        translate(["नमस्ते"], "hi", "ur")


def test_empty_texts_need_no_apertium(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert translate(["", " "], "hi", "ur") == ["", ""]


# --- transliteration --------------------------------------------------------------------------

@pytest.mark.parametrize("hindi,urdu", [
    ("देश", "دیش"), ("छोटे", "چھوٹے"), ("आज", "آج"), ("भी", "بھی"), ("ज़मीन", "زمین"), ("१२३", "۱۲۳"),
])
def test_devanagari_letters_map_to_urdu_letters(hindi, urdu):
    assert devanagari_to_urdu(hindi) == urdu


@pytest.mark.parametrize("urdu,hindi", [
    ("دیش", "देश"), ("چھوٹے", "छोटे"), ("آج", "आज"), ("بھی", "भी"), ("گئے", "गए"), ("آیا", "आया"),
    ("جائیں", "जाएं"), ("پلازمہ", "पलाज़मा"), ("۱۲۳", "१२३"),
])
def test_urdu_letters_map_to_devanagari_letters(urdu, hindi):
    assert urdu_to_devanagari(urdu) == hindi


def test_transliteration_leaves_other_scripts_and_ascii_punctuation_alone():
    assert devanagari_to_urdu("COVID-19, 3,000!") == "COVID-19, 3,000!"
    assert urdu_to_devanagari("COVID-19, 3,000!") == "COVID-19, 3,000!"


def test_sentence_punctuation_follows_the_script():
    assert devanagari_to_urdu("है।") == "ہے۔"
    assert urdu_to_devanagari("ہے۔") == "हे।"


@needs_apertium
def test_a_missing_apertium_language_pair_says_what_to_install(monkeypatch):
    from models.mt import apertium

    monkeypatch.setitem(apertium._PAIRS, ("hi", "ur"), ("hin-xyz", devanagari_to_urdu))
    with pytest.raises(UserInputError, match="apertium-urd-hin"):
        translate(["नमस्ते"], "hi", "ur")
