"""SyncNet v2 (the public ``syncnet_v2.model``) and the LSE-D / LSE-C lip-sync measures.

No weights ship with any package: these run only where the user supplies the file.
"""

from .lse import LseResult, score_lse, video_crops
from .mfcc import mfcc
from .model import SyncNet, load_syncnet

__all__ = ["LseResult", "SyncNet", "load_syncnet", "mfcc", "score_lse", "video_crops"]
