"""A trained probe that predicts new sequences: its head on states its recorded encoder computes on the fly.

A probe's model.pt holds the head, the task and the encoder record `{type, path, sha256, spec}` of the states it
was trained on, and (since `states` was recorded) their representation, layout and dtype. Loading it opens that
encoder (relative paths resolved as plus.models.spec_paths says), checks the weights' sha256 against the record
and wraps it in FrozenStates, so the head reads what `plus embed-task` would have stored for the sequence.
Lightning is never imported here (the Python API loads probes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plus.errors import InputError
from plus.inference.embed_task import layout_for, representation_for
from plus.models.frozen_states import FrozenStates
from plus.models.registry import open_encoder, weights_sha256
from plus.models.spec_paths import resolve_spec_paths
from plus.models.task_model import TaskModel, checkpoint_head_fields
from plus.settings import EncoderSpec, FinetuneSettings, parse_encoder_spec, parse_settings

HEAD_PREFIX = "head."


def probe_encoder_spec(checkpoint: dict[str, Any], path: str | Path) -> EncoderSpec:
    """The recorded encoder spec of a probe, its relative paths resolved; a one-line InputError when there is none."""
    record = checkpoint.get("encoder") or {}
    if "spec" not in record:
        raise InputError(
            f"{path}: this probe does not record its encoder's spec (written by an older version), so it cannot "
            "embed new sequences; re-run `plus probe` (and `plus embed-task`) with this version"
        )
    spec = resolve_spec_paths(parse_encoder_spec(record["spec"], f"{path}: encoder.spec"), path)
    expected = record.get("sha256")
    if expected is not None and weights_sha256(spec) != expected:
        raise InputError(f"{path}: the weights at {getattr(spec, 'path', spec)} are not those the probe was trained on")
    return spec


def probe_predictor(checkpoint: dict[str, Any], path: str | Path) -> TaskModel:
    """The probe as a TaskModel over FrozenStates of its encoder, in eval mode (no embeddings directory needed)."""
    if checkpoint.get("protocol") != "probe":
        raise InputError(f"{path}: not a probe checkpoint")
    task, scaling, seed = checkpoint_head_fields(checkpoint, path)
    states = checkpoint.get("states") or {}
    frozen = FrozenStates(
        open_encoder(probe_encoder_spec(checkpoint, path)),
        states.get("representation", representation_for(task)),
        states.get("layout", layout_for(task)),
        states.get("dtype", "float16"),
    )
    training = parse_settings(FinetuneSettings, checkpoint.get("training", {}), f"{path}: training")
    module = TaskModel(frozen, task, training, scaling, seed)
    head = {k[len(HEAD_PREFIX) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(HEAD_PREFIX)}
    try:
        module.head.load_state_dict(head)
    except RuntimeError as error:
        raise InputError(f"{path}: the head's weights do not fit its encoder's states: {error}") from error
    return module.eval()
