"""The visual-quality discriminator (public ``Wav2Lip_disc_qual``): real or generated lower face."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .model import NoNormConv2d


class Wav2Lip_disc_qual(nn.Module):  # noqa: N801 - the public class name
    """(B, 3, T, 96, 96) or (B, 3, 96, 96) faces → (B·T, 1) probability of "real", judged on the
    lower half (48×96) only, where the generator makes its changes."""

    def __init__(self):
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList([
            nn.Sequential(NoNormConv2d(3, 32, 7, 1, 3)),                                   # 48×96
            nn.Sequential(NoNormConv2d(32, 64, 5, (1, 2), 2), NoNormConv2d(64, 64, 5, 1, 2)),   # 48×48
            nn.Sequential(NoNormConv2d(64, 128, 5, 2, 2), NoNormConv2d(128, 128, 5, 1, 2)),     # 24
            nn.Sequential(NoNormConv2d(128, 256, 5, 2, 2), NoNormConv2d(256, 256, 5, 1, 2)),    # 12
            nn.Sequential(NoNormConv2d(256, 512, 3, 2, 1), NoNormConv2d(512, 512, 3, 1, 1)),    # 6
            nn.Sequential(NoNormConv2d(512, 512, 3, 2, 1), NoNormConv2d(512, 512, 3, 1, 1)),    # 3
            nn.Sequential(NoNormConv2d(512, 512, 3, 1, 0), NoNormConv2d(512, 512, 1, 1, 0)),    # 1
        ])
        self.binary_pred = nn.Sequential(nn.Conv2d(512, 1, 1, 1, 0), nn.Sigmoid())

    @staticmethod
    def _lower_half_2d(faces: torch.Tensor) -> torch.Tensor:
        if faces.dim() > 4:  # time folded into the batch, time-major like the generator
            faces = torch.cat([faces[:, :, i] for i in range(faces.size(2))], dim=0)
        return faces[:, :, faces.size(2) // 2:]

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        x = self._lower_half_2d(faces)
        for block in self.face_encoder_blocks:
            x = block(x)
        return self.binary_pred(x).view(len(x), -1)

    def perceptual_loss(self, fake: torch.Tensor) -> torch.Tensor:
        """The generator's adversarial term: BCE of the fakes against "real"."""
        pred = self(fake)
        return F.binary_cross_entropy(pred, torch.ones_like(pred))
