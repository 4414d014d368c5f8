"""Our checkpoint files: a dict of tensors and plain values, loadable with torch.load(weights_only=True).

Layout: {"format": "plus", "version": 2, "kind": "encoder" | "finetuned", "model_config": {"kind": "rnn" | "tfm",
...}, "state_dict": {...}, **extra}; model_config is the encoder's RNNConfig or TransformerConfig as a plain dict.
For kind "encoder" the state dict is the encoder's own; other kinds may hold a larger model whose encoder weights
are under the "encoder." prefix (load_encoder handles both). Version 1 stored one config type for both
architectures and is not read.
"""

from __future__ import annotations

import errno
import os
import zipfile
from pathlib import Path
from typing import Any

import torch

from plus.errors import InputError
from plus.io import atomic_path
from plus.models import Encoder, RNNConfig, TransformerConfig, build_encoder, parse_encoder_config

FORMAT = "plus"
VERSION = 2
KINDS = ("encoder", "finetuned")
ENCODER_PREFIX = "encoder."


def save_checkpoint(
    path: str | os.PathLike[str],
    kind: str,
    model_config: RNNConfig | TransformerConfig | dict[str, Any],
    state_dict: dict[str, torch.Tensor],
    **extra: Any,
) -> None:
    """Write a checkpoint atomically; `extra` values must be tensors or plain Python values."""
    if kind not in KINDS:
        raise ValueError(f"checkpoint kind must be one of {KINDS}, not {kind!r}")
    reserved = {"format", "version", "kind", "model_config", "state_dict"} & set(extra)
    if reserved:
        raise ValueError(f"extra checkpoint keys may not replace {sorted(reserved)}")
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "model_config": model_config if isinstance(model_config, dict) else model_config.model_dump(),
        "state_dict": {name: tensor.detach().cpu() for name, tensor in state_dict.items()},
        **extra,
    }
    write_torch_file(payload, path)


def write_torch_file(payload: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """torch.save into a temporary sibling `.<name>.<random>.tmp`, then moved into place (a full disk: ENOSPC)."""
    with atomic_path(path) as tmp:
        try:
            with open(tmp, "wb") as handle:  # a handle, not a path: torch names the archive after the file
                torch.save(payload, handle)
        except RuntimeError as error:  # torch's zip writer reports a full disk as "unexpected pos ..."
            raise OSError(errno.ENOSPC, f"could not write the checkpoint ({error})", str(path)) from error


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read one of our checkpoints (tensors on CPU); an InputError names a missing, foreign or broken file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint file not found")
    if not zipfile.is_zipfile(path):
        raise InputError(
            f"{path}: not a PLUS checkpoint (not a zip archive, as torch.save writes: truncated, or another kind "
            "of file)"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # arbitrary bytes fail in many ways inside the unpickler
        reason = " ".join(str(error).split())[:200]
        raise InputError(
            f"{path}: not a PLUS checkpoint (cannot be read as a weights-only torch file, truncated or not written "
            f"by torch.save: {reason})"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"{path}: not a PLUS checkpoint (no 'format': {FORMAT!r} key)")
    if payload.get("version") == 1:
        raise InputError(
            f"{path}: checkpoint version 1 (one config type for both encoders) is no longer read; "
            f"re-run the training that wrote it to get version {VERSION}"
        )
    if payload.get("version") != VERSION:
        raise InputError(f"{path}: checkpoint version {payload.get('version')!r}, this code reads {VERSION}")
    for key in ("kind", "model_config", "state_dict"):
        if key not in payload:
            raise InputError(f"{path}: checkpoint lacks the {key!r} key")
    if payload["kind"] not in KINDS:
        raise InputError(f"{path}: unknown checkpoint kind {payload['kind']!r}")
    return payload


def load_encoder(path: str | os.PathLike[str]) -> Encoder:
    """The encoder stored in a checkpoint, with its weights loaded, in eval mode."""
    payload = load_checkpoint(path)
    encoder = build_encoder(parse_encoder_config(payload["model_config"], source=f"{path}: model_config"))
    state = payload["state_dict"]
    if payload["kind"] != "encoder" or any(name.startswith(ENCODER_PREFIX) for name in state):
        state = {name[len(ENCODER_PREFIX) :]: t for name, t in state.items() if name.startswith(ENCODER_PREFIX)}
    try:
        encoder.load_state_dict(state)
    except RuntimeError as error:
        raise InputError(f"{path}: encoder weights do not match its model_config: {error}") from error
    return encoder.eval()
