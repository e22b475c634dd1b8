"""Wav2Lip-compatible lip-sync GAN: generator, expert SyncNet, visual-quality discriminator, the
mel front-end and checkpoint I/O (public checkpoints load unchanged)."""

from .checkpoint import load_model, read_checkpoint, save_checkpoint
from .discriminator import Wav2Lip_disc_qual
from .model import Wav2Lip, count_parameters, fold_batchnorm
from .syncnet import SyncNet_color

__all__ = ["SyncNet_color", "Wav2Lip", "Wav2Lip_disc_qual", "count_parameters", "fold_batchnorm",
           "load_model", "read_checkpoint", "save_checkpoint"]
