"""CER of the ASR backend on clips with reference transcripts, before and after script normalisation.

    python -m models.asr.evaluate ../shared/testdata/speech --language hi --glob 'hi_noa_*.wav'

Each ``clip.wav`` needs a ``clip.txt`` beside it. Whisper runs once per clip (native_script off);
the normalisations are applied to that same output, so the columns differ only by the script step.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path

from models.asr.metrics import cer
from models.asr.script import normalize_script
from models.asr.transcribe import AsrConfig, transcribe
from models.mt.transliterate import urdu_to_devanagari


class _Retries(logging.Handler):
    """Counts faster-whisper's temperature retries by the test that sent a window to them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts = {"compression": 0, "log_prob": 0}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Compression ratio threshold is not met"):
            self.counts["compression"] += 1
        elif message.startswith("Log probability threshold is not met"):
            self.counts["log_prob"] += 1


def evaluate(folder: Path, language: str, pattern: str, config: AsrConfig) -> list[dict]:
    rows = []
    logger = logging.getLogger("faster_whisper")
    for wav in sorted(folder.glob(pattern)):
        ref_path = wav.with_suffix(".txt")
        if not ref_path.is_file():
            continue
        ref = ref_path.read_text(encoding="utf-8").strip()
        retries, level = _Retries(), logger.level
        logger.addHandler(retries)
        logger.setLevel(logging.DEBUG)
        t0 = time.perf_counter()
        try:
            raw = " ".join(s.text for s in transcribe(wav, language, config.model_copy(update={"native_script": False})))
        finally:
            logger.removeHandler(retries)
            logger.setLevel(level)
        seconds = time.perf_counter() - t0
        rows.append({
            "clip": wav.name, "seconds": seconds, "raw": raw, "retries": retries.counts,
            "normalised": normalize_script(raw, language),
            "cer_raw": cer(ref, raw),
            "cer_table_only": cer(ref, urdu_to_devanagari(raw)),
            "cer_normalised": cer(ref, normalize_script(raw, language)),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--language", default="hi")
    parser.add_argument("--glob", default="*.wav")
    parser.add_argument("--beam-size", type=int, default=AsrConfig().beam_size)
    parser.add_argument("--no-restrict-script", action="store_true")
    parser.add_argument("--temperatures", type=float, nargs="+", default=None)
    parser.add_argument("--no-repeat-ngram-size", type=int, default=AsrConfig().no_repeat_ngram_size)
    parser.add_argument("--best-of", type=int, default=AsrConfig().best_of)
    args = parser.parse_args()
    config = AsrConfig(beam_size=args.beam_size, restrict_script=not args.no_restrict_script,
                       no_repeat_ngram_size=args.no_repeat_ngram_size, best_of=args.best_of)
    if args.temperatures:
        config.temperatures = tuple(args.temperatures)
    rows = evaluate(args.folder, args.language, args.glob, config)
    for r in rows:
        print(f"{r['clip']}: {r['seconds']:.1f}s  raw {r['cer_raw']:.3f}  table-only {r['cer_table_only']:.3f}"
              f"  apertium+table {r['cer_normalised']:.3f}  retries {r['retries']['compression']} (loop test), "
              f"{r['retries']['log_prob']} (confidence test)\n  {r['normalised']}")
    if rows:
        print(f"total seconds: {sum(r['seconds'] for r in rows):.1f}")
        print("retries: " + ", ".join(f"{sum(r['retries'][k] for r in rows)} ({k})" for k in ("compression", "log_prob")))
        for key in ("cer_raw", "cer_table_only", "cer_normalised"):
            print(f"mean {key}: {statistics.mean(r[key] for r in rows):.3f}")


if __name__ == "__main__":
    main()
