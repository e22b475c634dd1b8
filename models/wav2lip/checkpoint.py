"""Checkpoints in the public Wav2Lip format: ``{'state_dict', 'optimizer', 'global_step',
'global_epoch'}``, keys possibly prefixed ``module.`` (saved from ``nn.DataParallel``).

Loading never executes code from the file: ``torch.load(weights_only=True)`` refuses any pickle
that builds objects other than tensors and plain containers, so a checkpoint downloaded from
anywhere cannot run anything.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lipsync_sts.errors import UserInputError

from .discriminator import Wav2Lip_disc_qual
from .model import Wav2Lip
from .syncnet import SyncNet_color

ARCHITECTURES: dict[str, type[nn.Module]] = {
    "wav2lip": Wav2Lip,  # wav2lip.pth, wav2lip_gan.pth
    "syncnet": SyncNet_color,  # lipsync_expert.pth
    "disc": Wav2Lip_disc_qual,  # visual_quality_disc.pth
}


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The file's top-level dict (a bare state dict is wrapped as ``{'state_dict': ...}``)."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"checkpoint {path} does not exist; pass --checkpoint with the path of a Wav2Lip "
                             ".pth file (wav2lip.pth, wav2lip_gan.pth or one trained with flows/train_lipsync.py)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "GLOBAL" not in text and not zipfile.is_zipfile(path):  # garbage, not a refused object
            raise UserInputError(f"checkpoint {path} is not a readable PyTorch file (it does not unpickle); "
                                 "check the path") from None
        detail = next((line.strip() for line in text.splitlines() if "GLOBAL" in line), text.splitlines()[0])
        raise UserInputError(
            f"checkpoint {path} holds more than weights (Python objects that loading would have to execute), "
            f"so the safe loader (torch.load with weights_only=True) refused it: an untrusted file can run code "
            f"this way. If you trust its source, re-save it as a plain state dict. Detail: {detail}") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise UserInputError(f"checkpoint {path} is not a readable PyTorch file ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'truncated'}); check the path") from None
    if not isinstance(obj, dict):
        raise UserInputError(f"checkpoint {path} holds a {type(obj).__name__}, not a state dict")
    if "state_dict" not in obj:
        obj = {"state_dict": obj}
    if not isinstance(obj["state_dict"], dict):
        raise UserInputError(f"checkpoint {path}: 'state_dict' is a {type(obj['state_dict']).__name__}, not a dict")
    obj["state_dict"] = strip_prefix(obj["state_dict"])
    return obj


def strip_prefix(state_dict: dict[str, Any], prefix: str = "module.") -> dict[str, Any]:
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in state_dict.items()}


def _identify(state_dict: dict[str, Any]) -> str | None:
    keys = set(state_dict)
    for name, cls in ARCHITECTURES.items():
        if set(cls().state_dict()) == keys:
            return name
    return None


def check_state_dict(model: nn.Module, state_dict: dict[str, Any], source: str) -> None:
    """A :class:`UserInputError` naming expected and found keys (and shapes) unless they agree."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [f"{k}: expected {tuple(v.shape)}, found {tuple(state_dict[k].shape)}"
              for k, v in expected.items()
              if k in state_dict and isinstance(state_dict[k], torch.Tensor) and state_dict[k].shape != v.shape]
    if not (missing or unexpected or shapes):
        return
    found = _identify(state_dict)
    hint = (f"; it looks like a {ARCHITECTURES[found].__name__} checkpoint" if found
            else "; it does not match any Wav2Lip architecture")

    def few(items: list[str]) -> str:
        return ", ".join(items[:4]) + (f" … ({len(items)} in all)" if len(items) > 4 else "")

    parts = [f"missing keys expected by {type(model).__name__}: {few(missing)}" if missing else "",
             f"unexpected keys found: {few(unexpected)}" if unexpected else "",
             f"shape mismatches: {few(shapes)}" if shapes else ""]
    raise UserInputError(f"checkpoint {source} does not fit {type(model).__name__}{hint}. "
                         + "; ".join(p for p in parts if p))


def load_model(path: str | os.PathLike, architecture: str = "wav2lip") -> nn.Module:
    """A model of ``architecture`` (wav2lip | syncnet | disc) with the file's weights, in eval mode."""
    model = ARCHITECTURES[architecture]()
    state = read_checkpoint(path)["state_dict"]
    check_state_dict(model, state, str(path))
    model.load_state_dict(state)
    return model.eval()


def save_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    step: int = 0, epoch: int = 0, **extra: Any) -> None:
    """Write the public layout (so the public code can load ours), atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part")
    torch.save({"state_dict": model.state_dict(),
                "optimizer": optimizer.state_dict() if optimizer is not None else None,
                "global_step": int(step), "global_epoch": int(epoch), **extra}, tmp)
    os.replace(tmp, path)
