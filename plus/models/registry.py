"""Every encoder type built from its spec, and the record a result carries: type, path, sha256 of the weights.

Each spec class (plus.models.specs) says how its encoder is opened and initialised; these functions take a spec in
any form `parse_encoder_spec` reads (a spec, a mapping, or our checkpoint's path).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from plus.models.specs import EncoderSpec, parse_encoder_spec


def open_encoder(spec: Any) -> nn.Module:
    """The encoder a spec names, with its weights loaded, in eval mode."""
    return parse_encoder_spec(spec).open()


def random_like(like: Any, seed: int = 0) -> nn.Module:
    """The same architecture as `like`, untrained: weights freshly initialised from `seed` (its own are never read).

    The global random state is left as it was, so what a job draws after opening its encoder (a head's initial
    weights) does not depend on the encoder type.
    """
    return parse_encoder_spec(like, "like").initialise(seed)


def architecture(spec: Any) -> nn.Module:
    """The encoder of a spec with initial weights only: what a fine-tuned state dict is loaded into."""
    return parse_encoder_spec(spec).open_architecture()


def weights_sha256(spec: EncoderSpec) -> str | None:
    """sha256 of the weights a spec reads (None for controls and random initialisations)."""
    return spec.weights_sha256()


def encoder_record(spec: Any) -> dict[str, Any]:
    """What results record about their encoder: type, path, sha256 of the weights, and the full spec."""
    spec = parse_encoder_spec(spec)
    return {
        "type": spec.type,
        "path": spec.source_path,
        "sha256": spec.weights_sha256(),
        "spec": spec.model_dump(mode="json"),
    }


def encoder_model_config(encoder: nn.Module) -> dict[str, Any]:
    """Our architecture config of a PLUS encoder; {} for others (their spec in the checkpoint rebuilds them)."""
    from plus.models.configs import RNNConfig, TransformerConfig

    config = getattr(encoder, "config", None)
    return config.model_dump(mode="json") if isinstance(config, RNNConfig | TransformerConfig) else {}
