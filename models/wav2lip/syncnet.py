"""The expert lip-sync discriminator (public ``SyncNet_color``): trained first, then frozen.

Both embeddings pass a final ReLU, so they are non-negative and their cosine lies in [0, 1]:
that is why the cosine can serve directly as the probability of "in sync" under BCE.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .model import Conv2d, audio_encoder


def _res(c: int) -> Conv2d:
    return Conv2d(c, c, 3, 1, 1, residual=True)


class SyncNet_color(nn.Module):  # noqa: N801 - the public class name
    """(mel (B,1,80,16), lower halves of 5 frames (B,15,48,96)) → two (B,512) unit embeddings."""

    def __init__(self):
        super().__init__()
        self.face_encoder = nn.Sequential(
            Conv2d(15, 32, 7, 1, 3),                                          # 48×96
            Conv2d(32, 64, 5, (1, 2), 1), _res(64), _res(64),                # 46×47
            Conv2d(64, 128, 3, 2, 1), _res(128), _res(128), _res(128),       # 23×24
            Conv2d(128, 256, 3, 2, 1), _res(256), _res(256),                 # 12×12
            Conv2d(256, 512, 3, 2, 1), _res(512), _res(512),                 # 6×6
            Conv2d(512, 512, 3, 2, 1),                                        # 3×3
            Conv2d(512, 512, 3, 1, 0),                                        # 1×1
            Conv2d(512, 512, 1, 1, 0),
        )
        self.audio_encoder = audio_encoder(last_res=2)

    def forward(self, audio_sequences: torch.Tensor, face_sequences: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        face = self.face_encoder(face_sequences).flatten(1)
        audio = self.audio_encoder(audio_sequences).flatten(1)
        return F.normalize(audio, p=2, dim=1), F.normalize(face, p=2, dim=1)


def sync_probability(audio: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
    """(B,) cosine of the two unit embeddings, clamped away from 0/1 so BCE stays finite."""
    return F.cosine_similarity(audio, face).clamp(1e-7, 1 - 1e-7)


def sync_loss(audio: torch.Tensor, face: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE of the cosine-as-probability against 1 (in sync) / 0 (off sync)."""
    return F.binary_cross_entropy(sync_probability(audio, face), target.float())


def lower_halves(frames: torch.Tensor) -> torch.Tensor:
    """(B, 3, T, 96, 96) frames → (B, 3T, 48, 96): the lower halves stacked frame after frame,
    the layout the expert was trained on."""
    lower = frames[:, :, :, frames.size(3) // 2:]
    return torch.cat([lower[:, :, i] for i in range(lower.size(2))], dim=1)
