"""Validate the landmark sync score on the shared real clips (issue 4, DESIGN.md §4).

    .venv/bin/python bench/bench_sync_score.py [--clips v01 v08 ...] [--cache DIR]

Per clip of ../shared/testdata/video, with its face track (tracked once, cached in --cache by the
video's sha256):
- own audio (the lossless *.orig_audio.wav where one exists, else the file's own track);
- other speech: every Indian-language recording of testdata/speech and every other clip's audio,
  looped or cut to the clip's length → the own-vs-other ROC AUC of `sync`;
- own audio delayed by 5 and 10 frames (silence prepended): is `offset` recovered within ±1
  frame, relative to the clip's own offset (some clips are not in sync to begin with) and
  absolutely?

The MANIFEST flags v04/v06 (no lip-audio correspondence at lag 0, peaks at +11/+12 frames) and
v08/v11 (audio ~150 ms late) as not in sync at lag 0: their own audio is not a positive for a
score that asks "in sync at lag 0?". The AUC is printed over all clips and without those four.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lipsync_sts import media  # noqa: E402
from lipsync_sts.evaluation.sync_score import SyncScoreConfig, score_sync  # noqa: E402
from lipsync_sts.store import sha256_file  # noqa: E402
from models.face import FaceTrack, FaceTrackConfig, track_faces  # noqa: E402

DATA = REPO.parent / "shared" / "testdata"
RATE = 16_000
NOT_IN_SYNC = {"v04", "v06", "v08", "v11"}  # per ../shared/testdata/MANIFEST.md


def auc(positives: list[float], negatives: list[float]) -> float:
    """ROC AUC as the Mann-Whitney probability that a positive outscores a negative (ties ½)."""
    p, q = np.asarray(positives)[:, None], np.asarray(negatives)[None, :]
    return float(np.mean((p > q) + 0.5 * (p == q)))


def face_track(path: Path, cache: Path) -> FaceTrack:
    cached = cache / f"{sha256_file(path)}.npz"
    if cached.exists():
        return FaceTrack.load(cached)
    info = media.probe(path)
    track = track_faces(media.iter_frames(path), info.fps, FaceTrackConfig(), rotation=info.rotation)
    cache.mkdir(parents=True, exist_ok=True)
    track.save(cached)
    return track


def own_audio(path: Path) -> np.ndarray:
    lossless = path.with_suffix(".orig_audio.wav")
    return media.read_audio(lossless if lossless.exists() else path, RATE)


def fitted(audio: np.ndarray, n: int) -> np.ndarray:
    return np.tile(audio, int(np.ceil(n / len(audio))))[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="*", help="clip name prefixes (default: all)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "lipsync-sts" / "bench-tracks")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"no test data at {DATA}")
    config = SyncScoreConfig()
    clips = [p for p in sorted((DATA / "video").glob("*.mp4"))
             if not args.clips or any(p.name.startswith(c) for c in args.clips)]
    speech = [media.read_audio(p, RATE) for p in sorted((DATA / "speech").iterdir()) if p.suffix in (".wav", ".mp3")]
    audios = {p.stem[:3]: own_audio(p) for p in clips}
    t0 = time.perf_counter()
    rows, pos, neg, pos_in, neg_in, peak_pos, peak_neg = [], [], [], [], [], [], []
    recovered_rel, recovered_abs = [], []
    for path in clips:
        name = path.stem[:3]
        track = face_track(path, args.cache)
        opening, motion, fps = track.mouth_opening(), track.lip_height(), track.fps
        own = score_sync(opening, audios[name], RATE, fps, config, motion)
        shifted = {}
        for d in (5, 10):
            delayed = np.concatenate([np.zeros(int(round(d * RATE / fps)), np.float32), audios[name]])
            shifted[d] = score_sync(opening, delayed, RATE, fps, config, motion).offset
            recovered_rel.append(abs(shifted[d] - own.offset - d) <= 1)
            recovered_abs.append(abs(shifted[d] - d) <= 1)
        others = speech + [a for k, a in audios.items() if k != name]
        n_samples = int(np.ceil(len(opening) / fps * RATE))
        other = [score_sync(opening, fitted(a, n_samples), RATE, fps, config, motion) for a in others]
        pos.append(own.sync)
        neg.extend(o.sync for o in other)
        peak_pos.append(own.peak)
        peak_neg.extend(o.peak for o in other)
        if name not in NOT_IN_SYNC:
            pos_in.append(own.sync)
            neg_in.extend(o.sync for o in other)
        rel = " ".join(("ok" if abs(shifted[d] - own.offset - d) <= 1 else "MISS") for d in (5, 10))
        rows.append(f"| {path.stem[:30]} | {len(opening)} | {fps:.0f} | {own.sync:+.3f} | {own.offset:+d} | "
                    f"{own.confidence:.3f} | {np.median([o.sync for o in other]):+.3f} | "
                    f"{max(o.sync for o in other):+.3f} | {shifted[5]:+d} | {shifted[10]:+d} | {rel} |"
                    f"{' *' if name in NOT_IN_SYNC else ''}")
    print("| clip | frames | fps | sync own | offset own | confidence | sync other (median) | sync other (max) "
          "| offset +5 | offset +10 | recovered +5 +10 (rel.) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\n* flagged not in sync at lag 0 by MANIFEST.md. {len(speech)} speech recordings + other clips' audio "
          f"as negatives ({len(neg)} pairs).")
    print(f"own-vs-other ROC AUC of sync: all clips {auc(pos, neg):.3f}; "
          f"without the 4 flagged clips {auc(pos_in, neg_in):.3f} ({len(pos_in)} clips)")
    print(f"own-vs-other ROC AUC of peak (any lag): all clips {auc(peak_pos, peak_neg):.3f}")
    print(f"offset recovered within ±1 frame (+5 and +10 pooled): relative to own offset "
          f"{np.mean(recovered_rel):.0%} ({sum(recovered_rel)}/{len(recovered_rel)}), "
          f"absolute {np.mean(recovered_abs):.0%} ({sum(recovered_abs)}/{len(recovered_abs)})")
    print(f"config: {config.model_dump()}; {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
