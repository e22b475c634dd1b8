"""Lip-sync evaluation (DESIGN.md §4): a landmark sync score that needs no weights, SyncNet
LSE-D/LSE-C where the user has ``syncnet_v2.model``, image checks against the input,
lip shape against a real reference video (reconstruction), and a report.
"""

from .evaluate import Evaluation, EvaluationConfig, compare_to_input, evaluate
from .image_checks import ImageCheckConfig, ImageChecks, check_images
from .reconstruction import ReconstructionConfig, ReconstructionScore, compare_to_reference
from .sync_score import SyncScore, SyncScoreConfig, score_sync

__all__ = ["Evaluation", "EvaluationConfig", "ImageCheckConfig", "ImageChecks", "ReconstructionConfig",
           "ReconstructionScore", "compare_to_reference", "SyncScore",
           "SyncScoreConfig", "check_images", "compare_to_input", "evaluate", "score_sync"]
