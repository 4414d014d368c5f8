"""Building encoders from presets or configs, and counting their parameters."""

from __future__ import annotations

from typing import Any

from torch import nn

from plus.models.configs import RNNConfig, TransformerConfig
from plus.models.encoder import Encoder
from plus.models.presets import preset_config
from plus.models.rnn import PlusRNN
from plus.models.transformer import PlusTFM

ENCODERS: dict[str, type[Encoder]] = {"rnn": PlusRNN, "tfm": PlusTFM}


def build_encoder(preset: str | RNNConfig | TransformerConfig, **overrides: Any) -> Encoder:
    """A freshly initialised encoder for a preset name or config, with config fields replaced by `overrides`."""
    config = preset_config(preset, **overrides)
    return ENCODERS[config.kind](config)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (tied weights counted once)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
