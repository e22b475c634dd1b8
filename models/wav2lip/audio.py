"""The mel front-end of the public Wav2Lip (its ``audio.py`` with its ``hparams.py``), in torch.

The checkpoints were trained on exactly this input, so every constant matters: 16 kHz,
pre-emphasis 0.97, a centred STFT (n_fft = win = 800, hop 200: 80 mel frames per second, reflect
padding as librosa 0.7 did), 80 Slaney mels over 55-7600 Hz, dB with a -100 dB floor minus a
20 dB reference, mapped linearly onto [-4, 4] and clipped. Computed in float64: the output is
compared against the public numpy code to 1e-4.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

SAMPLE_RATE = 16000
N_FFT = 800
HOP = 200
WIN = 800
N_MELS = 80
FMIN, FMAX = 55.0, 7600.0
PREEMPHASIS = 0.97
REF_LEVEL_DB = 20.0
MIN_LEVEL_DB = -100.0
MAX_ABS = 4.0
MEL_FRAMES_PER_SECOND = SAMPLE_RATE / HOP  # 80
MEL_STEP = 16  # mel frames per window: 0.2 s, centred-ish on 5 video frames at 25 fps
SILENCE = -MAX_ABS  # the value of a mel bin in digital silence


@lru_cache(maxsize=1)
def mel_basis() -> torch.Tensor:
    import librosa  # only for the filterbank: librosa's Slaney mels are the definition

    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX)
    return torch.from_numpy(basis.astype(np.float64))  # (80, 401)


def melspectrogram(wav: np.ndarray | torch.Tensor) -> np.ndarray:
    """(n_samples,) mono audio at 16 kHz → (80, 1 + n_samples // 200) float32 in [-4, 4]."""
    x = torch.as_tensor(np.asarray(wav, dtype=np.float64)).reshape(-1)
    if len(x) == 0:
        return np.full((N_MELS, 1), SILENCE, np.float32)
    x = torch.cat([x[:1], x[1:] - PREEMPHASIS * x[:-1]])  # lfilter([1, -k], [1], x) with zero history
    if len(x) <= N_FFT // 2:  # reflect padding needs more samples than the pad
        x = torch.nn.functional.pad(x, (0, N_FFT // 2 + 1 - len(x)))
    spec = torch.stft(x, N_FFT, HOP, WIN, window=torch.hann_window(WIN, periodic=True, dtype=torch.float64),
                      center=True, pad_mode="reflect", return_complex=True).abs()  # (401, T)
    mel = mel_basis() @ spec
    db = 20.0 * torch.log10(torch.clamp(mel, min=10.0 ** (MIN_LEVEL_DB / 20.0))) - REF_LEVEL_DB
    out = (2 * MAX_ABS) * ((db - MIN_LEVEL_DB) / -MIN_LEVEL_DB) - MAX_ABS
    return out.clamp(-MAX_ABS, MAX_ABS).numpy().astype(np.float32)


def window_start(frame: int | np.ndarray, fps: float) -> int | np.ndarray:
    """First mel frame of video frame ``frame``'s window: int(frame · 80 / fps), as the public
    inference and training code index it."""
    return (np.asarray(frame) * (MEL_FRAMES_PER_SECOND / fps)).astype(np.int64)


def mel_windows(mel: np.ndarray, frames: np.ndarray | range, fps: float) -> np.ndarray:
    """(80, T) mel → (len(frames), 80, 16) windows, one per video frame. A window running past the
    end is the last full window, as in the public inference; audio shorter than one window is
    padded with silence."""
    if mel.shape[1] < MEL_STEP:
        mel = np.pad(mel, ((0, 0), (0, MEL_STEP - mel.shape[1])), constant_values=SILENCE)
    starts = np.minimum(window_start(np.asarray(frames), fps), mel.shape[1] - MEL_STEP)
    idx = starts[:, None] + np.arange(MEL_STEP)[None, :]  # (N, 16)
    return np.ascontiguousarray(mel[:, idx].transpose(1, 0, 2))


def load_audio(path) -> np.ndarray:
    """Any audio or video file → (n_samples,) float32 mono at 16 kHz."""
    from lipsync_sts import media

    return media.read_audio(path, SAMPLE_RATE)
