"""SyncNet v2 and LSE-D/LSE-C (DESIGN.md §4) with random weights in the public format.

No SyncNet weights exist here: each test builds a randomly initialised model, saves its state
dict the way the public ``syncnet_v2.model`` is saved, and loads it back through the real loader.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lipsync_sts.errors import UserInputError
from models.syncnet import SyncNet, load_syncnet, mfcc
from models.syncnet.lse import crop_boxes, lse, offset_distances, resample_indices, score_lse, video_crops


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("syncnet") / "syncnet_v2.model"
    torch.save(SyncNet().state_dict(), path)
    return str(path)


def test_public_format_weights_load_with_the_safe_loader(weights):
    model = load_syncnet(weights)
    reference = torch.load(weights, weights_only=True)
    assert set(model.state_dict()) == set(reference)
    assert "netcnnlip.0.weight" in reference and "netfcaud.3.weight" in reference
    assert torch.equal(model.state_dict()["netcnnaud.0.weight"], reference["netcnnaud.0.weight"])
    assert not model.training


def test_legacy_and_prefixed_files_load_too(tmp_path):
    state = SyncNet().state_dict()
    legacy = tmp_path / "legacy.model"
    torch.save(state, legacy, _use_new_zipfile_serialization=False)  # torch < 1.6 files, as the public one
    wrapped = tmp_path / "wrapped.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, wrapped)
    for path in (legacy, wrapped):
        assert torch.equal(load_syncnet(path).state_dict()["netfclip.0.weight"], state["netfclip.0.weight"])


def test_files_that_are_not_syncnet_weights_are_refused_with_advice(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(3)}, other)
    with pytest.raises(UserInputError, match="not a SyncNet v2 state dict"):
        load_syncnet(other)
    with pytest.raises(UserInputError, match="do not exist"):
        load_syncnet(tmp_path / "missing.model")
    pickled = tmp_path / "pickled.model"
    torch.save({"model": SyncNet()}, pickled)  # a whole module needs unsafe unpickling
    with pytest.raises(UserInputError, match="convert it once"):
        load_syncnet(pickled)


def test_the_towers_map_5_frames_and_20_mfcc_frames_to_1024_features(weights):
    model = load_syncnet(weights)
    with torch.no_grad():
        assert model.forward_lip(torch.zeros(2, 3, 5, 224, 224)).shape == (2, 1024)
        assert model.forward_aud(torch.zeros(2, 1, 13, 20)).shape == (2, 1024)


def test_mfccs_come_100_a_second_with_13_coefficients_and_log_energy_first():
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(16_000)).astype(np.float32)
    ceps = mfcc(audio)
    # python_speech_features' frame count: 1 + ceil((n - 400) / 160).
    assert ceps.shape == (1 + int(np.ceil((16_000 - 400) / 160)), 13)
    frame = audio[:400].astype(np.float64) * 32768
    frame = np.append(frame[:1], frame[1:] - 0.97 * frame[:-1])  # pre-emphasis runs over the whole signal
    energy = (np.abs(np.fft.rfft(frame, 512)) ** 2 / 512).sum()
    assert ceps[0, 0] == pytest.approx(np.log(energy), rel=1e-9)
    assert np.all(np.isfinite(mfcc(np.zeros(800, np.float32))))  # silence: eps, not log(0)


def test_the_offset_search_finds_a_planted_shift():
    """Lip feature i equals audio feature i + 3 (plus noise): the sound comes 3 frames late."""
    rng = np.random.default_rng(1)
    audio_feats = torch.from_numpy(rng.standard_normal((80, 1024))).float()
    lip_feats = torch.roll(audio_feats, -3, dims=0) + 0.1 * torch.randn(80, 1024)
    result = lse(offset_distances(lip_feats, audio_feats, vshift=15), vshift=15)
    assert result.offset == 3
    assert len(result.mean_distance) == 31 and result.windows == 80
    assert result.lse_d == pytest.approx(min(result.mean_distance), abs=1e-3)
    assert result.lse_c == pytest.approx(np.median(result.mean_distance) - result.lse_d, abs=1e-3)
    assert result.lse_c > 10


def test_distances_past_either_end_use_a_zero_feature_like_the_public_code():
    lip = torch.ones(2, 4)
    aud = torch.full((2, 4), 2.0)
    d = offset_distances(lip, aud, vshift=2)  # (2, 5)
    assert d.shape == (2, 5)
    assert d[0, 0] == pytest.approx(2.0, abs=1e-4)  # against the zero padding: |1 - 0| over 4 dims
    assert d[0, 2] == pytest.approx(2.0, abs=1e-4)  # |1 - 2| over 4 dims


def test_lse_runs_end_to_end_on_frames_and_audio(weights):
    model = load_syncnet(weights)
    n, fps = 15, 30.0  # 0.5 s at 30 fps -> 12 frames at 25 fps
    frames = [np.full((120, 160, 3), 10 * i, np.uint8) for i in range(n)]
    boxes = np.tile([50, 30, 110, 100], (n, 1)).astype(np.float32)
    crops = video_crops(iter(frames), boxes, np.ones(n, bool), fps)
    assert crops.shape == (len(resample_indices(n, fps)), 224, 224, 3) == (12, 224, 224, 3)
    audio = (0.1 * np.random.default_rng(0).standard_normal(8_000)).astype(np.float32)
    result = score_lse(model, crops, audio, vshift=4)
    assert result.windows == 7  # min(12 frames, 50 MFCC frames // 4) - 5
    assert len(result.mean_distance) == 9 and -4 <= result.offset <= 4
    assert np.isfinite(result.lse_d) and result.lse_c >= 0


def test_crop_boxes_fill_frames_without_a_face_from_the_nearest_one():
    boxes = np.array([[0, 0, 10, 10], [np.nan] * 4, [20, 20, 40, 40]], np.float32)
    dets = crop_boxes(boxes, np.array([True, False, True]))
    assert np.all(np.isfinite(dets)) and dets.shape == (3, 3)
