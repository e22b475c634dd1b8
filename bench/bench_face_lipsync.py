"""Speed of face tracking and of the embedded lip-sync renderer, frames per second on this machine.

    .venv/bin/python bench/bench_face_lipsync.py [--size 512] [--frames 150] [--strip docs/embedded_v1_strip.png]

Frames: the first N frames of the shared Obama clip (256×256, real talking face) resized to
size×size, decoded up front so decoding is not timed; and the scikit-image astronaut photo (a
smaller face in a 512×512 frame). The renderer's target opens and closes the mouth (a 0..1 sine),
so every frame is warped. Medians of 3 runs.

--strip writes a picture of the renderer on the astronaut: input | target 1 (open) | target 0
(closed), full frames above and the lower face enlarged 3× below.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.face import FaceTrackConfig, track_faces  # noqa: E402
from models.lipsync import EmbeddedLipSync  # noqa: E402

CLIP = REPO.parent / "shared" / "testdata" / "video" / "v08_styletalk_Obama_clip1.mp4"


def _frames(size: int, n: int) -> list[np.ndarray]:
    with av.open(str(CLIP)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in itertools.islice(c.decode(video=0), n)]
    return [cv2.resize(f, (size, size), interpolation=cv2.INTER_CUBIC) for f in frames]


def _bench(name: str, frames: list[np.ndarray], fps: float, runs: int = 3) -> None:
    track_times, render_times = [], []
    target = (0.5 - 0.5 * np.cos(np.arange(len(frames)) * 2 * np.pi / 12)).astype(np.float32)
    for _ in range(runs):
        t0 = time.perf_counter()
        track = track_faces(iter(frames), fps, FaceTrackConfig())
        track_times.append(time.perf_counter() - t0)
        renderer = EmbeddedLipSync(track, target)
        t0 = time.perf_counter()
        for i, f in enumerate(frames):
            renderer.render(i, f)
        render_times.append(time.perf_counter() - t0)
    n = len(frames)
    print(
        f"{name}: {n} frames {frames[0].shape[1]}x{frames[0].shape[0]}, face present {track.present.mean():.0%}: "
        f"track_faces {n / statistics.median(track_times):.1f} frames/s, "
        f"render {n / statistics.median(render_times):.1f} frames/s"
    )


def write_strip(path: Path) -> None:
    from skimage import data

    image = data.astronaut()
    track = track_faces([image] * 3, 25.0, FaceTrackConfig())
    tiles = [image] + [EmbeddedLipSync(track, np.full(3, t, np.float32)).render(2, image) for t in (1.0, 0.0)]
    x0, y0, x1, y1 = track.boxes[2]
    cx, top = int((x0 + x1) / 2), int(y0 + 0.45 * (y1 - y0))
    half = int(0.42 * (y1 - y0))
    zoom = [
        cv2.resize(t[top : top + 2 * half, cx - half : cx + half], (384, 384), interpolation=cv2.INTER_CUBIC)
        for t in tiles
    ]
    small = [cv2.resize(t, (384, 384), interpolation=cv2.INTER_AREA) for t in tiles] + zoom
    strip = np.vstack([np.hstack(small[:3]), np.hstack(small[3:])])  # about 1 MB as PNG
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    print(f"wrote {path}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--strip", type=Path, help="also write the astronaut picture here (PNG)")
    args = p.parse_args()
    if args.strip:
        write_strip(args.strip)
    if CLIP.exists():
        _bench(f"Obama clip resized (face ~{int(150 * args.size / 256)} px)", _frames(args.size, args.frames), 30.0)
    from skimage import data

    _bench("astronaut still (face ~90 px)", [data.astronaut()] * args.frames, 25.0)


if __name__ == "__main__":
    main()
