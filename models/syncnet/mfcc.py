"""MFCCs as ``python_speech_features.mfcc`` computes them with its defaults, which SyncNet was
trained on: 25 ms rectangular frames every 10 ms, pre-emphasis 0.97, 512-point power spectrum,
26 triangular mel filters 0-8000 Hz, log, orthonormal DCT-II, 13 coefficients, sine lifter 22,
coefficient 0 replaced by the log frame energy.

Same arithmetic in numpy/scipy (no extra package): frames are counted and zero-padded the same
way, filter edges are floored to FFT bins the same way. Audio is scaled to int16 range first,
as the public pipeline reads 16-bit PCM with scipy's wavfile (only coefficient 0 depends on the
scale). Differences from the package are float rounding only.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dct

SAMPLE_RATE = 16_000
_EPS = np.finfo(float).eps


def _hz_to_mel(hz):
    return 2595 * np.log10(1 + np.asarray(hz) / 700.0)


def _mel_to_hz(mel):
    return 700 * (10 ** (np.asarray(mel) / 2595.0) - 1)


def filterbank(n_filters: int = 26, n_fft: int = 512, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n_filters, n_fft // 2 + 1) triangular mel filters."""
    mels = np.linspace(_hz_to_mel(0), _hz_to_mel(sample_rate / 2), n_filters + 2)
    bins = np.floor((n_fft + 1) * _mel_to_hz(mels) / sample_rate).astype(int)
    bank = np.zeros((n_filters, n_fft // 2 + 1))
    for j in range(n_filters):
        for i in range(bins[j], bins[j + 1]):
            bank[j, i] = (i - bins[j]) / (bins[j + 1] - bins[j])
        for i in range(bins[j + 1], bins[j + 2]):
            bank[j, i] = (bins[j + 2] - i) / (bins[j + 2] - bins[j + 1])
    return bank


def mfcc(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, n_ceps: int = 13) -> np.ndarray:
    """(n_frames, 13) MFCCs of ``audio`` (mono float in [-1, 1]); 100 frames per second."""
    signal = np.asarray(audio, dtype=np.float64) * 32768.0  # int16 scale, as scipy.io.wavfile reads it
    signal = np.append(signal[:1], signal[1:] - 0.97 * signal[:-1])
    frame_len, step = int(round(0.025 * sample_rate)), int(round(0.01 * sample_rate))
    n = len(signal)
    n_frames = 1 if n <= frame_len else 1 + int(np.ceil((n - frame_len) / step))
    padded = np.concatenate([signal, np.zeros((n_frames - 1) * step + frame_len - n)])
    index = np.arange(frame_len)[None, :] + step * np.arange(n_frames)[:, None]
    frames = padded[index]  # (n_frames, 400)
    power = np.abs(np.fft.rfft(frames, 512)) ** 2 / 512  # (n_frames, 257)
    energy = power.sum(axis=1)
    energy = np.where(energy == 0, _EPS, energy)
    feats = power @ filterbank(26, 512, sample_rate).T
    feats = np.where(feats == 0, _EPS, feats)
    ceps = dct(np.log(feats), type=2, axis=1, norm="ortho")[:, :n_ceps]
    lift = 1 + (22 / 2.0) * np.sin(np.pi * np.arange(n_ceps) / 22)
    ceps = ceps * lift
    ceps[:, 0] = np.log(energy)
    return ceps
