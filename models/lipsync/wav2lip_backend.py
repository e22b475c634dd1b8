"""Wav2Lip inference: our face track in, frames with a generated lower face out, streamed.

Differences from the public ``inference.py`` (each fixes a known complaint):
- the crop box comes from the (smoothed) face-mesh track, not S3FD per frame: no detector pass
  and no jitter; frames without a face pass through untouched instead of aborting the run;
- frames are consumed and yielded in chunks of ``batch_size``: memory is one chunk, whatever the
  video's length (the public script holds every frame, 2.3 GB for 6 s of 1080p);
- only the lower face is replaced, through a feathered mask following the jaw line, instead of
  pasting the whole 96×96 crop back as a hard rectangle;
- in the dub's silences the generator gets the mel of digital silence, so the mouth closes
  rather than echoing the source speech or the noise floor;
- CPU: batch-norm folded into the convolutions, channels-last, inference mode; CUDA: fp16.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import cv2
import numpy as np
import torch

from lipsync_sts.timing import speech_envelope
from models.face import FaceTrack
from models.face import landmarks as lm
from models.wav2lip import audio as w2l_audio
from models.wav2lip.model import Wav2Lip, fold_batchnorm

from .wav2lip_config import Wav2LipConfig

IMG = 96  # the generator's face size


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "cuda" or (requested == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def prepare_generator(model: Wav2Lip, device: torch.device) -> tuple[torch.nn.Module, torch.dtype]:
    """The generator ready for inference on ``device``: BN folded, channels-last, fp16 on CUDA."""
    model = fold_batchnorm(model.eval())
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    return model.to(device=device, dtype=dtype, memory_format=torch.channels_last), dtype


def silent_frames(envelope: np.ndarray, level: float, min_frames: int) -> np.ndarray:
    """(N,) bool: frames inside runs of at least ``min_frames`` frames whose envelope is < level."""
    quiet = np.asarray(envelope) < level
    out = np.zeros_like(quiet)
    i, n = 0, len(quiet)
    while i < n:
        if quiet[i]:
            j = i
            while j < n and quiet[j]:
                j += 1
            if j - i >= max(1, min_frames):
                out[i:j] = True
            i = j
        else:
            i += 1
    return out


def crop_boxes(track: FaceTrack, pad: tuple[float, float, float, float]) -> np.ndarray:
    """(N, 4) int x0, y0, x1, y1 of each frame's face crop, clipped to the frame; -1 where absent."""
    w, h = track.size
    x0, y0, x1, y1 = (track.boxes[:, k] for k in range(4))
    bw, bh = x1 - x0, y1 - y0
    top, bottom, left, right = pad
    raw = np.stack([x0 - left * bw, y0 - top * bh, x1 + right * bw, y1 + bottom * bh], axis=1)
    with np.errstate(invalid="ignore"):
        out = np.stack([np.clip(np.floor(raw[:, 0]), 0, w), np.clip(np.floor(raw[:, 1]), 0, h),
                        np.clip(np.ceil(raw[:, 2]) + 1, 0, w), np.clip(np.ceil(raw[:, 3]) + 1, 0, h)], axis=1)
    ok = track.present & np.all(np.isfinite(out), axis=1)
    out = np.where(ok[:, None], np.nan_to_num(out), -1).astype(np.int64)
    small = (out[:, 2] - out[:, 0] < 8) | (out[:, 3] - out[:, 1] < 8)  # a sliver at the frame edge: skip
    out[small] = -1
    return out


def blend_mask(landmarks: np.ndarray, box: np.ndarray, feather: float, mask_top: float) -> np.ndarray:
    """(h, w, 1) float32 weight of the generated pixels in the crop: the face below ``mask_top``
    inside the jaw line (grown by the feather so an opened jaw is covered), soft-edged, and 0 on
    the crop's border so no rectangle edge can show."""
    x0, y0, x1, y1 = (int(v) for v in box)
    w, h = x1 - x0, y1 - y0
    soft = max(1.0, feather * w)
    hard = np.zeros((h, w), np.uint8)
    jaw = landmarks[list(lm.JAW_CONTOUR)] - np.array([x0, y0], np.float32)
    cv2.fillPoly(hard, [np.round(jaw).astype(np.int32)], 1)
    hard[: int(round(mask_top * h))] = 0
    k = int(2 * round(soft) + 1)
    hard = cv2.dilate(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    mask = cv2.GaussianBlur(hard.astype(np.float32), (0, 0), soft / 2)
    ramp_y = np.clip(np.minimum(np.arange(h), h - 1 - np.arange(h)) / soft, 0, 1)
    ramp_x = np.clip(np.minimum(np.arange(w), w - 1 - np.arange(w)) / soft, 0, 1)
    top = np.clip((np.arange(h) - (mask_top * h - soft)) / (2 * soft), 0, 1)  # fade in over the mask's top
    return (mask * (ramp_y * top)[:, None] * ramp_x[None, :])[..., None]


class Wav2LipRenderer:
    """Streams frames through the generator: ``for out in renderer.process(frames): ...``."""

    def __init__(self, model: Wav2Lip, track: FaceTrack, dub: np.ndarray, dub_rate: int,
                 config: Wav2LipConfig | None = None):
        """dub: mono float audio at ``dub_rate``, aligned with the video's first frame."""
        self.config = config or Wav2LipConfig()
        self.track = track
        self.device = pick_device(self.config.device)
        self.model, self.dtype = prepare_generator(model, self.device)
        wav = _resample(np.asarray(dub, np.float32), dub_rate, w2l_audio.SAMPLE_RATE)
        self.mel = w2l_audio.melspectrogram(wav)  # (80, T)
        envelope = speech_envelope(dub, dub_rate, track.fps, len(track))
        self.silent = silent_frames(envelope, self.config.silence_level,
                                    int(round(self.config.min_silence_s * track.fps)))
        self.boxes = crop_boxes(track, self.config.pad)
        self.max_buffered = 0  # most frames held at once (checked by the tests: memory stays flat)

    def windows(self, indices: np.ndarray) -> np.ndarray:
        """(n, 80, 16) mel windows for these frames; silence where the dub is silent."""
        mels = w2l_audio.mel_windows(self.mel, indices, self.track.fps)
        mels[self.silent[indices]] = w2l_audio.SILENCE
        return mels

    def process(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """(H, W, 3) uint8 RGB frames in display order → the same frames, lip-synced."""
        chunk: list[np.ndarray] = []
        start = 0
        for frame in frames:
            chunk.append(frame)
            self.max_buffered = max(self.max_buffered, len(chunk))
            if len(chunk) == self.config.batch_size:
                yield from self._render_chunk(start, chunk)
                start += len(chunk)
                chunk = []
        if chunk:
            yield from self._render_chunk(start, chunk)

    @torch.inference_mode()
    def _render_chunk(self, start: int, frames: list[np.ndarray]) -> list[np.ndarray]:
        indices = np.arange(start, start + len(frames))
        todo = [k for k, i in enumerate(indices) if i < len(self.track) and self.boxes[i, 0] >= 0]
        if not todo:
            return frames
        faces = np.empty((len(todo), IMG, IMG, 3), np.uint8)
        for n, k in enumerate(todo):
            x0, y0, x1, y1 = self.boxes[indices[k]]
            crop = frames[k][y0:y1, x0:x1, ::-1]  # RGB → BGR: the checkpoints were trained on cv2 images
            faces[n] = cv2.resize(crop, (IMG, IMG), interpolation=cv2.INTER_AREA)
        pred = self.generate(faces, self.windows(indices[todo]))  # (n, 96, 96, 3) uint8 BGR
        out = list(frames)
        for n, k in enumerate(todo):
            out[k] = self._paste(frames[k], pred[n], indices[k])
        return out

    def generate(self, faces_bgr: np.ndarray, mels: np.ndarray) -> np.ndarray:
        """(n, 96, 96, 3) uint8 BGR reference faces + (n, 80, 16) mels → (n, 96, 96, 3) uint8 BGR."""
        ref = torch.from_numpy(faces_bgr).to(self.device).permute(0, 3, 1, 2)  # (n, 3, 96, 96), a view
        masked = ref.clone()
        masked[:, :, IMG // 2:] = 0  # the lower half the generator must draw
        x = torch.cat([masked, ref], dim=1).to(self.dtype).div_(255.0)
        x = x.contiguous(memory_format=torch.channels_last)
        mel = torch.from_numpy(mels).to(self.device, self.dtype).unsqueeze(1)  # (n, 1, 80, 16)
        y = self.model(mel, x)  # (n, 3, 96, 96) in [0, 1]
        return y.mul(255.0).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

    def _paste(self, frame: np.ndarray, face_bgr: np.ndarray, index: int) -> np.ndarray:
        x0, y0, x1, y1 = self.boxes[index]
        w, h = x1 - x0, y1 - y0
        gen = cv2.resize(np.ascontiguousarray(face_bgr[:, :, ::-1]), (w, h), interpolation=cv2.INTER_CUBIC)
        mask = blend_mask(self.track.landmarks[index], self.boxes[index], self.config.feather, self.config.mask_top)
        out = frame.copy()  # never write into the caller's frame
        region = out[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = np.clip(region + mask * (gen.astype(np.float32) - region) + 0.5, 0, 255).astype(np.uint8)
        return out


def _resample(wav: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return wav
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(rate), int(target))
    return resample_poly(wav, target // g, rate // g).astype(np.float32)
