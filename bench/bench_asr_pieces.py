"""Long audio through ASR in one piece (the whole track, the default), in pieces of 60 s one at a
time (`AsrConfig.piece_s=60`) and side by side (and `piece_workers=0`: one per core): time, CPU,
accuracy and peak memory, each run in a process of its own.

    .venv/bin/python bench/bench_asr_pieces.py [--seconds 150] [--output bench/results/asr_pieces.md]

The speech is ../shared/testdata's five Hindi news clips (hi_noa_*), 0.5 s apart, repeated whole
as often as fits the length (as bench_pipeline builds its inputs' sound), so the reference is the
clips' transcripts repeated and the character error rate (CER) can be scored on the whole track.
Needs the test data.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_pipeline import DATA, HINDI_SPEECH, _cpu_model, publish  # noqa: E402 - the clips its inputs speak
from models.asr.transcribe import AsrConfig  # noqa: E402

SPEECH = DATA / "speech"
PIECE_S = 60.0
RATE = 16_000

# One transcription, in a child process so that its peak RSS is its own.
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from models.asr.metrics import cer
from models.asr.transcribe import AsrConfig, transcribe
wav, piece_s, workers = Path(sys.argv[2]), float(sys.argv[3]) or None, int(sys.argv[4])
start, cpu = time.perf_counter(), time.process_time()
segments = transcribe(wav, "hi", AsrConfig(piece_s=piece_s, piece_workers=workers))
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
text = " ".join(s.text for s in segments)
print(json.dumps({"seconds": seconds, "cpu_s": cpu, "segments": len(segments),
                  "cer": cer(wav.with_suffix(".txt").read_text(encoding="utf-8"), text),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build_speech(seconds: float, folder: Path) -> tuple[Path, float, int]:
    """The clips repeated whole to about ``seconds``: a 16-kHz WAV and its reference beside it."""
    import numpy as np
    import soundfile as sf

    from lipsync_sts import media

    sentences = [media.read_audio(SPEECH / f"{name}.wav", RATE) for name in HINDI_SPEECH]
    sentences = [s.mean(axis=1) if s.ndim == 2 else s for s in sentences]
    gap = np.zeros(RATE // 2, np.float32)
    loop = np.concatenate([part for s in sentences for part in (gap, s)])
    repeats = max(1, round(seconds * RATE / loop.size))
    audio = np.concatenate([np.tile(loop, repeats), gap])
    wav = folder / "speech.wav"
    sf.write(wav, audio, RATE)
    references = [(SPEECH / f"{name}.txt").read_text(encoding="utf-8").strip() for name in HINDI_SPEECH]
    wav.with_suffix(".txt").write_text(" ".join(references * repeats), encoding="utf-8")
    return wav, audio.size / RATE, repeats


def run(wav: Path, piece_s: float, workers: int = 1) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(wav), str(piece_s), str(workers)],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=150.0, help="length of the speech (default 150)")
    parser.add_argument("--output", type=Path, help="also write the report (markdown) here")
    args = parser.parse_args()
    if not all((SPEECH / f"{name}.wav").is_file() for name in HINDI_SPEECH):
        sys.exit(f"bench_asr_pieces needs the Hindi news clips of the test data in {SPEECH}")
    with tempfile.TemporaryDirectory() as tmp:
        wav, duration, repeats = build_speech(args.seconds, Path(tmp))
        results = {"one piece (the whole track)": run(wav, 0.0),
                   f"pieces of ≤ {PIECE_S:g} s, one at a time": run(wav, PIECE_S, 1),
                   f"pieces of ≤ {PIECE_S:g} s, side by side (piece_workers=0)": run(wav, PIECE_S, 0)}
    lines = [f"# bench_asr_pieces: {_dt.datetime.now().isoformat(timespec='seconds')}", "",
             f"- CPU: {_cpu_model()}, {len(os.sched_getaffinity(0))} usable cores",
             f"- speech: the five Hindi news clips 0.5 s apart, {repeats} times: {duration:.1f} s; whisper-base "
             f"int8 (the embedded model), beam {AsrConfig().beam_size}; each run in its own process", "",
             "| ASR | seconds | × real time | against one piece | CPU s | segments | CER | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|"]
    whole = results["one piece (the whole track)"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['seconds']:.1f} | {duration / r['seconds']:.2f} | "
                     f"{whole['seconds'] / r['seconds']:.2f}× | {r['cpu_s']:.1f} | {r['segments']} | {r['cer']:.3f} | "
                     f"{r['peak_mb']:.0f} |")
    publish(lines, args.output)


if __name__ == "__main__":
    main()
