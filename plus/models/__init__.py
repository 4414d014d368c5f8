"""PLUS encoders (biLSTM and Transformer), their config types and presets, task heads and checkpoints.

Importing this package is cheap (no torch): `build_encoder` and the encoder classes load on first use, so the
workflow can read the presets at `snakemake -n` time.
"""

from __future__ import annotations

import importlib
from typing import Any

from plus.models.configs import EncoderConfig, RNNConfig, TransformerConfig, parse_encoder_config
from plus.models.presets import PRESETS, preset_config

_LAZY = {
    "Encoder": "plus.models.encoder",
    "PairEncoding": "plus.models.encoder",
    "PlusRNN": "plus.models.rnn",
    "PlusTFM": "plus.models.transformer",
    "ENCODERS": "plus.models.build",
    "build_encoder": "plus.models.build",
    "count_parameters": "plus.models.build",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ENCODERS",
    "PRESETS",
    "Encoder",
    "EncoderConfig",
    "PairEncoding",
    "PlusRNN",
    "PlusTFM",
    "RNNConfig",
    "TransformerConfig",
    "build_encoder",
    "count_parameters",
    "parse_encoder_config",
    "preset_config",
]
