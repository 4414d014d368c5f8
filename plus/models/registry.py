"""Every encoder type built from its spec, and the record a result carries: type, path, sha256 of the weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from plus.errors import InputError
from plus.io import file_sha256
from plus.settings import EncoderSpec, parse_encoder_spec


def open_encoder(spec: Any) -> nn.Module:
    """The encoder a spec names, with its weights loaded, in eval mode."""
    spec = parse_encoder_spec(spec)
    if spec.type == "plus":
        from plus.models.checkpoint import load_encoder

        if spec.path is None:
            raise InputError("encoder.path: type plus needs our checkpoint (model.pt)")
        return load_encoder(spec.path)
    if spec.type == "plus-authors":
        from plus.models.authors import load_authors_encoder

        return load_authors_encoder(spec.path, add_start_stop=spec.add_start_stop)
    if spec.type == "huggingface":
        from plus.models.huggingface import load_huggingface_encoder

        return load_huggingface_encoder(spec.path, spec.layer, spec.max_residues, spec.window_overlap)
    if spec.type == "random":
        return random_like(spec.like, spec.seed)
    from plus.models.controls import Blosum62Encoder, OneHotEncoder

    return (OneHotEncoder() if spec.type == "onehot" else Blosum62Encoder()).eval()


def random_like(like: Any, seed: int = 0) -> nn.Module:
    """The same architecture as `like`, untrained: weights freshly initialised from `seed` (its own are never read).

    The global random state is left as it was, so what a job draws after opening its encoder (a head's initial
    weights) does not depend on the encoder type.
    """
    with torch.random.fork_rng(devices=[]):
        return _initialised_like(parse_encoder_spec(like, "like"), seed)


def _initialised_like(like: EncoderSpec, seed: int) -> nn.Module:
    if like.type == "plus":
        from plus.models import build_encoder, parse_encoder_config
        from plus.models.checkpoint import load_checkpoint

        if like.path is None and like.preset is None:
            raise InputError("like: a plus encoder needs a path or a preset")
        if like.path is not None:
            config = parse_encoder_config(load_checkpoint(like.path)["model_config"], source=f"{like.path}")
        else:
            config = like.preset
        torch.manual_seed(seed)
        return build_encoder(config, **like.architecture).eval()
    if like.type == "plus-authors":
        from plus.models.authors import AuthorsPlusRNN, authors_config, read_authors_state

        config = authors_config(read_authors_state(like.path), source=like.path)
        torch.manual_seed(seed)
        return AuthorsPlusRNN(config, add_start_stop=like.add_start_stop).eval()
    if like.type == "huggingface":
        from plus.models.huggingface import load_huggingface_encoder

        return load_huggingface_encoder(
            like.path, like.layer, like.max_residues, like.window_overlap, pretrained=False, seed=seed
        )
    raise InputError(f"like: a {like.type} encoder has no weights to re-initialise")


def architecture(spec: Any) -> nn.Module:
    """The encoder of a spec with initial weights only: what a fine-tuned state dict is loaded into."""
    spec = parse_encoder_spec(spec)
    if spec.type == "random":
        return random_like(spec.like, spec.seed)
    if spec.type in ("plus", "plus-authors", "huggingface"):
        return random_like(spec)
    return open_encoder(spec)


def weights_sha256(spec: EncoderSpec) -> str | None:
    """sha256 of the weights a spec reads (None for controls and random initialisations)."""
    if spec.type in ("plus", "plus-authors") and spec.path is not None:
        if not Path(spec.path).is_file():
            raise InputError(f"{spec.path}: encoder weights file not found")
        return file_sha256(spec.path)
    if spec.type == "huggingface":
        from plus.models.huggingface import weights_sha256 as directory_sha256

        return directory_sha256(spec.path)
    return None


def encoder_record(spec: Any) -> dict[str, Any]:
    """What results record about their encoder: type, path, sha256 of the weights, and the full spec."""
    spec = parse_encoder_spec(spec)
    path = spec.like.path if spec.type == "random" else getattr(spec, "path", None)
    return {"type": spec.type, "path": path, "sha256": weights_sha256(spec), "spec": spec.model_dump(mode="json")}


def encoder_model_config(encoder: nn.Module) -> dict[str, Any]:
    """Our architecture config of a PLUS encoder; {} for others (their spec in the checkpoint rebuilds them)."""
    from plus.models.configs import RNNConfig, TransformerConfig

    config = getattr(encoder, "config", None)
    return config.model_dump(mode="json") if isinstance(config, RNNConfig | TransformerConfig) else {}
