"""SyncNet v2, the architecture of the public ``syncnet_v2.model`` (joonson/syncnet_python ``S``).

Module names and shapes match that file so its state dict loads unchanged. Two towers map
5 face frames (3×5×224×224, BGR 0-255) and 20 MFCC frames (1×13×20, 0.2 s) to 1024-d features
whose Euclidean distance is small when lips and sound agree.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch
from torch import nn

from lipsync_sts.errors import UserInputError


def _conv2d(cin: int, cout: int, kernel=(3, 3), padding=(1, 1), stride=(1, 1)) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel_size=kernel, stride=stride, padding=padding), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _conv3d(cin: int, cout: int, kernel, stride=(1, 1, 1), padding=0) -> list[nn.Module]:
    return [nn.Conv3d(cin, cout, kernel_size=kernel, stride=stride, padding=padding), nn.BatchNorm3d(cout), nn.ReLU(inplace=True)]


def _fc(embedding: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embedding))


class SyncNet(nn.Module):
    """The public ``S``: indices inside each Sequential are part of the state-dict names."""

    def __init__(self, embedding: int = 1024):
        super().__init__()
        self.netcnnaud = nn.Sequential(  # (B, 1, 13, 20) -> (B, 512, 1, 1)
            *_conv2d(1, 64), nn.MaxPool2d(kernel_size=(1, 1), stride=(1, 1)),
            *_conv2d(64, 192), nn.MaxPool2d(kernel_size=(3, 3), stride=(1, 2)),
            *_conv2d(192, 384), *_conv2d(384, 256), *_conv2d(256, 256),
            nn.MaxPool2d(kernel_size=(3, 3), stride=(2, 2)),
            nn.Conv2d(256, 512, kernel_size=(5, 4), padding=(0, 0)), nn.BatchNorm2d(512), nn.ReLU(),
        )
        self.netfcaud = _fc(embedding)
        self.netfclip = _fc(embedding)
        self.netcnnlip = nn.Sequential(  # (B, 3, 5, 224, 224) -> (B, 512, 1, 1, 1)
            *_conv3d(3, 96, (5, 7, 7), stride=(1, 2, 2)), nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            *_conv3d(96, 256, (1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(2, 2, 2), padding=(0, 1, 1)),
            *_conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)),
            *_conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)),
            *_conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            *_conv3d(256, 512, (1, 6, 6)),
        )

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 13, 20) MFCCs -> (B, embedding)."""
        return self.netfcaud(self.netcnnaud(x).flatten(1))

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 5, 224, 224) BGR face crops in 0-255 -> (B, embedding)."""
        return self.netfclip(self.netcnnlip(x).flatten(1))


CONVERT_HINT = (
    "convert it once on a machine where you trust the file: "
    "python -c \"import torch; torch.save(dict(torch.load('syncnet_v2.model', weights_only=False, "
    "map_location='cpu')), 'syncnet_v2.pt')\" and pass the .pt file"
)


def load_syncnet(path: str | Path, device: str = "cpu") -> SyncNet:
    """The public ``syncnet_v2.model`` (or any state dict of :class:`SyncNet`), in eval mode.

    Loaded with ``weights_only=True``: the public file is a plain state dict of tensors, which
    that safe loader reads (the upstream repo loads it the same way); a file that needs arbitrary
    unpickling is refused with the command that converts it.
    """
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"SyncNet weights {path} do not exist; download syncnet_v2.model "
                             "(joonson/syncnet_python, download_model.sh) on a connected machine")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        first = re.sub(r"\x1b\[[0-9;]*m", "", str(exc).splitlines()[0] if str(exc) else "truncated")[:200]
        if "Weights only load failed" in first:
            raise UserInputError(f"SyncNet weights {path} cannot be loaded safely: they hold Python objects that "
                                 "loading would have to execute, so torch.load with weights_only=True refused them "
                                 f"(an untrusted file can run code this way); if you trust the file, {CONVERT_HINT}. "
                                 f"Detail: {first}") from None
        raise UserInputError(f"SyncNet weights {path} cannot be loaded safely ({type(exc).__name__}: "
                             f"{first}); {CONVERT_HINT}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserInputError(f"SyncNet weights {path} hold a {type(state).__name__}, not a state dict; {CONVERT_HINT}")
    state = {k.removeprefix("module.").removeprefix("__S__."): v for k, v in state.items()}
    model = SyncNet()
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    wrong = sorted(k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or wrong:
        raise UserInputError(f"{path} is not a SyncNet v2 state dict: {len(missing)} missing tensors "
                             f"({', '.join(missing[:3])}...), {len(wrong)} of another shape ({', '.join(wrong[:3])})")
    model.load_state_dict({k: state[k] for k in expected})
    return model.to(device).eval()
