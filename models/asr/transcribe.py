"""Speech -> timed text segments with faster-whisper (CTranslate2).

The pipeline: decode to 16 kHz mono -> Silero speech regions -> whisper with its own VAD filter,
the language forced and other scripts suppressed (long audio, if asked, in pieces cut in its
pauses) -> segment boundaries tightened to the speech regions -> text written in the
language's own script. The transformers backend (models.asr.hf: a Whisper or CTC
model folder) replaces the middle step; VAD, tightening and script normalisation are shared.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Literal

import ctranslate2
import numpy as np
from pydantic import BaseModel, Field

from lipsync_sts.errors import UserInputError
from lipsync_sts.languages import get_language
from lipsync_sts.memory import release_freed_memory
from lipsync_sts.segments import Segment
from models.asr.chunks import plan_pieces, plan_windows
from models.asr.embedded_whisper import embedded_model_dir
from models.asr.script import DECODE_SCRIPTS, foreign_script_tokens, normalize_script, script_share
from models.asr.vad import SAMPLE_RATE, VadConfig, speech_regions

log = logging.getLogger(__name__)


class AsrConfig(BaseModel):
    backend: Literal["faster-whisper", "transformers"] = "faster-whisper"
    # faster-whisper: "embedded" (whisper-base from the registry packages) or a CTranslate2 model dir;
    # transformers: a Whisper/CTC model folder, a name from `lipsync-sts models`, or a hub id.
    model: str = "embedded"
    window_s: float = Field(30.0, gt=1.0, le=30.0)  # transformers: longest window given to the model
    pause_s: float = Field(0.5, gt=0.0)  # transformers CTC: a pause this long ends a segment
    # Greedy (beam 1), not whisper's 5 or the beam 2 used before. Held to Arabic script, two beams
    # ended the first window of the bench's 30-s Hindi audio on a hypothesis looping on "۔" at T=0,
    # in every run (a loop scores well once begun; the text's beam keeps paying for tokens the
    # restriction removed, we think), and whisper retried it by sampling at T=0.2, five candidates:
    # 11.6 s of ASR; greedy reads it at T=0 in 4.3 s. Five Hindi news clips: CER 0.385 -> 0.387 in
    # 17.7 -> 8.0 s; seven other-language clips 0.993 -> 0.987. Long tracks went either
    # way: CER better on 283 s and 613 s of those clips (and 1.2-2.3x faster), worse on the 10-min
    # bench dub's mix of them (0.586 against 0.473, as fast) (bench/results/asr_beam_size.txt).
    beam_size: int = Field(1, ge=1)
    compute_type: str = "int8"  # CTranslate2 quantisation: int8 is ~2x faster than float32 on CPU
    cpu_threads: int = Field(0, ge=0)  # 0: CTranslate2 picks (all cores; with piece_workers: cores / workers)
    # When set, audio longer than this is decoded in pieces of at most about this length, cut
    # halfway through its pauses, each by a fresh model, so a piece's text never depends on the pieces
    # before it (CTranslate2 seeds its sampling generator once per worker thread). Off by default:
    # whisper's loops and retries, which set ASR's time, moved either way (bench/results/asr_pieces.md:
    # on 613 s of the Hindi news clips decoded alone, 60-s pieces took 283.1 s against 432.7 whole,
    # CER 0.575 -> 0.487; in a 10-min 1080p dub of the same clips, 585 s against 418).
    piece_s: float | None = Field(None, ge=30.0)
    # Pieces decoded at once, 0: one per core (each with cores / workers CTranslate2 threads). Two
    # side by side took that dub's ASR from 418 to 331 s, but each piece in flight holds ~300 MB
    # more: beside face tracking its peak went from 1716 to 1996 MB, at the 2-GB bound.
    piece_workers: int = Field(1, ge=0)
    vad: bool = True  # skip silence in whisper and tighten segments to Silero speech regions
    vad_config: VadConfig = VadConfig()
    # Off: on the shared Hindi clips, conditioning turned one misheard window into a loop.
    condition_on_previous_text: bool = False
    # Whisper retries a window at these temperatures when its output looks like a loop.
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    # faster-whisper: no 6-token sequence may repeat within a window. A loop then cannot form, so
    # fewer windows fall back to sampling at higher temperatures (the retries were most of ASR's
    # time). On the five Hindi news clips: CER 0.365 against 0.370, in 19 s against 32 s; on the
    # seven other-language clips with references, CER 0.899 against 0.887 (whisper-base barely
    # reads them either way). 3 did as well on Hindi (0.368); 10 left a Hindi and a Bengali clip empty.
    no_repeat_ngram_size: int = Field(6, ge=0)
    # Candidates sampled per temperature retry. Whisper's 5: 2 took 14.4 s instead of 18.2 s on the
    # five Hindi clips but raised their CER from 0.365 to 0.382 (bench/results/asr_no_repeat_ngram.txt).
    best_of: int = Field(5, ge=1)
    seed: int = 0  # for the sampled retries
    restrict_script: bool = True  # suppress tokens of scripts the language is not written in
    native_script: bool = True  # Urdu-script Hindi -> Devanagari (see models.asr.script)


def resolve_model_dir(model: str) -> Path:
    if model == "embedded":
        return embedded_model_dir()
    path = Path(model).expanduser()
    if not (path / "model.bin").is_file():
        what = "does not exist" if not path.exists() else "holds no model.bin"
        raise UserInputError(
            f"ASR model folder {path} {what}; pass a CTranslate2 Whisper model directory "
            f"(ct2-transformers-converter output) or 'embedded'"
        )
    return path


def _load(model_dir: str, compute_type: str, cpu_threads: int, seed: int = 0):
    from faster_whisper import WhisperModel  # heavy import: only when transcribing

    # CTranslate2's worker threads draw their sampling seed when the model is loaded, so a model
    # reused across calls samples its temperature retries differently each time. A fresh load per
    # call (~0.5 s) keeps one audio file -> one transcript, which content-hashed caching relies on.
    ctranslate2.set_random_seed(seed)
    return WhisperModel(model_dir, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads)


# One model load at a time: each reads the 145-MB model file and converts it, ~135 MB more while it
# does, which two pieces starting together would need at once.
_LOADING = threading.Lock()


def _byte_decoder() -> dict[str, int]:
    # GPT-2 byte-level BPE writes each byte as a printable character; this undoes that mapping.
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


@functools.lru_cache(maxsize=2)
def _token_bytes(tokenizer_json: str) -> tuple[bytes, ...]:
    """UTF-8 bytes of each text token (the ids below <|endoftext|>)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(tokenizer_json)
    decoder = _byte_decoder()
    eot = tokenizer.token_to_id("<|endoftext|>")
    return tuple(bytes(decoder[c] for c in tokenizer.id_to_token(i)) for i in range(eot))


def tighten(segments: list[Segment], regions: list[tuple[float, float]]) -> list[Segment]:
    """Shrink each segment to the speech regions it overlaps; one that overlaps none stays as is."""
    out = []
    for seg in segments:
        inside = [(max(seg.start, s), min(seg.end, e)) for s, e in regions if s < seg.end and e > seg.start]
        if inside:
            seg = seg.model_copy(update={"start": inside[0][0], "end": inside[-1][1]})
        out.append(seg)
    return out


def _whisper_language(language: str) -> str:
    lang = get_language(language)
    if lang.whisper is None:
        raise UserInputError(
            f"Whisper cannot transcribe {lang.name} ({lang.code}); supply a transcript (.srt) for the source video"
        )
    return lang.whisper


def _read_audio(wav_path: Path) -> np.ndarray:
    from faster_whisper import decode_audio

    if not wav_path.is_file():
        raise UserInputError(f"audio file {wav_path} does not exist")
    try:
        return decode_audio(str(wav_path), sampling_rate=SAMPLE_RATE)  # (n_samples,) float32 mono
    except Exception as err:  # PyAV raises its own error types for unreadable media
        raise UserInputError(f"audio file {wav_path} could not be decoded ({err}); give a WAV or other audio file") from None


def transcribe(wav_path: Path, language: str, config: AsrConfig | None = None) -> list[Segment]:
    """Timed segments of what is said in ``wav_path``, in ``language``'s script; empty ones dropped."""
    return transcribe_with_regions(wav_path, language, config)[0]


def transcribe_with_regions(wav_path: Path, language: str, config: AsrConfig | None = None,
                            on_piece: Callable[[tuple[float, float]], None] | None = None,
                            ) -> tuple[list[Segment], list[tuple[float, float]]]:
    """:func:`transcribe`, and the Silero speech regions (seconds) it tightened the segments to
    (empty with ``vad`` off): the mix ducks the original under them, without a second VAD pass.
    ``on_piece((start_s, end_s))`` is called as each piece of the audio is done (faster-whisper)."""
    config = config or AsrConfig()
    if config.backend == "transformers":
        return _transcribe_hf(Path(wav_path), language, config)
    whisper_language = _whisper_language(language)
    model_dir = str(resolve_model_dir(config.model))
    audio = _read_audio(Path(wav_path))
    duration = audio.size / SAMPLE_RATE
    if duration == 0:
        return [], []

    suppress = [-1]  # -1: whisper's default set of non-speech symbols
    tokenizer_json = Path(model_dir) / "tokenizer.json"
    if config.restrict_script and tokenizer_json.is_file():  # without it faster-whisper fetches one
        suppress += foreign_script_tokens(list(_token_bytes(str(tokenizer_json))), language)
    regions = speech_regions(audio, config.vad_config) if config.vad else []
    pieces = plan_pieces(regions, duration, config.piece_s) if config.piece_s else [(0.0, duration)]

    def decode_piece(piece: tuple[float, float], cpu_threads: int) -> list[Segment]:
        with _LOADING:
            model = _load(model_dir, config.compute_type, cpu_threads, config.seed)

        def decode(start_s: float, end_s: float, suppress_tokens: list[int]) -> list[Segment]:
            found, _info = model.transcribe(
                audio[round(start_s * SAMPLE_RATE):round(end_s * SAMPLE_RATE)],
                language=whisper_language,  # always: auto-detection misfires on Indian languages
                task="transcribe",
                beam_size=config.beam_size,
                vad_filter=config.vad,
                condition_on_previous_text=config.condition_on_previous_text,
                suppress_tokens=suppress_tokens,
                temperature=list(config.temperatures),
                no_repeat_ngram_size=config.no_repeat_ngram_size,
                best_of=config.best_of,
            )
            return [Segment(start=max(start_s, start_s + p.start), end=min(end_s, start_s + p.end),
                            text=p.text.strip()) for p in found]

        try:
            segments = decode(*piece, suppress)
            if len(suppress) > 1:
                segments = _decode_collapsed_again(segments, lambda a, b: decode(a, b, [-1]), language)
        finally:
            del model
            release_freed_memory()  # the model's heap, before the next piece loads one
        if on_piece is not None:
            on_piece(piece)
        return segments

    workers = min(len(pieces), config.piece_workers or len(os.sched_getaffinity(0)))
    if workers <= 1:
        segments = [s for piece in pieces for s in decode_piece(piece, config.cpu_threads)]
    else:
        threads = config.cpu_threads or max(1, len(os.sched_getaffinity(0)) // workers)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asr-piece") as pool:
            segments = [s for found in pool.map(lambda piece: decode_piece(piece, threads), pieces) for s in found]
    return _finish(segments, regions, language, config), regions


def _decode_collapsed_again(segments: list[Segment], decode_unrestricted, language: str) -> list[Segment]:
    """Segments whose text has no word in it decoded again without the script restriction.

    Held to its language's scripts, whisper-base can fall into punctuation for a whole window: a
    Hindi news clip of the testdata (hi_noa_Bhopal) came back as "۔۔۔ ۔۔۔۔۔۔ ۔" with the int8
    kernels of an Intel Xeon, though as its sentence on an AMD EPYC; unrestricted, it reads the
    sentence, in Urdu script (CER 0.380 after conversion; the five clips' mean 0.491 -> 0.367). What
    the second decode gives is kept only where it is written in those scripts, which is what the
    restriction is there to ensure."""
    scripts = DECODE_SCRIPTS.get(get_language(language).code, ())
    out: list[Segment] = []
    for seg in segments:
        if _has_words(seg.text) or seg.end <= seg.start:
            out.append(seg)
            continue
        again = decode_unrestricted(seg.start, seg.end)
        text = " ".join(s.text for s in again)
        if _has_words(text) and sum(script_share(text, script) for script in scripts) >= 0.5:
            log.info("ASR: a window (%.2f-%.2f s) decoded as punctuation only was decoded again", seg.start, seg.end)
            out.extend(again)
        else:
            out.append(seg)
    return out


def _transcribe_hf(wav_path: Path, language: str,
                   config: AsrConfig) -> tuple[list[Segment], list[tuple[float, float]]]:
    from models.asr import hf  # torch/transformers: only when used

    if config.model == "embedded":
        raise UserInputError("the transformers ASR backend needs a model: pass --asr-model with a local Whisper or "
                             "CTC model folder, a hub id or a name from `lipsync-sts models`")
    get_language(language)
    m = hf.load(config.model)
    whisper_language = _whisper_language(language) if m.family == "whisper" else None
    audio = _read_audio(wav_path)
    if audio.size == 0:
        return [], []
    regions = speech_regions(audio, config.vad_config) if config.vad else []
    if config.vad and not regions:
        return [], []
    windows = plan_windows(regions, audio.size / SAMPLE_RATE, config.window_s)
    segments = hf.transcribe_windows(audio, windows, m, whisper_language, config.beam_size, config.pause_s)
    return _finish(segments, regions, language, config), regions


def _finish(segments: list[Segment], regions: list[tuple[float, float]], language: str,
            config: AsrConfig) -> list[Segment]:
    """Shared by every backend: drop empty segments, tighten to speech, native script, ms times."""
    segments = [s for s in segments if _has_words(s.text) and s.end > s.start]
    if regions and segments:
        segments = tighten(segments, regions)
    if config.native_script:
        segments = [s.model_copy(update={"text": normalize_script(s.text, language)}) for s in segments]
    # Millisecond precision is all a subtitle or a video frame can use.
    return [s.model_copy(update={"start": round(s.start, 3), "end": round(s.end, 3)})
            for s in segments if _has_words(s.text)]


def _has_words(text: str) -> bool:
    # "۔ ۔" or "..." is what whisper writes for noise it cannot read
    return any(unicodedata.category(c)[0] in "LN" for c in text)
