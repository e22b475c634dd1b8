"""The pitch tracker (models/tts/pitch.py) against librosa.pyin, whose track it reproduces: the
same 30 s of speech through both, rounds interleaved, with a check that the tracks are equal.

    .venv/bin/python bench/bench_pitch.py [--rounds 5]

The speech is ../shared/testdata's Hindi news clips (hi_noa_*) joined, at the 16 kHz and the
frame and hop that voice matching and fit_timing use (models/tts/voice.py); without the test
data, a synthetic gliding voice.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.tts import pitch, voice  # noqa: E402

SPEECH = ROOT.parent / "shared" / "testdata" / "speech"
SECONDS = 30


def speech() -> tuple[np.ndarray, str]:
    from lipsync_sts import media

    rate = voice._RATE
    files = sorted(SPEECH.glob("hi_noa_*.wav"))
    if not files:
        t = np.arange(SECONDS * rate) / rate
        phase = 2 * np.pi * np.cumsum(110 * 2 ** (t / SECONDS)) / rate
        return sum(np.sin(k * phase) / k for k in range(1, 8)).astype(np.float32), "a synthetic gliding voice"
    y = np.concatenate([media.read_audio(path, rate) for path in files])
    return y[: SECONDS * rate], f"{len(files)} Hindi news clips (hi_noa_*) joined"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import librosa

    y, what = speech()
    kw = dict(fmin=voice._FMIN, fmax=voice._FMAX, sr=voice._RATE, frame_length=voice._FRAME, hop_length=voice._HOP)
    trackers = {"librosa.pyin": lambda: librosa.pyin(y, **kw)[:2], "models.tts.pitch.pyin": lambda: pitch.pyin(y, **kw)}
    for run in trackers.values():  # compile (or load) the numba code outside the timing
        run()
    seconds: dict[str, list[float]] = {name: [] for name in trackers}
    tracks = {}
    for _ in range(args.rounds):
        for name, run in trackers.items():
            start = time.perf_counter()
            tracks[name] = run()
            seconds[name].append(time.perf_counter() - start)
    (ref_f0, ref_voiced), (f0, voiced) = tracks.values()
    same = np.array_equal(voiced, ref_voiced) and np.array_equal(f0[voiced], ref_f0[ref_voiced])
    base = statistics.median(seconds["librosa.pyin"])
    print(f"{len(y) / voice._RATE:.0f} s of {what}, {voice._RATE} Hz; {args.rounds} interleaved rounds; "
          f"the same track (voicing and every voiced F0): {same}\n")
    print("| tracker | seconds (median) | each round | × librosa's speed |\n|---|---|---|---|")
    for name, values in seconds.items():
        each = ", ".join(f"{v:.2f}" for v in values)
        print(f"| {name} | {statistics.median(values):.2f} | {each} | {base / statistics.median(values):.1f} |")
    if not same:
        sys.exit("the tracks differ")


if __name__ == "__main__":
    main()
