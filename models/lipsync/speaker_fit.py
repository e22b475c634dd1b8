"""The speaker's own mapping from sound to lip shape, learned from a recording of them.

Loudness says when a mouth opens but not how: the same loudness is an /a/ with a dropped jaw or
an /m/ with closed lips, and rounding barely changes it. A recording of the speaker (the video
being dubbed, or ``--mouth-library``) pairs their voice with their real lips frame by frame, so a
small linear model fitted there (ridge regression from a short window of cepstra to lip opening
and mouth width) predicts shapes from new speech that carry what loudness cannot: the formants
that go with an open jaw, the low-energy spectrum of a closure, the dark vowels of rounding.

Leak-proof where it matters: it is fitted on the library recording only, never on the frames it
will be applied to. Its ridge strength is chosen by cross-validation over contiguous blocks of the
recording, and it is only used where that cross-validation shows it predicts the opening at all
(``SpeakerFit.useful``); otherwise the caller keeps the heuristic. The loudness heuristic itself,
at a few lags, is among the features, so the fit starts from it and learns the speaker's timing.

Settings were chosen on the reconstruction benchmark's first halves (bench/bench_reconstruction.py
protocol; fitted on first halves, scored on second halves of the 10 shared clips): mean opening
correlation 0.29 against loudness alone's 0.22, closed-lip recall 0.36 against 0.19.

Shapes (N, 4) come out in visemes.SHAPE_FIELDS units of the library, via quantile mapping of the
predictions onto the recording's own openings and widths: ridge predictions shrink towards the
mean, and a mouth that never reaches the speaker's closed or wide-open frames looks mumbled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .visemes import CLOSURE, OPEN, REST, ROUND

SAMPLE_RATE = 16_000


class SpeakerFitConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    n_mfcc: int = Field(8, ge=4, description="cepstral coefficients per 20 ms step (c0 = loudness included)")
    context: tuple[int, int] = Field((-4, 5), description="half-frame steps of audio around a video frame "
                                     "(from, to): the lips lead the sound by up to ~100 ms")
    context_stride: int = Field(2, ge=1, description="use every n-th half-frame step of the context")
    envelope_lags: int = Field(3, ge=0, description="also the loudness heuristic at this many frames each way")
    envelope_weight: float = Field(5.0, gt=0, description="scale of those features (ridge shrinks them less)")
    alphas: tuple[float, ...] = Field((1.0, 10.0, 100.0, 1000.0), description="ridge strengths tried by CV")
    folds: int = Field(5, ge=2, description="contiguous blocks for cross-validation")
    min_frames: int = Field(60, ge=10, description="fewer frames with a face and sound: too little to fit")
    min_cv_correlation: float = Field(0.1, description="a fit whose cross-validated opening correlation is lower "
                                      "predicts nothing: the caller keeps the heuristic")
    closed_opening: float = Field(0.05, ge=0, description="opening (over eye distance) below which lips are closed")


def frame_features(audio: np.ndarray, sample_rate: int, fps: float, n_frames: int,
                   config: SpeakerFitConfig = SpeakerFitConfig()) -> np.ndarray:
    """(n_frames, F) per video frame: MFCCs of the half-frame steps in ``config.context`` around
    it, normalised by this recording's own mean and spread (voice and channel differ between the
    library and the dub; the normalisation removes most of that)."""
    import librosa

    audio = np.asarray(audio, np.float32).reshape(-1)
    if sample_rate != SAMPLE_RATE:
        audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=SAMPLE_RATE)
    hop = SAMPLE_RATE / (2 * fps)  # two steps per video frame
    steps = 2 * n_frames
    # Frame-accurate hop for any frame rate: resample the step grid rather than round the hop.
    hop_int = max(int(round(hop)), 1)
    mel = librosa.feature.melspectrogram(y=audio, sr=SAMPLE_RATE, n_fft=512, hop_length=hop_int, n_mels=40,
                                         fmin=80, fmax=7600, center=True)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel + 1e-10, top_db=80), n_mfcc=config.n_mfcc).T  # (T, n_mfcc)
    centres = (np.arange(steps) + 0.5) * hop / hop_int  # step centres in mel-frame units
    index = np.clip(np.round(centres).astype(np.int64), 0, max(len(mfcc) - 1, 0))
    grid = mfcc[index] if len(mfcc) else np.zeros((steps, config.n_mfcc), np.float32)
    grid = (grid - grid.mean(axis=0)) / (grid.std(axis=0) + 1e-6)
    lo, hi = config.context
    padded = np.pad(grid, ((-lo, hi), (0, 0)), mode="edge")
    rows = [padded[2 * t:2 * t + (hi - lo) + 1:config.context_stride].reshape(-1) for t in range(n_frames)]
    features = np.asarray(rows, np.float32).reshape(n_frames, -1)
    if config.envelope_lags:
        from .visemes import shapes_from_envelope

        env = shapes_from_envelope(audio, SAMPLE_RATE, fps, n_frames)[:, OPEN]
        lags = range(-config.envelope_lags, config.envelope_lags + 1)
        env_padded = np.pad(env, (config.envelope_lags, config.envelope_lags), mode="edge")
        shifted = np.stack([env_padded[config.envelope_lags + L:config.envelope_lags + L + n_frames] for L in lags], -1)
        features = np.concatenate([features, config.envelope_weight * (shifted - env.mean()) / (env.std() + 1e-6)], -1)
    return features


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights (F, T) and intercept (T,) of ridge regression of y (N, T) on x (N, F)."""
    mx, my = x.mean(axis=0), y.mean(axis=0)
    xc = x - mx
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ (y - my))
    return w, my - mx @ w


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) < 1e-9 or np.std(b) < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


@dataclass(frozen=True)
class SpeakerFit:
    weights: np.ndarray  # (F, 2): opening, width
    intercept: np.ndarray  # (2,)
    alpha: float
    cv_correlation: float  # cross-validated correlation of predicted and real opening
    heuristic_correlation: float  # the same for the loudness heuristic
    predicted_quantiles: np.ndarray  # (2, Q): training predictions' quantiles, for the mapping
    real_quantiles: np.ndarray  # (2, Q): the recording's real opening / width quantiles
    config: SpeakerFitConfig

    @property
    def useful(self) -> bool:
        return self.cv_correlation >= self.config.min_cv_correlation

    def predict(self, audio: np.ndarray, sample_rate: int, fps: float, n_frames: int) -> np.ndarray:
        """(n_frames, 2) opening and width (over eye distance) in the recording's distribution."""
        raw = frame_features(audio, sample_rate, fps, n_frames, self.config) @ self.weights + self.intercept
        return np.stack([np.interp(raw[:, k], self.predicted_quantiles[k], self.real_quantiles[k])
                         for k in range(2)], axis=-1).astype(np.float32)

    def shapes(self, audio: np.ndarray, sample_rate: int, fps: float, n_frames: int,
               silent: np.ndarray | None = None) -> np.ndarray:
        """(n_frames, 4) visemes shapes in the units of selection's desired_descriptors (opening
        0 at the 5th percentile of the recording's openings, 1 at the 97th; rounding from width
        about its median). ``silent``: (n_frames,) bool frames forced to rest."""
        predicted = self.predict(audio, sample_rate, fps, n_frames)
        opening, width = predicted[:, 0], predicted[:, 1]
        o_lo, o_hi = np.interp([0.05, 0.97], _QUANTILES, self.real_quantiles[0])
        w_lo, w_med, w_hi = np.interp([0.10, 0.50, 0.90], _QUANTILES, self.real_quantiles[1])
        shapes = np.zeros((n_frames, 4), np.float32)
        shapes[:, OPEN] = np.clip((opening - o_lo) / max(o_hi - o_lo, 1e-6), 0, 1)
        shapes[:, ROUND] = np.clip(np.where(width < w_med, (w_med - width) / max(w_med - w_lo, 1e-6),
                                            -(width - w_med) / max(w_hi - w_med, 1e-6)), -1, 1)
        closed = opening < self.config.closed_opening
        shapes[closed, CLOSURE] = 1.0
        shapes[closed, OPEN] = 0.0
        if silent is not None:
            shapes[np.asarray(silent, bool)] = REST
        return shapes


_QUANTILES = np.linspace(0.0, 1.0, 41)


def fit_speaker(audio: np.ndarray, sample_rate: int, fps: float, opening: np.ndarray, width: np.ndarray,
                heuristic_opening: np.ndarray, config: SpeakerFitConfig = SpeakerFitConfig()) -> SpeakerFit | None:
    """Fit on a recording: its ``audio`` and, per video frame, the real ``opening`` and ``width``
    (NaN where no face) and the loudness heuristic's opening (to compare against). None when the
    recording has too few usable frames."""
    n = len(opening)
    x = frame_features(audio, sample_rate, fps, n, config)
    y = np.stack([opening, width], axis=-1).astype(np.float64)
    usable = np.isfinite(y).all(axis=1)
    if usable.sum() < config.min_frames:
        return None
    x, y, h = x[usable].astype(np.float64), y[usable], np.asarray(heuristic_opening, np.float64)[usable]
    blocks = np.array_split(np.arange(len(x)), config.folds)

    def cross_validated(alpha: float) -> np.ndarray:
        out = np.empty(len(x))
        for block in blocks:
            train = np.setdiff1d(np.arange(len(x)), block)
            w, b = _ridge(x[train], y[train, :1], alpha)
            out[block] = (x[block] @ w + b)[:, 0]
        return out

    scores = {alpha: _corr(cross_validated(alpha), y[:, 0]) for alpha in config.alphas}
    alpha = max(scores, key=scores.get)
    w, b = _ridge(x, y, alpha)
    fitted = x @ w + b
    return SpeakerFit(
        weights=w.astype(np.float32), intercept=b.astype(np.float32), alpha=alpha, cv_correlation=scores[alpha],
        heuristic_correlation=_corr(h, y[:, 0]),
        predicted_quantiles=np.stack([np.maximum.accumulate(np.quantile(fitted[:, k], _QUANTILES)) for k in range(2)]),
        real_quantiles=np.stack([np.quantile(y[:, k], _QUANTILES) for k in range(2)]), config=config)


def fit_speaker_from_video(path, track, config: SpeakerFitConfig = SpeakerFitConfig()) -> SpeakerFit | None:
    """Fit on a recording of the speaker: its soundtrack and its face ``track`` (a FaceTrack of
    the same video). None where it has no audio or too few usable frames."""
    from lipsync_sts import media

    from .visemes import shapes_from_envelope

    if not media.probe(path).has_audio:
        return None
    audio = media.read_audio(path, SAMPLE_RATE)
    if audio.size == 0:
        return None
    heuristic = shapes_from_envelope(audio, SAMPLE_RATE, track.fps, len(track))[:, OPEN]
    return fit_speaker(audio, SAMPLE_RATE, track.fps, track.mouth_opening(), track.mouth_width(), heuristic, config)
