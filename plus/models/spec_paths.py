"""Where a relative encoder path recorded in a checkpoint points, wherever the checkpoint is opened from.

The workflow records paths relative to the directory it runs in (e.g. `results/pretrain/m/model.pt`), and a
fine-tuned or probe model.pt lies below that directory (`results/probe/m/t/seed0/model.pt`). A relative path is
therefore looked for, in order, (1) in the current working directory, then (2) in each directory above the
checkpoint, nearest first; the first candidate that exists is used. Absolute paths are used as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

from plus.errors import InputError
from plus.models.specs import EncoderSpec, parse_encoder_spec


def path_candidates(recorded: str, checkpoint: str | os.PathLike[str]) -> list[Path]:
    """The places a recorded path may be, in the order they are tried."""
    path = Path(recorded)
    if path.is_absolute():
        return [path]
    anchors = [Path.cwd(), *Path(checkpoint).resolve().parents]
    return list(dict.fromkeys(anchor / path for anchor in anchors))


def resolve_recorded_path(recorded: str, checkpoint: str | os.PathLike[str]) -> str:
    """The first candidate of `recorded` that exists, or an InputError naming the checkpoint and the path."""
    candidates = path_candidates(recorded, checkpoint)
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    where = "" if len(candidates) == 1 else " (looked in the working directory and every directory above it)"
    raise InputError(f"{checkpoint}: its encoder {recorded} was not found{where}")


def resolve_spec_paths(spec: EncoderSpec, checkpoint: str | os.PathLike[str]) -> EncoderSpec:
    """The spec with its `path` (and its `like.path` for random) resolved as the module docstring says."""
    return parse_encoder_spec(spec).with_paths(lambda path: resolve_recorded_path(path, checkpoint))
