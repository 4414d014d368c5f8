"""Model configurations: the published PLUS architectures and tiny ones for tests and the demo."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from plus.errors import InputError

Kind = Literal["rnn", "tfm"]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of one encoder. RNN: `hidden` units per direction; TFM: model width `hidden`."""

    kind: Kind
    layers: int
    hidden: int
    proj_dim: int | None = 100  # z dimension; None: no projection, z = h (the authors' TFM has none)
    embed_dim: int = 21  # RNN token embedding width
    heads: int = 0  # TFM attention heads
    ffn: int = 0  # TFM feed-forward width
    max_len: int = 0  # TFM: longest input including [CLS]/[SEP]
    dropout: float = 0.0
    rnn_bucket_size: int = 16  # padded path on CPU: length-sorted groups of this many sequences (0: one group)
    original_layernorm: bool = False  # TFM: the authors' LayerNorm dividing by sqrt(std + eps)

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in ("rnn", "tfm"):
            problems.append(f"kind must be 'rnn' or 'tfm', not {self.kind!r}")
        if self.layers < 1 or self.hidden < 1:
            problems.append("layers and hidden must be positive")
        if self.proj_dim is not None and self.proj_dim < 1:
            problems.append("proj_dim must be positive or null")
        if not 0.0 <= self.dropout < 1.0:
            problems.append("dropout must be in [0, 1)")
        if self.rnn_bucket_size < 0:
            problems.append("rnn_bucket_size must be >= 0")
        if self.kind == "tfm":
            if self.heads < 1 or self.hidden % self.heads:
                problems.append("a transformer needs heads >= 1 dividing hidden")
            if self.ffn < 1 or self.max_len < 3:
                problems.append("a transformer needs ffn >= 1 and max_len >= 3")
        if problems:
            raise ValueError("invalid model config: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "model config") -> ModelConfig:
        """Build from a plain dict; unknown keys or bad values are an InputError naming `source`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"{source}: unknown model config keys {unknown}")
        try:
            return cls(**values)
        except (TypeError, ValueError) as error:
            raise InputError(f"{source}: {error}") from error


PRESETS: dict[str, ModelConfig] = {
    "plus-rnn-base": ModelConfig(kind="rnn", layers=3, hidden=512),
    "plus-rnn-large": ModelConfig(kind="rnn", layers=3, hidden=1024),
    "plus-tfm": ModelConfig(
        kind="tfm", layers=12, hidden=768, proj_dim=None, heads=12, ffn=3072, max_len=512, dropout=0.1
    ),
    "plus-rnn-tiny": ModelConfig(kind="rnn", layers=2, hidden=32, proj_dim=16),
    "plus-tfm-tiny": ModelConfig(
        kind="tfm", layers=2, hidden=64, proj_dim=None, heads=4, ffn=128, max_len=512, dropout=0.1
    ),
}


def resolve_config(preset: str | ModelConfig, **overrides: Any) -> ModelConfig:
    """A preset name or config, with fields replaced by `overrides` (an InputError names a bad key)."""
    if isinstance(preset, ModelConfig):
        config = preset
    elif preset in PRESETS:
        config = PRESETS[preset]
    else:
        raise InputError(f"unknown model preset {preset!r}; known: {sorted(PRESETS)}")
    if not overrides:
        return config
    return ModelConfig.from_dict({**config.to_dict(), **overrides}, source=f"overrides of {preset!r}")
