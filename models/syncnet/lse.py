"""LSE-D and LSE-C as published (syncnet_python's ``SyncNetInstance.evaluate``, used by Wav2Lip).

Video at 25 frames/s, audio at 16 kHz (4 MFCC frames per video frame). For every video frame i,
the lip feature of frames i..i+4 and the audio feature of MFCC frames 4i..4i+19; for every offset
s in -vshift..vshift the distance between lip feature i and audio feature i+s (a zero vector past
either end, as the public code pads); the mean over i per offset.
LSE-D = min over offsets of the mean distance; LSE-C = median - min; lower D and higher C are better.

Sign: ``offset`` > 0 here means the audio is late (the project's convention, as the landmark
score); syncnet_python prints the opposite sign (``vshift - argmin``).

Face crops follow the public run_pipeline.py: a square around the face box of half-size bs
(median-filtered over 13 frames), from bs above the box centre to bs·1.8 below it and bs·1.4 to
each side (crop_scale 0.4), padded with grey 110, resized to 224×224, BGR. The box here is the
extent of the face-mesh landmarks (S3FD's box in the original): a slightly different box gives
slightly different numbers than the published pipeline, so compare LSE values measured by one
pipeline only.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
import torch
from pydantic import BaseModel
from scipy.signal import medfilt

from .mfcc import SAMPLE_RATE, mfcc
from .model import SyncNet

FPS = 25.0
CROP = 224
CROP_SCALE = 0.4
PAD_VALUE = 110


class LseResult(BaseModel):
    lse_d: float
    lse_c: float
    offset: int  # frames at 25 fps; > 0: audio late
    mean_distance: list[float]  # per offset -vshift..vshift
    windows: int  # 5-frame windows compared


def resample_indices(n_frames: int, fps: float) -> np.ndarray:
    """Source frame for each frame of the 25 fps sequence (nearest in time, as ffmpeg -r 25 does)."""
    n_out = int(np.floor(n_frames * FPS / fps + 1e-6))
    return np.minimum(np.round(np.arange(n_out) * fps / FPS).astype(np.int64), n_frames - 1)


def crop_boxes(boxes: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(N, 3) centre x, centre y, half-size bs per frame, median-filtered like run_pipeline.py;
    frames without a face take the nearest tracked box."""
    idx = np.flatnonzero(present)
    if len(idx) == 0:
        raise ValueError("no face in any frame")
    n = len(boxes)
    fill = idx[np.clip(np.searchsorted(idx, np.arange(n)), 0, len(idx) - 1)]
    b = boxes[fill].astype(np.float64)
    dets = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2,
                     np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) / 2], axis=1)
    kernel = min(13, n if n % 2 else n - 1)
    return np.stack([medfilt(dets[:, k], kernel) for k in range(3)], axis=1) if kernel >= 3 else dets


def face_crop(frame_rgb: np.ndarray, cx: float, cy: float, bs: float) -> np.ndarray:
    """(224, 224, 3) uint8 BGR crop of one frame, the public pipeline's geometry."""
    bsi = int(bs * (1 + 2 * CROP_SCALE))
    padded = cv2.copyMakeBorder(frame_rgb[..., ::-1], bsi, bsi, bsi, bsi, cv2.BORDER_CONSTANT,
                                value=(PAD_VALUE,) * 3)
    my, mx = cy + bsi, cx + bsi
    face = padded[int(my - bs):int(my + bs * (1 + 2 * CROP_SCALE)),
                  int(mx - bs * (1 + CROP_SCALE)):int(mx + bs * (1 + CROP_SCALE))]
    return cv2.resize(face, (CROP, CROP))


def video_crops(frames: Iterable[np.ndarray], boxes: np.ndarray, present: np.ndarray, fps: float) -> np.ndarray:
    """(M, 224, 224, 3) uint8 BGR crops at 25 frames/s from a stream of RGB frames."""
    dets = crop_boxes(boxes, present)
    wanted = resample_indices(len(boxes), fps)
    uses = np.bincount(wanted, minlength=len(boxes))
    crops = []
    for i, frame in enumerate(frames):
        if i >= len(boxes):
            break
        if uses[i]:
            crop = face_crop(frame, *dets[i])
            crops.extend([crop] * int(uses[i]))
    return np.stack(crops) if crops else np.zeros((0, CROP, CROP, 3), np.uint8)


@torch.no_grad()
def features(model: SyncNet, crops: np.ndarray, cepstra: np.ndarray, batch: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Lip features (W, D) of crops (M, 224, 224, 3) BGR and audio features (W, D) of MFCCs (T, 13),
    W = min(M, T // 4) - 5 windows, as the public evaluate()."""
    n = min(len(crops), len(cepstra) // 4) - 5
    if n <= 0:
        raise ValueError(f"too short for SyncNet: {len(crops)} frames, {len(cepstra)} MFCC frames (needs 6+ frames)")
    video = torch.from_numpy(crops).float().permute(3, 0, 1, 2)  # (3, M, 224, 224)
    audio = torch.from_numpy(np.ascontiguousarray(cepstra.T)).float()  # (13, T)
    lips, auds = [], []
    for start in range(0, n, batch):
        idx = range(start, min(n, start + batch))
        lips.append(model.forward_lip(torch.stack([video[:, i:i + 5] for i in idx])))  # (B, 3, 5, 224, 224)
        auds.append(model.forward_aud(torch.stack([audio[None, :, 4 * i:4 * i + 20] for i in idx])))  # (B, 1, 13, 20)
    return torch.cat(lips), torch.cat(auds)


def offset_distances(lip: torch.Tensor, aud: torch.Tensor, vshift: int = 15) -> torch.Tensor:
    """(W, 2·vshift+1) distance of lip feature i to audio feature i+s, s = -vshift..vshift
    (``calc_pdist`` of the public code: a zero audio feature past either end)."""
    padded = torch.nn.functional.pad(aud, (0, 0, vshift, vshift))
    win = 2 * vshift + 1
    return torch.stack([torch.nn.functional.pairwise_distance(lip[[i]].repeat(win, 1), padded[i:i + win])
                        for i in range(len(lip))])


def lse(distances: torch.Tensor, vshift: int = 15) -> LseResult:
    """LSE-D (min of the mean distance over offsets), LSE-C (median - min) and the best offset."""
    mean = distances.mean(dim=0)
    best = int(torch.argmin(mean))
    return LseResult(lse_d=float(mean[best]), lse_c=float(torch.median(mean) - mean[best]),
                     offset=best - vshift, mean_distance=[round(float(d), 4) for d in mean], windows=len(distances))


def score_lse(model: SyncNet, crops: np.ndarray, audio: np.ndarray, sample_rate: int = SAMPLE_RATE,
              vshift: int = 15) -> LseResult:
    """LSE of 25 fps crops (M, 224, 224, 3) BGR against mono ``audio`` at 16 kHz."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"SyncNet needs 16 kHz audio, got {sample_rate} Hz")
    lip, aud = features(model, crops, mfcc(audio, sample_rate))
    return lse(offset_distances(lip, aud, vshift), vshift)
