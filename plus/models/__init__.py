"""PLUS encoders (biLSTM and Transformer), their presets, task heads and checkpoints.

Importing this package is cheap (no torch): `build_encoder` and the encoder classes load on first use, so the
workflow can read the presets at `snakemake -n` time.
"""

from __future__ import annotations

import importlib
from typing import Any

from plus.models.presets import PRESETS, ModelConfig, resolve_config

_LAZY = {
    "PlusRNN": "plus.models.rnn",
    "PlusTFM": "plus.models.transformer",
    "build_encoder": "plus.models.build",
    "count_parameters": "plus.models.build",
    "Encoder": "plus.models.build",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PRESETS",
    "Encoder",
    "ModelConfig",
    "PlusRNN",
    "PlusTFM",
    "build_encoder",
    "count_parameters",
    "resolve_config",
]
