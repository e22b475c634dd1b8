"""Face tracking on the shared real clips: coverage, jitter, lag, speed, and the speaker choice.

    .venv/bin/python bench/bench_face_track.py [--clips v01 v08 ...] [--speed-frames 90]

Per clip (testdata/video): the face found in % of frames; jitter (lib metrics.mouth_jitter: mean
absolute second difference of the lip landmarks over the face width) of the raw detector and of
the smoothed track; the correlation of raw and smoothed mouth opening (smoothing must not flatten
speech); frames/s of track_faces on the clip resized to 720p (frames decoded and resized up
front, so only tracking is timed) and the same including PyAV decoding of the original file.

Then: fast motion (a real frame panned by up to 40% of the face width at 2.5 Hz, a fast head
shake): lag in frames of the smoothed track behind the true motion and its mean error; and the
speaker choice: two real clips side by side with the audio of one, each way round.
On 2 shared cores; timings vary with the load of other jobs.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lipsync_sts import media, timing  # noqa: E402
from models.face import FaceTrackConfig, track_faces  # noqa: E402
from models.face.metrics import mouth_jitter  # noqa: E402
from models.face.smoothing import smooth_runs  # noqa: E402
from models.face.speaker import opening  # noqa: E402

VIDEOS = REPO.parent / "shared" / "testdata" / "video"


def clip_row(path: Path, speed_frames: int) -> str:
    info = media.probe(path)
    cfg = FaceTrackConfig()
    t0 = time.perf_counter()
    raw = track_faces(media.iter_frames(path), info.fps, cfg.model_copy(update={"smooth": False}), rotation=info.rotation)
    with_decode = len(raw) / (time.perf_counter() - t0)
    # The smoothed track is the raw one through the stage's own smoothing (same as smooth=True).
    smooth = smooth_runs(raw.landmarks, raw.present, raw.fps, cfg.min_cutoff_hz, cfg.beta, cfg.d_cutoff_hz, cuts=raw.cuts)
    j_raw = mouth_jitter(raw.landmarks, raw.present, raw.cuts)
    j_smooth = mouth_jitter(smooth, raw.present, raw.cuts)
    ok = raw.present
    corr = np.corrcoef(opening(raw.landmarks[ok]), opening(smooth[ok]))[0, 1] if ok.sum() > 2 else np.nan

    size = (1280, 720) if info.width >= info.height else (720, 1280)
    frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA)
              for f in itertools.islice(media.iter_frames(path), speed_frames)]
    t0 = time.perf_counter()
    track_faces(iter(frames), info.fps, cfg)
    fps720 = len(frames) / (time.perf_counter() - t0)
    return (f"| {path.stem[:34]} | {info.width}x{info.height} | {len(raw)} | {100 * raw.present.mean():.1f} | "
            f"{j_raw:.4f} | {j_smooth:.4f} | {j_smooth / j_raw:.2f} | {corr:.3f} | {fps720:.0f} | {with_decode:.0f} |")


def fast_motion_row() -> str:
    """A real frame moved along a known fast path: the track must follow it without lag."""
    frame = next(media.iter_frames(VIDEOS / "v08_styletalk_Obama_clip1.mp4"))
    frame = cv2.resize(frame, (512, 512), interpolation=cv2.INTER_CUBIC)
    fps, n = 30.0, 120
    face_w = 290.0  # about the face width at this size (measured below, printed)
    path = 0.4 * face_w * np.sin(2 * np.pi * 2.5 * np.arange(n) / fps)  # px; peak speed 6 face widths/s
    frames = [cv2.warpAffine(frame, np.float32([[1, 0, dx], [0, 1, 0]]), (512, 512), borderMode=cv2.BORDER_REFLECT)
              for dx in path]
    cfg = FaceTrackConfig()
    raw = track_faces(iter(frames), fps, cfg.model_copy(update={"smooth": False}))
    smooth = track_faces(iter(frames), fps, cfg)
    measured_w = float(np.nanmean(raw.boxes[:, 2] - raw.boxes[:, 0]))
    rows = []
    for name, t in (("raw", raw), ("smoothed", smooth)):
        x = np.nanmean(t.landmarks[:, :, 0], axis=1)
        x = x - np.nanmean(x - path)  # the track's x minus the face's x at rest
        lags = range(-4, 5)
        v, vt = np.diff(x), np.diff(path)
        lag = max(lags, key=lambda k: float(np.dot(np.roll(v, -k)[5:-5], vt[5:-5])))
        err = float(np.nanmean(np.abs(x - path))) / measured_w
        rows.append(f"{name}: lag {lag} frames, mean error {err:.3f} face widths")
    return f"fast motion (pan ±0.4 face widths at 2.5 Hz, face {measured_w:.0f} px): " + "; ".join(rows)


def side_by_side(left: Path, right: Path, n: int) -> list[np.ndarray]:
    frames = zip(itertools.islice(media.iter_frames(left), n), itertools.islice(media.iter_frames(right), n))
    return [np.hstack([a, cv2.resize(b, (a.shape[1], a.shape[0]))]) for a, b in frames]


PAIRS = (("v08_styletalk_Obama_clip1", "v11_styletalk_KristiNoem"),
         ("v10_styletalk_feifeili_clip1", "v08_styletalk_Obama_clip1"),
         ("v06_sadtalker_WDA_KatieHill_000", "v07_sadtalker_WDA_AlexandriaOcasioCortez_000"))


def speaker_rows(n: int = 300) -> list[str]:
    rows = []
    for left, right in PAIRS:
        a, b = VIDEOS / f"{left}.mp4", VIDEOS / f"{right}.mp4"
        fps = media.probe(a).fps
        frames = side_by_side(a, b, n)
        w = frames[0].shape[1]
        no_speech = track_faces(iter(frames), fps, FaceTrackConfig())
        for voice, expected in ((a, "left"), (b, "right")):
            audio = media.read_audio(voice, 16000)
            envelope = timing.speech_envelope(audio, 16000, fps, len(frames))
            track = track_faces(iter(frames), fps, FaceTrackConfig(), speech=envelope)
            side = "left" if np.nanmedian(track.boxes[:, [0, 2]].mean(axis=1)) < w / 2 else "right"
            by_speech = "follow the speech" in track.notes[0]
            verdict = ("ok" if by_speech else "ok, by the fallback") if side == expected else (
                "WRONG" if by_speech else "wrong, by the fallback")
            rows.append(f"| {a.stem[:14]} + {b.stem[:14]} ({len(frames)} frames), audio of {voice.stem[:14]} | "
                        f"{expected} | {side} | {verdict} | {track.notes[0].split(': ', 1)[1]} |")
        rows.append(f"| same, no speech given | | | | {no_speech.notes[0].split(': ', 1)[1]} |")
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", nargs="*", help="name prefixes of clips in testdata/video (default: all)")
    p.add_argument("--speed-frames", type=int, default=90)
    args = p.parse_args()
    if not VIDEOS.is_dir():
        sys.exit(f"no real clips at {VIDEOS}")
    clips = sorted(VIDEOS.glob("*.mp4"))
    if args.clips:
        clips = [c for c in clips if any(c.name.startswith(x) for x in args.clips)]
    print("| clip | size | frames | face found % | jitter raw | jitter smoothed | ratio | mouth corr | "
          "frames/s at 720p | frames/s incl. decode (orig. size) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for clip in clips:
        print(clip_row(clip, args.speed_frames), flush=True)
    print()
    print(fast_motion_row())
    print()
    print("| composition | speaker side | chosen | verdict | reason |")
    print("|---|---|---|---|---|")
    for row in speaker_rows():
        print(row, flush=True)


if __name__ == "__main__":
    main()
