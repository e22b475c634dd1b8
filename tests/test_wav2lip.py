"""Wav2Lip-compatible models: public checkpoints load unchanged, the mel front-end matches the
public one, inference streams with flat memory, and training lowers the loss and resumes."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from torch import nn
import torch.nn.functional as F

from lipsync_sts.errors import UserInputError
from models.wav2lip import SyncNet_color, Wav2Lip, Wav2Lip_disc_qual, count_parameters, fold_batchnorm, load_model
from models.wav2lip import audio as w2l_audio

# -- an independent transcription of the public generator (DESIGN.md §3), used as the reference ---
# (cin, cout, kernel, stride, padding, residual), block by block, under the public module names.
ENC = [[(6, 16, 7, 1, 3, 0)],
       [(16, 32, 3, 2, 1, 0)] + [(32, 32, 3, 1, 1, 1)] * 2,
       [(32, 64, 3, 2, 1, 0)] + [(64, 64, 3, 1, 1, 1)] * 3,
       [(64, 128, 3, 2, 1, 0)] + [(128, 128, 3, 1, 1, 1)] * 2,
       [(128, 256, 3, 2, 1, 0)] + [(256, 256, 3, 1, 1, 1)] * 2,
       [(256, 512, 3, 2, 1, 0), (512, 512, 3, 1, 1, 1)],
       [(512, 512, 3, 1, 0, 0), (512, 512, 1, 1, 0, 0)]]
AUD = ([(1, 32, 3, 1, 1, 0)] + [(32, 32, 3, 1, 1, 1)] * 2 + [(32, 64, 3, (3, 1), 1, 0)] + [(64, 64, 3, 1, 1, 1)] * 2
       + [(64, 128, 3, 3, 1, 0)] + [(128, 128, 3, 1, 1, 1)] * 2 + [(128, 256, 3, (3, 2), 1, 0), (256, 256, 3, 1, 1, 1)]
       + [(256, 512, 3, 1, 0, 0), (512, 512, 1, 1, 0, 0)])
# decoder: first layer transposed (cin, cout, stride, padding, output_padding), then residual convs
DEC = [(None, 512, 0), ((1024, 512, 1, 0, 0), 512, 1), ((1024, 512, 2, 1, 1), 512, 2), ((768, 384, 2, 1, 1), 384, 2),
       ((512, 256, 2, 1, 1), 256, 2), ((320, 128, 2, 1, 1), 128, 2), ((160, 64, 2, 1, 1), 64, 2)]


class RefConv(nn.Module):
    def __init__(self, cin, cout, k, s, p, res=0, transpose_op=None):
        super().__init__()
        conv = nn.ConvTranspose2d(cin, cout, k, s, p, transpose_op) if transpose_op is not None else nn.Conv2d(cin, cout, k, s, p)
        self.conv_block = nn.Sequential(conv, nn.BatchNorm2d(cout))
        self.res = res

    def forward(self, x):
        y = self.conv_block(x)
        return F.relu(y + x if self.res else y)


class RefWav2Lip(nn.Module):
    def __init__(self):
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList([nn.Sequential(*[RefConv(*c) for c in b]) for b in ENC])
        self.audio_encoder = nn.Sequential(*[RefConv(*c) for c in AUD])
        blocks = [nn.Sequential(RefConv(512, 512, 1, 1, 0))]
        for tconv, c, n_res in DEC[1:]:
            cin, cout, s, p, op = tconv
            blocks.append(nn.Sequential(RefConv(cin, cout, 3, s, p, 0, op), *[RefConv(c, c, 3, 1, 1, 1)] * 0,
                                        *[RefConv(c, c, 3, 1, 1, 1) for _ in range(n_res)]))
        self.face_decoder_blocks = nn.ModuleList(blocks)
        self.output_block = nn.Sequential(RefConv(80, 32, 3, 1, 1), nn.Conv2d(32, 3, 1), nn.Sigmoid())

    def forward(self, mel, faces):
        feats, x = [], faces
        for b in self.face_encoder_blocks:
            x = b(x)
            feats.append(x)
        x = self.audio_encoder(mel)
        for b in self.face_decoder_blocks:
            x = torch.cat([b(x), feats.pop()], 1)
        return self.output_block(x)


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and batch-norm statistics, so a wrong mapping cannot go unnoticed."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.dtype.is_floating_point:
                if name.endswith("running_var"):
                    t.copy_(torch.rand(t.shape, generator=g) + 0.5)
                else:
                    t.copy_(torch.randn(t.shape, generator=g) * (0.05 if t.dim() > 1 else 0.1))
    return model.eval()


@pytest.fixture(scope="module")
def public_generator() -> RefWav2Lip:
    return randomise(RefWav2Lip())


@pytest.fixture(scope="module")
def inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 1, 80, 16, generator=g), torch.rand(2, 6, 96, 96, generator=g)


# -- models --------------------------------------------------------------------------------------

def test_parameter_counts_and_shapes():
    g, s, d = Wav2Lip(), SyncNet_color(), Wav2Lip_disc_qual()
    assert count_parameters(g) == 36_298_035  # "about 36.3 M"
    assert count_parameters(s) == 16_435_072 and count_parameters(d) == 14_113_793
    with torch.no_grad():
        assert g.eval()(torch.zeros(2, 1, 80, 16), torch.zeros(2, 6, 96, 96)).shape == (2, 3, 96, 96)
        assert g(torch.zeros(1, 5, 1, 80, 16), torch.zeros(1, 6, 5, 96, 96)).shape == (1, 3, 5, 96, 96)
        a, v = s.eval()(torch.zeros(3, 1, 80, 16), torch.rand(3, 15, 48, 96))
        assert a.shape == v.shape == (3, 512)
        assert torch.allclose(a.norm(dim=1), torch.ones(3)) and (v >= 0).all()  # unit, non-negative
        assert d.eval()(torch.rand(2, 3, 5, 96, 96)).shape == (10, 1)


@pytest.mark.parametrize("prefix", ["", "module."])
def test_a_public_format_checkpoint_loads_and_reproduces_the_outputs(tmp_path, public_generator, inputs, prefix):
    path = tmp_path / "wav2lip.pth"
    state = {prefix + k: v for k, v in public_generator.state_dict().items()}
    torch.save({"state_dict": state, "optimizer": None, "global_step": 1, "global_epoch": 0}, path)
    ours = load_model(path, "wav2lip")
    with torch.no_grad():
        expected = public_generator(*inputs)
        assert torch.equal(ours(*inputs), expected)  # same ops in the same order: bit-identical
        assert (fold_batchnorm(ours)(*inputs) - expected).abs().max() < 1e-5  # the fast inference copy


def test_a_bare_state_dict_also_loads(tmp_path):
    model = randomise(SyncNet_color(), seed=3)
    torch.save(model.state_dict(), tmp_path / "expert.pth")
    loaded = load_model(tmp_path / "expert.pth", "syncnet")
    mel, faces = torch.randn(2, 1, 80, 16), torch.rand(2, 15, 48, 96)
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(loaded(mel, faces), model(mel, faces)))


def test_a_wrong_file_names_expected_and_found_keys(tmp_path):
    torch.save({"state_dict": randomise(SyncNet_color()).state_dict()}, tmp_path / "lipsync_expert.pth")
    with pytest.raises(UserInputError) as err:
        load_model(tmp_path / "lipsync_expert.pth", "wav2lip")
    message = str(err.value)
    assert "looks like a SyncNet_color checkpoint" in message
    assert "missing keys expected by Wav2Lip: face_encoder_blocks.0.0.conv_block.0.weight" in message
    assert "unexpected keys found: face_encoder.0.conv_block.0.weight" in message

    torch.save({"state_dict": {"layer.weight": torch.zeros(3)}}, tmp_path / "other.pth")
    with pytest.raises(UserInputError, match="does not match any Wav2Lip architecture"):
        load_model(tmp_path / "other.pth")
    with pytest.raises(UserInputError, match="does not exist"):
        load_model(tmp_path / "absent.pth")
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(UserInputError, match="not a readable PyTorch file"):
        load_model(tmp_path / "text.pth")


class _Payload:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_a_malicious_pickle_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"state_dict": {}, "evil": _Payload()}, tmp_path / "evil.pth")
    with pytest.raises(UserInputError, match="refused"):
        load_model(tmp_path / "evil.pth")
    assert not (tmp_path / "PWNED").exists()


# -- audio ---------------------------------------------------------------------------------------

def public_melspectrogram(wav: np.ndarray) -> np.ndarray:
    """The public audio.py with its hparams, written out with librosa/scipy as it does.
    librosa 0.7 (its pinned version) padded the centred STFT by reflection; newer librosa pads
    with zeros by default, so the mode is given explicitly."""
    import librosa
    from scipy import signal

    y = signal.lfilter([1, -0.97], [1], wav)
    D = librosa.stft(y=y, n_fft=800, hop_length=200, win_length=800, pad_mode="reflect")
    basis = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)
    S = 20 * np.log10(np.maximum(np.exp(-100 / 20 * np.log(10)), np.dot(basis, np.abs(D)))) - 20
    return np.clip((2 * 4) * ((S - -100) / 100) - 4, -4, 4)


def test_the_mel_front_end_matches_the_public_one():
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 2) / 16000
    wav = (0.3 * np.sin(2 * np.pi * 180 * t) * (t > 0.5) + 0.02 * rng.standard_normal(len(t))).astype(np.float32)
    ours = w2l_audio.melspectrogram(wav)
    ref = public_melspectrogram(wav)
    assert ours.shape == ref.shape == (80, 161)
    assert np.abs(ours - ref).max() < 1e-4
    assert ours.min() >= -4 and ours.max() <= 4
    assert w2l_audio.melspectrogram(np.zeros(800)).max() == -4  # digital silence is the floor


def test_one_mel_window_per_video_frame_indexed_as_the_public_code():
    mel = np.arange(80 * 100, dtype=np.float32).reshape(80, 100)
    win = w2l_audio.mel_windows(mel, np.arange(40), fps=25.0)
    assert win.shape == (40, 80, 16)
    assert np.array_equal(win[7], mel[:, int(7 * 80 / 25): int(7 * 80 / 25) + 16])
    assert np.array_equal(win[39], mel[:, 84:100])  # past the end: the last full window


# -- inference -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="module")
def face_track(astronaut):
    from models.face import FaceTrackConfig, track_faces

    return track_faces([astronaut] * 48, 25.0, FaceTrackConfig())


def _renderer(track, n, batch=8, **kw):
    from models.lipsync.wav2lip_backend import Wav2LipConfig, Wav2LipRenderer

    rate = 16000
    t = np.arange(int(n / 25 * rate)) / rate
    dub = (0.3 * np.sin(2 * np.pi * 200 * t) * (t < n / 25 / 2)).astype(np.float32)  # speech, then silence
    return Wav2LipRenderer(randomise(Wav2Lip()), track, dub, rate, Wav2LipConfig(batch_size=batch, **kw))


def test_the_backend_renders_only_the_lower_face_with_a_soft_edge(face_track, astronaut):
    renderer = _renderer(face_track, 8)
    out = list(renderer.process(iter([astronaut] * 8)))
    assert len(out) == 8 and all(o.shape == astronaut.shape and o.dtype == np.uint8 for o in out)
    changed = np.any(out[0] != astronaut, axis=2)
    x0, y0, x1, y1 = face_track.boxes[0]
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 500
    # only inside the face box's lower part: nothing above the nose, nothing off the face
    nose_y = face_track.landmarks[0, 2, 1]
    assert ys.min() > nose_y - 0.1 * (y1 - y0) and ys.max() < y1 + 0.15 * (y1 - y0)
    assert xs.min() >= x0 - 2 and xs.max() <= x1 + 2
    # feathered: along the mask's edge the change ramps up instead of jumping (no pasted rectangle)
    diff = np.abs(out[0].astype(int) - astronaut).max(axis=2)
    row = diff[int(np.median(ys))]
    assert np.count_nonzero((row > 0) & (row < 0.5 * row.max())) >= 4


def test_silence_gets_the_silence_mel_and_faceless_frames_pass_through(face_track, astronaut):
    import dataclasses

    renderer = _renderer(face_track, 48)
    assert not renderer.silent[:20].any() and renderer.silent[-20:].all()
    assert (renderer.windows(np.arange(30, 40)) == w2l_audio.SILENCE).all()
    absent = face_track.present.copy()
    absent[3] = False
    track = dataclasses.replace(face_track, present=absent)
    frames = [astronaut] * 8
    out = list(_renderer(track, 8).process(iter(frames)))
    assert out[3] is frames[3] and not np.array_equal(out[2], astronaut)


def test_memory_stays_flat_as_the_video_grows(face_track, astronaut):
    peaks = {}
    for n in (8, 48):
        renderer = _renderer(face_track, n, batch=8)
        pulled = []

        def frames():
            for i in range(n):
                pulled.append(i)
                yield astronaut.copy()  # a fresh array per frame, as a decoder gives

        tracemalloc.start()
        done = 0
        for _ in renderer.process(frames()):
            done += 1
            assert len(pulled) - done < 8  # never more than one chunk ahead of the output
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert done == n and renderer.max_buffered == 8
    frame_bytes = astronaut.nbytes
    assert peaks[48] < peaks[8] + 4 * frame_bytes  # six times the frames, about the same peak


# -- training ------------------------------------------------------------------------------------

def synthetic_clip(n: int = 16, fps: float = 25.0, seed: int = 0):
    """A face whose lower half brightens with the loudness of the audio: a learnable sync."""
    from models.wav2lip.train import Clip

    rng = np.random.default_rng(seed)
    loud = rng.random(n).astype(np.float32)
    faces = np.full((n, 96, 96, 3), 60, np.uint8)
    faces[:, 48:, 20:76] = (60 + 190 * loud)[:, None, None, None].astype(np.uint8)
    rate = 16000
    per = int(rate / fps)
    t = np.arange(per * (n + 8)) / rate
    amp = np.repeat(np.concatenate([loud, np.zeros(8, np.float32)]), per)
    mel = w2l_audio.melspectrogram((amp * np.sin(2 * np.pi * 300 * t)).astype(np.float32))
    return Clip(faces=faces, mel=mel, fps=fps)


def test_a_few_training_steps_lower_the_losses():
    from models.wav2lip.train import Progress, TrainConfig, train_expert, train_generator

    from models.wav2lip.syncnet import sync_loss
    from models.wav2lip.train import expert_batch

    torch.manual_seed(0)
    clips = [synthetic_clip()]
    initial = SyncNet_color().state_dict()
    probe = expert_batch(clips, 16, np.random.default_rng(123))

    def probe_loss(state) -> float:
        # batch statistics (train mode): after a few steps the running averages still lag behind
        model = SyncNet_color().train()
        model.load_state_dict(state)
        with torch.no_grad():
            return sync_loss(*model(probe[0], probe[1]), probe[2]).item()

    config = TrainConfig(steps=8, batch_size=8, lr=1e-4, eval_every=4, eval_batches=1, checkpoint_every=100)
    expert_state = train_expert(clips, clips, config, init=initial, device=torch.device("cpu"))
    assert probe_loss(expert_state["state_dict"]) < probe_loss(initial)

    expert = SyncNet_color()
    expert.load_state_dict(expert_state["state_dict"])
    progress = Progress()
    config = TrainConfig(steps=3, batch_size=1, lr=1e-3, eval_every=1, eval_batches=1, checkpoint_every=100,
                         sync_threshold=10.0)  # switch the sync loss on at the first evaluation
    state = train_generator(clips, clips, expert, config, progress=progress, device=torch.device("cpu"))
    l1 = [r["eval_l1"] for r in progress.history]
    assert l1[-1] < l1[0]
    assert progress.history[0]["syncnet_wt"] == 0.01 and state["syncnet_wt"] == 0.01
    assert state["global_step"] == 3


def test_training_resumes_from_the_saved_step(tmp_path):
    from flows.train_lipsync import latest_checkpoint, resumable
    from lipsync_sts.store import ArtifactStore
    from models.wav2lip.train import TrainConfig, train_expert

    store = ArtifactStore(str(tmp_path / "store"))
    clips = [synthetic_clip()]
    config = TrainConfig(steps=4, batch_size=2, eval_every=2, eval_batches=1, checkpoint_every=2)
    steps_run = []

    def train(interrupt_after=None, **kw):
        progress = kw["progress"]
        save = progress.on_checkpoint

        def on_checkpoint(state):
            save(state)
            steps_run.append(state["global_step"])
            if interrupt_after is not None and state["global_step"] >= interrupt_after:
                raise KeyboardInterrupt  # the run is killed right after its checkpoint

        progress.on_checkpoint = on_checkpoint
        return train_expert(clips, clips, config, device=torch.device("cpu"), **kw)

    with pytest.raises(KeyboardInterrupt):
        resumable(store, "expert-test", lambda **kw: train(interrupt_after=2, **kw), config.steps)
    assert latest_checkpoint(store, "expert-test").meta["step"] == 2
    first = torch.load(store.local_path(latest_checkpoint(store, "expert-test")), weights_only=True)

    steps_run.clear()
    ref, _ = resumable(store, "expert-test", lambda **kw: train(**kw), config.steps)
    assert steps_run == [4] and ref.meta["step"] == 4  # continued from step 2, not from 0
    final = torch.load(store.local_path(ref), weights_only=True)
    assert final["optimizer"]["state"][0]["step"] == 4  # Adam's state carried over
    assert not torch.equal(final["state_dict"]["audio_encoder.0.conv_block.0.weight"],
                           first["state_dict"]["audio_encoder.0.conv_block.0.weight"])
    again, _ = resumable(store, "expert-test", lambda **kw: pytest.fail("a finished run must not train"), config.steps)
    assert again == ref
    assert load_model(store.local_path(ref), "syncnet") is not None  # the public layout, loadable as is


def test_the_lipsync_cache_key_holds_the_checkpoint_content_not_its_path(tmp_path):
    from tasks.lipsync import LipSyncConfig, lipsync

    a, b, c = tmp_path / "a.pth", tmp_path / "renamed.pth", tmp_path / "retrained.pth"
    a.write_bytes(b"weights-1")
    b.write_bytes(b"weights-1")
    c.write_bytes(b"weights-2")

    def key(path):
        return lipsync.cache_policy.compute_key(None, {"config": LipSyncConfig(backend="wav2lip", checkpoint=str(path))}, {})

    assert key(a) == key(b) != key(c)
    assert lipsync.cache_policy.compute_key(None, {"config": LipSyncConfig()}, {}) != key(a)
