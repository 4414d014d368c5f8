"""Encoder architectures as validated, immutable settings: one type per architecture, told apart by `kind`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from plus.errors import InputError


class RNNConfig(BaseModel):
    """PLUS-RNN: Embedding(embed_dim) -> `layers` biLSTM layers of `hidden` units per direction (h: 2 * hidden)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    kind: Literal["rnn"] = "rnn"
    layers: int = Field(ge=1)
    hidden: int = Field(ge=1)
    proj_dim: int | None = Field(default=100, ge=1)  # z dimension; None: no projection, z = h
    embed_dim: int = Field(default=21, ge=1)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)  # between LSTM layers
    rnn_bucket_size: int = Field(default=16, ge=0)  # on CPU: length-sorted groups of this many sequences (0: one)


class TransformerConfig(BaseModel):
    """PLUS-TFM: `layers` post-LN blocks of width `hidden` with `heads` attention heads and an `ffn`-wide MLP."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    kind: Literal["tfm"] = "tfm"
    layers: int = Field(ge=1)
    hidden: int = Field(ge=1)
    heads: int = Field(ge=1)
    ffn: int = Field(ge=1)
    max_len: int = Field(default=512, ge=3)  # longest input including [CLS]/[SEP]
    proj_dim: int | None = Field(default=None, ge=1)  # None: z = h (the authors' TFM has no projection)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    original_layernorm: bool = False  # the authors' LayerNorm dividing by sqrt(std + eps)
    init: Literal["bert", "pytorch"] = "bert"  # BERT's N(0, 0.02), or PyTorch's default initialisation (the authors')

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> TransformerConfig:
        if self.hidden % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide hidden ({self.hidden})")
        return self


EncoderConfig = Annotated[RNNConfig | TransformerConfig, Field(discriminator="kind")]
_ENCODER_CONFIG: TypeAdapter[RNNConfig | TransformerConfig] = TypeAdapter(EncoderConfig)


def _problems(error: ValidationError) -> str:
    """One line naming each bad key: `hidden: Input should be greater than or equal to 1; ...`."""
    parts = []
    for problem in error.errors():
        location = [str(part) for part in problem["loc"]]
        if location and location[0] in ("rnn", "tfm"):  # the union tag pydantic puts first
            location = location[1:]
        if problem["type"].startswith("union_tag"):
            location = ["kind"]
        parts.append(f"{'.'.join(location)}: {problem['msg']}" if location else problem["msg"])
    return "; ".join(parts)


def parse_encoder_config(values: Mapping[str, Any], source: str = "model config") -> RNNConfig | TransformerConfig:
    """The config a plain dict with its `kind` describes; an InputError names `source` and every bad key."""
    try:
        return _ENCODER_CONFIG.validate_python(dict(values))
    except ValidationError as error:
        raise InputError(f"{source}: {_problems(error)}") from None
