"""pYIN pitch tracking (librosa's), with the HMM decoded by a banded Viterbi and the per-frame
observation model compiled.

librosa.pyin decodes its pitch HMM with a dense Viterbi: frames × states² with 734 states at its
10-cent resolution over 60-500 Hz, 4 s of the 9-s match_voice stage on 30 s of speech. Its
transition matrix is banded (a voice moves at most ``max_transition_rate`` octaves a second, 9
semitones per 20-ms frame), so each state has 2 × 91 possible predecessors, not 734. Decoding only
those gives the same path, about 4× sooner.

Before the decoding, librosa's observation model (its ``__pyin_helper``) loops over frames in
Python and calls ``scipy.stats.boltzmann.pmf`` once a frame, ~0.3 ms of argument checking each:
about half of the banded tracker's time. ``_trough_probs`` is the same loop
compiled, with the Boltzmann prior written out as scipy's ``_pmf`` computes it.

The rest of librosa's pYIN (framing, the difference function, the parabolic shifts, the
transition matrix) is written out below operation for operation, so every value is the same bits
(tests/test_pitch.py compares the tracks with librosa.pyin's). Importing librosa cost 1.9-3.4 s
of the dub's serial chain on the 2-core Xeon, as the first thing voice matching did.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.fft
import scipy.signal
import scipy.stats

# librosa.pyin's defaults, which this module keeps.
_N_THRESHOLDS = 100
_BETA = (2, 18)
_BOLTZMANN = 2
_RESOLUTION = 0.1
_MAX_TRANSITION_RATE = 35.92
_SWITCH_PROB = 0.01
_NO_TROUGH_PROB = 0.01


def pyin(y: np.ndarray, *, fmin: float, fmax: float, sr: int, frame_length: int,
         hop_length: int) -> tuple[np.ndarray, np.ndarray]:
    """(f0 Hz with NaN where unvoiced, voiced flags), both (n_frames,): librosa.pyin(y, fmin=fmin,
    fmax=fmax, sr=sr, frame_length=frame_length, hop_length=hop_length), centred frames."""
    y = np.pad(np.asarray(y, np.float32), (frame_length // 2, frame_length // 2), mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(y, frame_length)[::hop_length].T  # (frame_length, T)
    min_period = int(np.floor(sr / fmax))
    max_period = min(int(np.ceil(sr / fmin)), frame_length - 1)
    yin = _difference(frames, min_period, max_period)  # (periods, T) float64
    shifts = _parabolic_shifts(yin)
    thresholds = np.linspace(0, 1, _N_THRESHOLDS + 1)
    beta_probs = np.diff(scipy.stats.beta.cdf(thresholds, *_BETA))
    per_semitone = int(np.ceil(1.0 / _RESOLUTION))
    n_bins = int(np.floor(12 * per_semitone * np.log2(fmax / fmin))) + 1
    # np.sum of each prefix, as librosa sums them (pairwise), so the probabilities match its own.
    beta_prefix = np.array([np.sum(beta_probs[:n]) for n in range(len(beta_probs) + 1)])
    trough = _trough_probs(yin, thresholds, float(_BOLTZMANN), beta_probs, beta_prefix, _NO_TROUGH_PROB)
    observation = _observation(trough, shifts, sr, min_period, fmin, n_bins, per_semitone)  # (2·n_bins, T)

    width = round(_MAX_TRANSITION_RATE * 12 * hop_length / sr) * per_semitone + 1
    local = _transition_local(n_bins, width)  # (n_bins, n_bins)
    stay = 1 - _SWITCH_PROB
    loop = np.array([[stay, 1.0 - stay], [1.0 - stay, stay]])  # librosa's transition_loop(2, stay)
    transition = np.kron(loop, local)  # voiced / unvoiced blocks
    # librosa's Viterbi works in log(p + tiny); the same here, so equal paths come out.
    eps = np.finfo(observation.dtype).tiny
    nonzero = local > 0
    first = np.argmax(nonzero, axis=0).astype(np.int64)  # per target state: its band of predecessors
    last = (n_bins - 1 - np.argmax(nonzero[::-1], axis=0)).astype(np.int64)
    states = _banded_viterbi(np.log(observation.T + eps), np.log(transition + eps),
                             np.log(np.full(2 * n_bins, 1 / (2 * n_bins)) + eps), first, last, n_bins)
    freqs = fmin * 2 ** (np.arange(n_bins) / (12 * per_semitone))
    f0 = freqs[states % n_bins]
    voiced = states < n_bins
    f0[~voiced] = np.nan
    return f0, voiced


def _difference(frames: np.ndarray, min_period: int, max_period: int) -> np.ndarray:
    """(max_period - min_period + 1, T) cumulative mean normalised difference (YIN's equation 8) of
    float32 frames (frame_length, T): librosa's ``_cumulative_mean_normalized_difference``, with its
    autocorrelation (``autocorrelate``: scipy.fft, |X|² in float32) and its float64 division."""
    n_pad = scipy.fft.next_fast_len(2 * frames.shape[0] - 1, real=True)
    spectrum = scipy.fft.rfft(frames, n=n_pad, axis=0)
    acf = scipy.fft.irfft(np.square(spectrum.real) + np.square(spectrum.imag), n=n_pad, axis=0)[:max_period + 1]
    d = np.square(frames)
    np.cumsum(d, out=d, axis=0)  # energy of each prefix
    d[0] = 0
    # d(k) = 2·(ACF(0) - ACF(k)) - sum_{m<k} y(m)²
    d[1:max_period + 1] = 2 * (acf[0:1] - acf[1:max_period + 1]) - d[:max_period]
    mean = np.cumsum(d[1:max_period + 1], axis=0) / np.arange(1, max_period + 1)[:, None]
    return d[min_period:max_period + 1] / (mean[min_period - 1:max_period] + np.finfo(np.float64).tiny)


def _parabolic_shifts(x: np.ndarray) -> np.ndarray:
    """Per period and frame, where the parabola through it and its neighbours has its optimum,
    relative to it; 0 where that lies a bin or more away and at both ends (librosa's
    ``_parabolic_interpolation``)."""
    shifts = np.zeros_like(x)
    a = x[2:] + x[:-2] - 2 * x[1:-1]
    b = (x[2:] - x[:-2]) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        shifts[1:-1] = np.where(np.abs(b) >= np.abs(a), 0.0, -b / a)
    return shifts


def _transition_local(n_states: int, width: int) -> np.ndarray:
    """(n_states, n_states) transitions to the states within ``width`` // 2, weighted by a triangle
    and not wrapping around: librosa's ``transition_local(n_states, width, window="triangle",
    wrap=False)``."""
    window = scipy.signal.get_window("triangle", width, fftbins=False)
    left = (n_states - width) // 2
    centred = np.pad(window, (left, n_states - width - left))
    transition = np.zeros((n_states, n_states))
    for i in range(n_states):
        row = np.roll(centred, n_states // 2 + i + 1)
        row[min(n_states, i + width // 2 + 1):] = 0
        row[:max(0, i - width // 2)] = 0
        transition[i] = row
    return transition / transition.sum(axis=1, keepdims=True)


def _observation(trough: np.ndarray, shifts: np.ndarray, sr: int, min_period: int, fmin: float, n_bins: int,
                 per_semitone: int) -> np.ndarray:
    """(2·n_bins, T) observation probabilities, voiced pitch bins then unvoiced: librosa's
    ``__pyin_helper`` after its loop. trough: (periods, T) from _trough_probs."""
    period, frame = np.nonzero(trough)
    candidates = min_period + period + shifts[period, frame]  # parabolic refinement of each trough
    bins = np.clip(np.round(12 * per_semitone * np.log2(sr / candidates / fmin)), 0, n_bins).astype(int)
    observation = np.zeros((2 * n_bins, trough.shape[1]))
    observation[bins, frame] = trough[period, frame]
    voiced = np.clip(np.sum(observation[:n_bins], axis=0, keepdims=True), 0, 1)
    observation[n_bins:] = (1 - voiced) / n_bins
    return observation


# nogil, here and on the Viterbi: voice matching runs beside the mouth library, whose thread would
# otherwise wait out every call (0.3-0.5 s each on 30 s of speech) for the GIL.
@numba.njit(cache=True, nogil=True)
def _trough_probs(yin, thresholds, boltzmann, beta_probs, beta_prefix, no_trough_prob):  # pragma: no cover (jit)
    """(periods, T) probability of each period being the pitch, librosa's pYIN steps 2-5 per frame:
    its troughs (local minima of the difference function), each threshold's prior over the troughs
    below it (Boltzmann: shorter periods first), weighted by the thresholds' beta distribution, and
    what no trough takes going to the global minimum. Stored in yin's dtype, as librosa stores it."""
    n_periods, n_frames = yin.shape
    n_thresholds = len(thresholds) - 1
    out = np.zeros_like(yin)
    fact_lambda = 1.0 - np.exp(-boltzmann)
    below = np.zeros((n_periods, n_thresholds), np.bool_)
    count = np.zeros(n_thresholds, np.int64)
    troughs = np.empty(n_periods, np.int64)
    for t in range(n_frames):
        x = yin[:, t]
        k = 0
        # Troughs as librosa finds them: inside, below the left neighbour and not above the right;
        # the first period where below the second (pyin's rule), the last where below its neighbour.
        if x[0] < x[1]:
            troughs[k] = 0
            k += 1
        for p in range(1, n_periods - 1):
            if x[p] < x[p - 1] and x[p] <= x[p + 1]:
                troughs[k] = p
                k += 1
        if x[n_periods - 1] < x[n_periods - 2]:
            troughs[k] = n_periods - 1
            k += 1
        if k == 0:
            continue
        count[:] = 0
        for i in range(k):
            for j in range(n_thresholds):
                below[i, j] = x[troughs[i]] < thresholds[j + 1]
                if below[i, j]:
                    count[j] += 1
        lowest = 0
        for i in range(1, k):
            if x[troughs[i]] < x[troughs[lowest]]:
                lowest = i
        position = np.zeros(n_thresholds, np.int64)  # per threshold: troughs below it so far
        for i in range(k):
            total = 0.0
            for j in range(n_thresholds):
                if below[i, j]:
                    # scipy.stats.boltzmann._pmf(position, lambda, N), term for term
                    fact = fact_lambda / (1.0 - np.exp(-boltzmann * count[j]))
                    total += fact * np.exp(-boltzmann * position[j]) * beta_probs[j]
                    position[j] += 1
            if i == lowest:
                n_not_below = 0
                for j in range(n_thresholds):
                    if not below[i, j]:
                        n_not_below += 1
                total += no_trough_prob * beta_prefix[n_not_below]
            out[troughs[i], t] = total
    return out


@numba.njit(cache=True, nogil=True)
def _banded_viterbi(log_prob, log_trans, log_p_init, first, last, n_local):  # pragma: no cover (jit)
    """Most likely state path; log_prob (T, 2·n_local). Predecessors of state j are searched only in
    local rows first[j % n_local]..last[j % n_local] of both blocks: elsewhere the transition is 0
    (log of tiny), which cannot win. Ties go to the lowest state, as numpy's argmax does."""
    n_steps, n_states = log_prob.shape
    value = np.empty((n_steps, n_states))
    ptr = np.zeros((n_steps, n_states), np.int64)
    value[0] = log_prob[0] + log_p_init
    for t in range(1, n_steps):
        for j in range(n_states):
            jl = j % n_local
            best, arg = -np.inf, 0
            for block in range(2):
                for il in range(first[jl], last[jl] + 1):
                    i = block * n_local + il
                    v = value[t - 1, i] + log_trans[i, j]
                    if v > best:
                        best, arg = v, i
            value[t, j] = log_prob[t, j] + best
            ptr[t, j] = arg
    states = np.zeros(n_steps, np.int64)
    states[-1] = np.argmax(value[-1])
    for t in range(n_steps - 2, -1, -1):
        states[t] = ptr[t + 1, states[t + 1]]
    return states
