"""Wav2Lip generator throughput on CPU: the public inference path against ours, same weights.

public: a faithful re-implementation of the public ``inference.py`` loop with face detection
skipped (as with its --box option): every frame held in memory, crops resized with cv2 defaults,
batches of 128 built in float64 numpy, fp32 eager model with separate batch-norm, the 96×96
output pasted back as a rectangle.
ours: models.lipsync.wav2lip_backend.Wav2LipRenderer (streamed chunks, BN folded, channels-last,
inference mode, feathered blend).

Both see the same random-weight generator, the same frames (skimage's astronaut, 512×512) and the
same audio. Run on a quiet machine: other jobs slow torch 2-5× (DESIGN.md §4); the ratio, taken
within one run, is the number to read.

    .venv/bin/python bench/bench_wav2lip.py --frames 128 --repeats 3
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import cv2
import numpy as np
import torch

from models.face import FaceTrackConfig, track_faces
from models.lipsync.wav2lip_backend import Wav2LipConfig, Wav2LipRenderer, crop_boxes
from models.wav2lip import Wav2Lip
from models.wav2lip import audio as w2l_audio


def public_inference(model: Wav2Lip, frames: list[np.ndarray], boxes: np.ndarray, mel: np.ndarray,
                     fps: float, batch_size: int = 128) -> list[np.ndarray]:
    # mel chunks exactly as the public script cuts them
    chunks, i = [], 0
    while True:
        start = int(i * 80.0 / fps)
        if start + 16 > mel.shape[1]:
            chunks.append(mel[:, mel.shape[1] - 16:])
            break
        chunks.append(mel[:, start:start + 16])
        i += 1
    frames = frames[:len(chunks)]
    faces = [(f[y0:y1, x0:x1], (y0, y1, x0, x1)) for f, (x0, y0, x1, y1) in zip(frames, boxes)]
    out = []

    def datagen():
        img_b, mel_b, frame_b, coords_b = [], [], [], []
        for k, m in enumerate(chunks):
            idx = k % len(frames)
            face, coords = faces[idx]
            img_b.append(cv2.resize(face, (96, 96)))
            mel_b.append(m)
            frame_b.append(frames[idx].copy())
            coords_b.append(coords)
            if len(img_b) >= batch_size:
                yield _batch(img_b, mel_b), frame_b, coords_b
                img_b, mel_b, frame_b, coords_b = [], [], [], []
        if img_b:
            yield _batch(img_b, mel_b), frame_b, coords_b

    def _batch(img_b, mel_b):
        img_b, mel_b = np.asarray(img_b), np.asarray(mel_b)
        masked = img_b.copy()
        masked[:, 96 // 2:] = 0
        img_b = np.concatenate((masked, img_b), axis=3) / 255.0
        return img_b, np.reshape(mel_b, [len(mel_b), mel_b.shape[1], mel_b.shape[2], 1])

    for (img_b, mel_b), frame_b, coords_b in datagen():
        img_t = torch.FloatTensor(np.transpose(img_b, (0, 3, 1, 2)))
        mel_t = torch.FloatTensor(np.transpose(mel_b, (0, 3, 1, 2)))
        with torch.no_grad():
            pred = model(mel_t, img_t)
        pred = pred.cpu().numpy().transpose(0, 2, 3, 1) * 255.0
        for p, f, (y0, y1, x0, x1) in zip(pred, frame_b, coords_b):
            f[y0:y1, x0:x1] = cv2.resize(p.astype(np.uint8), (x1 - x0, y1 - y0))
            out.append(f)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16, help="our chunk size")
    args = parser.parse_args()
    from skimage import data

    torch.manual_seed(0)
    model = Wav2Lip().eval()
    img, fps, n = data.astronaut(), 25.0, args.frames
    one = track_faces([img] * 3, fps, FaceTrackConfig())
    track = dataclasses.replace(one, present=np.ones(n, bool), boxes=np.repeat(one.boxes[-1:], n, 0),
                                landmarks=np.repeat(one.landmarks[-1:], n, 0), confidence=np.ones(n, np.float32),
                                cuts=np.zeros(n, bool))
    t = np.arange(int((n + 4) / fps * 16000)) / 16000
    dub = (0.3 * np.sin(2 * np.pi * 200 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    mel = w2l_audio.melspectrogram(dub)
    boxes = crop_boxes(track, Wav2LipConfig().pad)
    frames = [img.copy() for _ in range(n)]

    times = {"public": [], "ours": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        public_inference(model, frames, boxes, mel, fps)
        times["public"].append(time.perf_counter() - start)
        renderer = Wav2LipRenderer(model, track, dub, 16000, Wav2LipConfig(batch_size=args.batch, device="cpu"))
        start = time.perf_counter()
        count = sum(1 for _ in renderer.process(iter(frames)))
        times["ours"].append(time.perf_counter() - start)
        assert count == n

    fps_of = {k: n / statistics.median(v) for k, v in times.items()}
    print(f"Wav2Lip generator + crop/paste, {n} frames of 512×512, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    print(f"{'path':<40} {'frames/s':>9} {'s/run':>7}")
    print(f"{'public inference.py loop (batch 128)':<40} {fps_of['public']:>9.1f} {statistics.median(times['public']):>7.2f}")
    print(f"{f'ours (streamed, batch {args.batch}, BN folded, NHWC)':<40} {fps_of['ours']:>9.1f} "
          f"{statistics.median(times['ours']):>7.2f}")
    print(f"ratio ours/public: {fps_of['ours'] / fps_of['public']:.2f}×")


if __name__ == "__main__":
    main()
