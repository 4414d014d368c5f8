"""Building encoders from presets or configs, and counting their parameters."""

from __future__ import annotations

from typing import Any

from torch import nn

from plus.models.presets import ModelConfig, resolve_config
from plus.models.rnn import PlusRNN
from plus.models.transformer import PlusTFM

Encoder = PlusRNN | PlusTFM


def build_encoder(preset: str | ModelConfig, **overrides: Any) -> Encoder:
    """A freshly initialised encoder for a preset name or config, with config fields replaced by `overrides`."""
    config = resolve_config(preset, **overrides)
    return PlusRNN(config) if config.kind == "rnn" else PlusTFM(config)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (tied weights counted once)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
