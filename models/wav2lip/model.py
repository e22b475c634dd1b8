"""The Wav2Lip generator (Prajwal et al., 2020), layer for layer as the public code.

Attribute names and the order of modules are the public ones (``face_encoder_blocks``,
``audio_encoder``, ``face_decoder_blocks``, ``output_block``, every conv wrapped as
``conv_block``), so a public ``state_dict`` loads without renaming. Shapes in comments are
(B, C, H, W) for one frame.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class Conv2d(nn.Module):
    """conv → batch-norm → (+x) → ReLU; the public ``models/conv.py`` block."""

    def __init__(self, cin: int, cout: int, kernel_size, stride, padding, residual: bool = False):
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel_size, stride, padding), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return self.act(out)


class Conv2dTranspose(nn.Module):
    def __init__(self, cin: int, cout: int, kernel_size, stride, padding, output_padding: int = 0):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, kernel_size, stride, padding, output_padding), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


class NoNormConv2d(nn.Module):
    """conv → LeakyReLU(0.01): the visual-quality discriminator's block (public ``nonorm_Conv2d``)."""

    def __init__(self, cin: int, cout: int, kernel_size, stride, padding):
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel_size, stride, padding))
        self.act = nn.LeakyReLU(0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


def _res(c: int) -> Conv2d:
    return Conv2d(c, c, 3, 1, 1, residual=True)


def audio_encoder(last_res: int) -> nn.Sequential:
    """(B, 1, 80, 16) mel window → (B, 512, 1, 1). Shared by the generator (1 residual block at
    256 channels) and the expert (2): the public code differs there."""
    return nn.Sequential(
        Conv2d(1, 32, 3, 1, 1), _res(32), _res(32),                   # 80×16
        Conv2d(32, 64, 3, (3, 1), 1), _res(64), _res(64),             # 27×16
        Conv2d(64, 128, 3, 3, 1), _res(128), _res(128),               # 9×6
        Conv2d(128, 256, 3, (3, 2), 1), *[_res(256) for _ in range(last_res)],  # 3×3
        Conv2d(256, 512, 3, 1, 0),                                    # 1×1
        Conv2d(512, 512, 1, 1, 0),
    )


class Wav2Lip(nn.Module):
    """(mel (B,1,80,16), faces (B,6,96,96) BGR in [0,1]: masked target ‖ reference) → (B,3,96,96).

    Also takes sequences, as in training: mel (B,T,1,80,16) and faces (B,6,T,96,96) → (B,3,T,96,96).
    """

    def __init__(self):
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList([
            nn.Sequential(Conv2d(6, 16, 7, 1, 3)),                                          # 96
            nn.Sequential(Conv2d(16, 32, 3, 2, 1), _res(32), _res(32)),                     # 48
            nn.Sequential(Conv2d(32, 64, 3, 2, 1), _res(64), _res(64), _res(64)),           # 24
            nn.Sequential(Conv2d(64, 128, 3, 2, 1), _res(128), _res(128)),                  # 12
            nn.Sequential(Conv2d(128, 256, 3, 2, 1), _res(256), _res(256)),                 # 6
            nn.Sequential(Conv2d(256, 512, 3, 2, 1), _res(512)),                            # 3
            nn.Sequential(Conv2d(512, 512, 3, 1, 0), Conv2d(512, 512, 1, 1, 0)),           # 1
        ])
        self.audio_encoder = audio_encoder(last_res=1)
        # Input channels = previous block's output + the encoder feature concatenated after it.
        self.face_decoder_blocks = nn.ModuleList([
            nn.Sequential(Conv2d(512, 512, 1, 1, 0)),                                       # 1
            nn.Sequential(Conv2dTranspose(1024, 512, 3, 1, 0), _res(512)),                  # 3
            nn.Sequential(Conv2dTranspose(1024, 512, 3, 2, 1, 1), _res(512), _res(512)),    # 6
            nn.Sequential(Conv2dTranspose(768, 384, 3, 2, 1, 1), _res(384), _res(384)),     # 12
            nn.Sequential(Conv2dTranspose(512, 256, 3, 2, 1, 1), _res(256), _res(256)),     # 24
            nn.Sequential(Conv2dTranspose(320, 128, 3, 2, 1, 1), _res(128), _res(128)),     # 48
            nn.Sequential(Conv2dTranspose(160, 64, 3, 2, 1, 1), _res(64), _res(64)),        # 96
        ])
        self.output_block = nn.Sequential(Conv2d(80, 32, 3, 1, 1), nn.Conv2d(32, 3, 1, 1, 0), nn.Sigmoid())

    def forward(self, audio_sequences: torch.Tensor, face_sequences: torch.Tensor) -> torch.Tensor:
        B = audio_sequences.size(0)
        sequence = face_sequences.dim() > 4
        if sequence:  # fold time into the batch, time-major as the public code (its split relies on it)
            audio_sequences = torch.cat([audio_sequences[:, i] for i in range(audio_sequences.size(1))], dim=0)
            face_sequences = torch.cat([face_sequences[:, :, i] for i in range(face_sequences.size(2))], dim=0)

        feats = []
        x = face_sequences
        for block in self.face_encoder_blocks:
            x = block(x)
            feats.append(x)

        x = self.audio_encoder(audio_sequences)  # (B, 512, 1, 1)
        for block in self.face_decoder_blocks:
            x = torch.cat((block(x), feats.pop()), dim=1)

        x = self.output_block(x)  # (B, 3, 96, 96)
        return torch.stack(torch.split(x, B, dim=0), dim=2) if sequence else x


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# -- inference-time rewrite ------------------------------------------------------------------

class _FoldedConv(nn.Module):
    """A block with its batch-norm folded into the conv: one pass over memory instead of three
    (conv, BN, add+ReLU are separate kernels in eager mode, and on CPU they cost as much as a
    third of the generator's time)."""

    def __init__(self, conv: nn.Module, residual: bool, act: nn.Module):
        super().__init__()
        self.conv, self.residual, self.act = conv, residual, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        if self.residual:
            out += x  # in place: ``out`` is a fresh tensor
        return self.act(out)


def _fold(conv: nn.Conv2d | nn.ConvTranspose2d, bn: nn.BatchNorm2d) -> nn.Module:
    conv = copy.deepcopy(conv)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (C_out,)
    w = conv.weight.detach()
    # Conv2d weights are (out, in, kh, kw); ConvTranspose2d weights are (in, out, kh, kw).
    shape = (1, -1, 1, 1) if isinstance(conv, nn.ConvTranspose2d) else (-1, 1, 1, 1)
    conv.weight = nn.Parameter(w * scale.reshape(shape))
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias)
    return conv


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-only copy of ``model`` with every conv+BN block folded (outputs equal within fp error)."""
    model = copy.deepcopy(model).eval()

    def rewrite(module: nn.Module) -> None:
        for name, child in module.named_children():
            if isinstance(child, (Conv2d, Conv2dTranspose)):
                conv, bn = child.conv_block[0], child.conv_block[1]
                setattr(module, name, _FoldedConv(_fold(conv, bn), getattr(child, "residual", False),
                                                  nn.ReLU(inplace=True)))
            else:
                rewrite(child)

    with torch.no_grad():
        rewrite(model)
    return model

