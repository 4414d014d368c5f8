"""Named encoder configurations: the published PLUS architectures and tiny ones for tests and the demo."""

from __future__ import annotations

from typing import Any

from plus.errors import InputError
from plus.models.configs import RNNConfig, TransformerConfig, parse_encoder_config

PRESETS: dict[str, RNNConfig | TransformerConfig] = {
    "plus-rnn-base": RNNConfig(layers=3, hidden=512),
    "plus-rnn-large": RNNConfig(layers=3, hidden=1024),
    "plus-tfm": TransformerConfig(layers=12, hidden=768, heads=12, ffn=3072),
    "plus-rnn-tiny": RNNConfig(layers=2, hidden=32, proj_dim=16),
    "plus-tfm-tiny": TransformerConfig(layers=2, hidden=64, heads=4, ffn=128),
}


def preset_config(preset: str | RNNConfig | TransformerConfig, **overrides: Any) -> RNNConfig | TransformerConfig:
    """A preset (by name) or a config, with fields replaced by `overrides`; an InputError names a bad preset or key."""
    if isinstance(preset, (RNNConfig, TransformerConfig)):
        config, name = preset, f"{preset.kind} config"
    elif preset in PRESETS:
        config, name = PRESETS[preset], f"preset {preset!r}"
    else:
        raise InputError(f"unknown model preset {preset!r}; known: {sorted(PRESETS)}")
    if not overrides:
        return config
    return parse_encoder_config({**config.model_dump(), **overrides}, source=f"model overrides of {name}")
