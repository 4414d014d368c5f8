"""Pretraining objectives: MLM masking, soft symmetric alignment, ordinal regression, the PLUS loss."""

from plus.objectives.masking import IGNORE_INDEX, mask_tokens
from plus.objectives.ordinal import (
    OrdinalRegression,
    exceedance_probabilities,
    expected_level,
    level_probabilities,
    ordinal_loss,
)
from plus.objectives.pretraining import PretrainingModel, PretrainLossConfig, SFPHead
from plus.objectives.ssa import soft_symmetric_alignment

__all__ = [
    "IGNORE_INDEX",
    "OrdinalRegression",
    "PretrainLossConfig",
    "PretrainingModel",
    "SFPHead",
    "exceedance_probabilities",
    "expected_level",
    "level_probabilities",
    "mask_tokens",
    "ordinal_loss",
    "soft_symmetric_alignment",
]
