"""Phoneme timings from libespeak-ng, read through ctypes.

Initialised with ``espeakINITIALIZE_PHONEME_EVENTS``, the library reports every phoneme it speaks
together with its position in the audio (milliseconds from the start of the utterance). The
``espeak-ng`` program is a thin front end to this library, so for the same text, voice, rate and
pitch these are the timings of the audio the program writes; :func:`phoneme_timings` also returns
the number of samples the library produced, so that the caller checks that claim on every call.

Each call runs the library in a fresh Python process (this file run as a script, standard library
only). Measured here with espeak-ng 1.51: only the first utterance of a process reproduces the
program's audio exactly; later utterances in the same process come out a few to a few hundred
samples longer and their phonemes drift by milliseconds (state survives between utterances, and
espeak_Cancel does not clear it; espeak_Terminate followed by espeak_Initialize hangs). A fresh
process also keeps the library's global state and any crash in C away from the pipeline's workers.
There is no header on this machine; the structures follow ``espeak-ng/speak_lib.h`` of 1.51.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

# speak_lib.h constants.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_INITIALIZE_DONT_EXIT = 0x8000  # report a failed initialisation instead of exiting the process
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PHONEMES = 0x100  # [[...]] phoneme input, on by default in the espeak-ng program
_ENDPAUSE = 0x1000  # the program's default too; both must match for the timings to agree
_PARAM_RATE = 1
_PARAM_PITCH = 3

# Pauses come through as phoneme events with an empty name.
PAUSE = "_"


class Phoneme(NamedTuple):
    """One phoneme in IPA (``_`` for a pause), seconds from the start of the audio."""

    start: float
    end: float
    phoneme: str


@dataclass(frozen=True)
class PhonemeTiming:
    phonemes: list[Phoneme]
    n_samples: int  # audio the library produced, to compare with the program's wav
    sample_rate: int


class EspeakLibraryError(RuntimeError):
    """libespeak-ng could not be loaded or refused the request."""


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


_TIMEOUT_S = 120


def phoneme_timings(text: str, voice: str, rate: int, pitch: int) -> PhonemeTiming:
    """The phonemes of ``text`` spoken by libespeak-ng, with their times.

    ``voice`` is an espeak-ng voice name, optionally with ``+variant``; ``rate`` and ``pitch`` are
    the values the program gets as ``-s`` and ``-p``.
    """
    # -I: the child needs nothing but the standard library, and no environment should change it.
    args = [sys.executable, "-I", str(Path(__file__).resolve()), voice, str(int(rate)), str(int(pitch))]
    try:
        proc = subprocess.run(args, input=text.encode("utf-8"), capture_output=True, timeout=_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise EspeakLibraryError(f"libespeak-ng took longer than {_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise EspeakLibraryError(lines[-1] if lines else f"phoneme process exited with {proc.returncode}")
    try:
        result = json.loads(proc.stdout)
        events, n_samples, sample_rate = result["events"], int(result["n_samples"]), int(result["sample_rate"])
    except (ValueError, KeyError, TypeError) as exc:
        raise EspeakLibraryError(f"unreadable answer from the phoneme process: {exc}") from exc
    if sample_rate <= 0:
        raise EspeakLibraryError(f"libespeak-ng reported a sample rate of {sample_rate}")

    # A phoneme lasts until the next one starts; the last one until the audio ends.
    total = n_samples / sample_rate
    phonemes = []
    for k, (ms, name) in enumerate(events):
        start = ms / 1000
        end = events[k + 1][0] / 1000 if k + 1 < len(events) else total
        phonemes.append(Phoneme(start, max(start, min(end, total)), name))
    return PhonemeTiming(phonemes=phonemes, n_samples=n_samples, sample_rate=sample_rate)


def _load_library() -> ctypes.CDLL:
    name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise EspeakLibraryError(f"cannot load libespeak-ng ({name}): {exc}") from exc
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_Callback]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
        ctypes.c_void_p, ctypes.c_void_p,
    ]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synchronize.restype = ctypes.c_int
    return lib


def _speak(text: str, voice: str, rate: int, pitch: int) -> dict:
    """Run one utterance through the library in this process; call it once per process."""
    events: list[tuple[int, str]] = []
    n_samples = 0

    @_Callback
    def on_synth(wav, count, event_list):  # noqa: ANN001 - ctypes signature
        nonlocal n_samples
        n_samples += max(0, count)
        i = 0
        while event_list[i].type != _EVENT_LIST_TERMINATED:
            event = event_list[i]
            if event.type == _EVENT_PHONEME:
                # The name fills all 8 bytes without a terminator when it needs them; pauses have none.
                name = bytes(event.id.string).split(b"\0", 1)[0].decode("utf-8", "replace")
                events.append((event.audio_position, name or PAUSE))
            i += 1
        return 0  # go on synthesising

    lib = _load_library()
    options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA | _INITIALIZE_DONT_EXIT
    sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, options)
    if sample_rate <= 0:
        raise EspeakLibraryError(f"espeak_Initialize failed (returned {sample_rate})")
    lib.espeak_SetSynthCallback(on_synth)
    if lib.espeak_SetVoiceByName(voice.encode("utf-8")) != 0:
        raise EspeakLibraryError(f"libespeak-ng has no voice {voice!r}")
    lib.espeak_SetParameter(_PARAM_RATE, rate, 0)
    lib.espeak_SetParameter(_PARAM_PITCH, pitch, 0)
    data = text.encode("utf-8")
    status = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _PHONEMES | _ENDPAUSE,
                              None, None)
    lib.espeak_Synchronize()
    if status != 0:
        raise EspeakLibraryError(f"espeak_Synth failed with status {status}")
    return {"sample_rate": sample_rate, "n_samples": n_samples, "events": events}


if __name__ == "__main__":
    _voice, _rate, _pitch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    _text = sys.stdin.buffer.read().decode("utf-8")
    try:
        json.dump(_speak(_text, _voice, _rate, _pitch), sys.stdout)
    except EspeakLibraryError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
