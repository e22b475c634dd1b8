"""Training: the expert SyncNet first, then the generator against it (public recipe, DESIGN §3).

Plain functions over in-memory clips (``Clip``: 96×96 BGR face crops + mel), so they run and are
tested without Prefect; flows/train_lipsync.py adds preprocessing, the store and the UI.
Sampling follows the public ``color_syncnet_train.py`` / ``wav2lip_train.py``: windows of T=5
consecutive frames, the mel window of the first frame for the sync losses, per-frame mel windows
starting one frame early for the generator, a random other window of the same clip as reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from .audio import MEL_STEP, window_start
from .discriminator import Wav2Lip_disc_qual
from .model import Wav2Lip
from .syncnet import SyncNet_color, lower_halves, sync_loss

T = 5  # frames per training window


@dataclass
class Clip:
    faces: np.ndarray  # (N, 96, 96, 3) uint8 BGR
    mel: np.ndarray  # (80, M) float32, 80 frames per second
    fps: float
    present: np.ndarray | None = None  # (N,) bool; frames without a face are never sampled

    def starts(self) -> np.ndarray:
        """Frames that can start a window: T frames with a face, all mel windows inside the audio
        (the per-frame ones start a frame early, so frame 0 cannot start one)."""
        n = len(self.faces)
        ok = self.present if self.present is not None else np.ones(n, bool)
        idx = np.arange(1, max(1, n - T + 1))
        good = [i for i in idx if ok[i:i + T].all() and window_start(i + T, self.fps) + MEL_STEP <= self.mel.shape[1]]
        return np.asarray(good, np.int64)


class TrainConfig(BaseModel):
    """One training stage; part of the run's identity (a changed config starts a new run)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: int = Field(1000, ge=1, description="optimizer steps in all (a resumed run continues to this)")
    batch_size: int = Field(16, ge=1)
    lr: float = Field(1e-4, gt=0)
    eval_every: int = Field(100, ge=1)
    eval_batches: int = Field(4, ge=1)
    checkpoint_every: int = Field(100, ge=1)
    seed: int = 0
    # generator only
    sync_threshold: float = Field(0.75, description="switch the sync loss on once the expert's eval loss "
                                  "on generated frames falls below this")
    sync_weight: float = Field(0.01, ge=0, le=1, description="sync loss weight once on (0.03 is used with the GAN)")
    gan: bool = Field(False, description="train the visual-quality discriminator too (wav2lip_gan.pth recipe)")
    disc_weight: float = Field(0.07, ge=0, le=1)


def expert_batch(clips: list[Clip], batch: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    """(mel (B,1,80,16), lower halves (B,15,48,96), in-sync label (B,)): half the windows are the
    ones the mel belongs to, half a random other window of the same clip."""
    mels, faces, labels = [], [], []
    for _ in range(batch):
        clip = clips[rng.integers(len(clips))]
        starts = clip.starts()
        start = int(rng.choice(starts))
        synced = bool(rng.integers(2)) or len(starts) < 2
        chosen = start if synced else int(rng.choice(starts[starts != start]))
        s = window_start(start, clip.fps)
        mels.append(clip.mel[:, s:s + MEL_STEP])
        faces.append(clip.faces[chosen:chosen + T])
        labels.append(float(synced))
    x = torch.from_numpy(np.stack(faces)).float().div_(255).permute(0, 4, 1, 2, 3)  # (B, 3, T, 96, 96)
    return (torch.from_numpy(np.stack(mels)).unsqueeze(1), lower_halves(x), torch.tensor(labels))


def generator_batch(clips: list[Clip], batch: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """x (B,6,T,96,96): masked target window ‖ another window as reference; indiv_mels (B,T,1,80,16);
    mel (B,1,80,16) of the whole window; gt (B,3,T,96,96)."""
    xs, indiv, mels, gts = [], [], [], []
    for _ in range(batch):
        clip = clips[rng.integers(len(clips))]
        starts = clip.starts()
        start = int(rng.choice(starts))
        other = starts[starts != start]
        ref = int(rng.choice(other)) if len(other) else start
        gt = clip.faces[start:start + T]  # (T, 96, 96, 3)
        masked = gt.copy()
        masked[:, 96 // 2:] = 0
        xs.append(np.concatenate([masked, clip.faces[ref:ref + T]], axis=-1))  # (T, 96, 96, 6)
        s = window_start(start, clip.fps)
        mels.append(clip.mel[:, s:s + MEL_STEP])
        indiv.append(np.stack([clip.mel[:, w:w + MEL_STEP] for w in window_start(np.arange(start - 1, start - 1 + T), clip.fps)]))
        gts.append(gt)

    def video(a):  # (B, T, H, W, C) uint8 → (B, C, T, H, W) float
        return torch.from_numpy(np.stack(a)).float().div_(255).permute(0, 4, 1, 2, 3).contiguous()

    return {"x": video(xs), "gt": video(gts), "mel": torch.from_numpy(np.stack(mels)).unsqueeze(1),
            "indiv_mels": torch.from_numpy(np.stack(indiv)).unsqueeze(2)}


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class Progress:
    """What a training loop reports: per-eval metrics rows and checkpoints."""

    on_metrics: Callable[[dict[str, Any]], None] = lambda row: None
    on_checkpoint: Callable[[dict[str, Any]], None] = lambda state: None
    history: list[dict[str, Any]] = field(default_factory=list)

    def metrics(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        self.on_metrics(row)


def train_expert(train: list[Clip], evaluate: list[Clip], config: TrainConfig, resume: dict | None = None,
                 init: dict | None = None, progress: Progress | None = None,
                 device: torch.device | None = None) -> dict[str, Any]:
    """Train SyncNet_color with cosine-as-probability BCE. ``resume``: a checkpoint dict of this
    run (model, optimizer, step); ``init``: a state dict to start from (lipsync_expert.pth).
    Returns the final checkpoint dict (public layout + ``eval_loss``)."""
    device = device or default_device()
    progress = progress or Progress()
    model = SyncNet_color().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    step = 0
    if resume:
        model.load_state_dict(resume["state_dict"])
        opt.load_state_dict(resume["optimizer"])
        step = int(resume["global_step"])
    elif init:
        model.load_state_dict(init)
    rng = np.random.default_rng([config.seed, step])  # a resumed run draws fresh batches
    eval_loss = float(resume.get("eval_loss", float("nan"))) if resume else float("nan")

    def evaluate_now() -> float:
        model.eval()
        erng = np.random.default_rng(config.seed + 1)  # the same eval batches every time
        with torch.no_grad():
            losses = [sync_loss(*model(m.to(device), f.to(device)), y.to(device)).item()
                      for m, f, y in (expert_batch(evaluate, config.batch_size, erng) for _ in range(config.eval_batches))]
        model.train()
        return float(np.mean(losses))

    def state() -> dict[str, Any]:
        return {"state_dict": model.state_dict(), "optimizer": opt.state_dict(), "global_step": step,
                "global_epoch": 0, "eval_loss": eval_loss}

    model.train()
    while step < config.steps:
        mel, faces, y = (t.to(device) for t in expert_batch(train, config.batch_size, rng))
        loss = sync_loss(*model(mel, faces), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % config.eval_every == 0 or step == config.steps:
            eval_loss = evaluate_now()
            progress.metrics({"stage": "expert", "step": step, "train_loss": float(loss.item()), "eval_loss": eval_loss})
        if step % config.checkpoint_every == 0 or step == config.steps:
            progress.on_checkpoint(state())
    return state()


def train_generator(train: list[Clip], evaluate: list[Clip], expert: SyncNet_color, config: TrainConfig,
                    resume: dict | None = None, init: dict | None = None, progress: Progress | None = None,
                    device: torch.device | None = None) -> dict[str, Any]:
    """Train Wav2Lip: L1 reconstruction, plus the frozen expert's sync loss once its eval value on
    generated frames is below ``sync_threshold`` (then weight ``sync_weight``), plus the
    visual-quality GAN with ``gan``. ``init``: generator state dict to fine-tune (wav2lip.pth)."""
    device = device or default_device()
    progress = progress or Progress()
    expert = expert.to(device).eval().requires_grad_(False)
    model = Wav2Lip().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.5, 0.999))
    disc = Wav2Lip_disc_qual().to(device) if config.gan else None
    disc_opt = torch.optim.Adam(disc.parameters(), lr=config.lr, betas=(0.5, 0.999)) if disc else None
    step, sync_wt = 0, 0.0
    eval_row: dict[str, float] = {}
    if resume:
        model.load_state_dict(resume["state_dict"])
        opt.load_state_dict(resume["optimizer"])
        step, sync_wt = int(resume["global_step"]), float(resume.get("syncnet_wt", 0.0))
        if disc is not None and resume.get("disc"):
            disc.load_state_dict(resume["disc"]["state_dict"])
            disc_opt.load_state_dict(resume["disc"]["optimizer"])
    elif init:
        model.load_state_dict(init)
    rng = np.random.default_rng([config.seed, step])

    def expert_loss(g: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        return sync_loss(*expert(mel, lower_halves(g)), torch.ones(len(g), device=g.device))

    def losses(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        g = model(batch["indiv_mels"], batch["x"])
        out = {"g": g, "l1": F.l1_loss(g, batch["gt"]), "sync": expert_loss(g, batch["mel"])}
        out["perceptual"] = disc.perceptual_loss(g) if disc is not None else torch.zeros((), device=device)
        return out

    def evaluate_now() -> dict[str, float]:
        model.eval()
        erng = np.random.default_rng(config.seed + 1)
        rows = []
        with torch.no_grad():
            for _ in range(config.eval_batches):
                b = {k: v.to(device) for k, v in generator_batch(evaluate, config.batch_size, erng).items()}
                out = losses(b)
                rows.append((out["l1"].item(), out["sync"].item()))
        model.train()
        return {"eval_l1": float(np.mean([r[0] for r in rows])), "eval_sync": float(np.mean([r[1] for r in rows]))}

    def state() -> dict[str, Any]:
        return {"state_dict": model.state_dict(), "optimizer": opt.state_dict(), "global_step": step,
                "global_epoch": 0, "syncnet_wt": sync_wt, **eval_row,
                "disc": {"state_dict": disc.state_dict(), "optimizer": disc_opt.state_dict()} if disc else None}

    model.train()
    while step < config.steps:
        batch = {k: v.to(device) for k, v in generator_batch(train, config.batch_size, rng).items()}
        out = losses(batch)
        disc_wt = config.disc_weight if disc is not None else 0.0
        loss = sync_wt * out["sync"] + disc_wt * out["perceptual"] + (1.0 - sync_wt - disc_wt) * out["l1"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        row = {"stage": "generator", "step": step + 1, "loss": float(loss.item()), "l1": float(out["l1"].item()),
               "sync": float(out["sync"].item()), "syncnet_wt": sync_wt}
        if disc is not None:  # the discriminator learns real lower faces from the generator's
            real, fake = disc(batch["gt"]), disc(out["g"].detach())
            d_loss = F.binary_cross_entropy(real, torch.ones_like(real)) + F.binary_cross_entropy(fake, torch.zeros_like(fake))
            disc_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            disc_opt.step()
            row.update(perceptual=float(out["perceptual"].item()), disc=float(d_loss.item()))
        step += 1
        if step % config.eval_every == 0 or step == config.steps:
            eval_row = evaluate_now()
            if sync_wt == 0.0 and eval_row["eval_sync"] < config.sync_threshold:
                sync_wt = config.sync_weight  # once on, it stays on (as in the public code)
            progress.metrics({**row, **eval_row, "syncnet_wt": sync_wt})
        if step % config.checkpoint_every == 0 or step == config.steps:
            progress.on_checkpoint(state())
    return state()
