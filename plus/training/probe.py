"""Frozen probes: fine-tuning's module, data, head, early stopping and metrics over precomputed encoder states.

A probe is `run_finetune` with a CachedEncoder in place of the encoder: the states come from `plus embed-task`
instead of a forward pass, and nothing of the encoder is trained. The auxiliary MLM loss is off (a frozen
encoder learns nothing from it); everything else (splits, samplers, batch sizes, head, loss, optimiser, patience,
checkpoint format, evaluation and metrics) is the fine-tuning code itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plus.data.batching.task_examples import TargetScaling
from plus.data.embedding_store import EmbeddingSplit
from plus.errors import InputError
from plus.inference.embed_task import layout_for, representation_for
from plus.models.cached import CachedEncoder
from plus.settings import FinetuneJob, FinetuneSettings, parse_settings
from plus.tasks import TaskSpec
from plus.training.finetune import FinetuneModule, run_finetune


def read_manifest(embeddings: str | Path) -> dict[str, Any]:
    """manifest.json of an embeddings directory, or an InputError naming it."""
    path = Path(embeddings) / "manifest.json"
    if not path.is_file():
        raise InputError(f"{path}: not found (an embeddings directory is written by `plus embed-task`)")
    return json.loads(path.read_text())


def probe_spec(spec: TaskSpec) -> TaskSpec:
    """The task as a probe trains it: the same in every respect but without the auxiliary MLM loss."""
    return spec.model_copy(update={"aux_mlm_weight": 0.0})


def check_embeddings(manifest: dict[str, Any], spec: TaskSpec, source: str) -> None:
    """The stored states must be of this task and be what its head reads."""
    if manifest["task"] != spec.name:
        raise InputError(f"{source}: embeddings of task {manifest['task']!r}, not {spec.name!r}")
    wanted = representation_for(spec)
    if manifest["representation"] != wanted:
        raise InputError(f"{source}: the stored states are {manifest['representation']}, the head reads {wanted}")
    if manifest["layout"] == "pooled" and layout_for(spec) != "pooled":
        raise InputError(f"{source}: pooled states, but this head does not sum over residues (it needs residues)")


def cached_encoder(embeddings: str | Path, manifest: dict[str, Any], splits: tuple[str, ...]) -> CachedEncoder:
    """A CachedEncoder over the stores of `splits`."""
    return CachedEncoder([EmbeddingSplit(embeddings, split, manifest["layout"]) for split in splits])


def run_probe(
    job: FinetuneJob, embeddings: Path, data_dir: Path, out_dir: Path, checkpoint_dir: Path
) -> dict[str, Any]:
    """Train the task's head on stored states (train and valid splits); write what `plus finetune` writes."""
    spec = probe_spec(job.task)
    manifest = read_manifest(embeddings)
    check_embeddings(manifest, spec, str(embeddings))
    encoder = cached_encoder(embeddings, manifest, ("train", "valid"))
    states = {key: manifest[key] for key in ("representation", "layout", "dtype")}
    provenance = {"encoder": manifest["encoder"], "protocol": "probe", "states": states}
    return run_finetune(job.model_copy(update={"task": spec}), data_dir, out_dir, checkpoint_dir, encoder, provenance)


def probe_module(checkpoint: dict[str, Any], path: str | Path, embeddings: str | Path) -> FinetuneModule:
    """A trained probe over the stored states of the valid and test splits, ready for evaluation."""
    if checkpoint.get("protocol") != "probe":
        raise InputError(f"{path}: not a probe checkpoint (evaluate it without --embeddings)")
    spec = TaskSpec.from_dict(checkpoint["task"])
    manifest = read_manifest(embeddings)
    check_embeddings(manifest, spec, str(embeddings))
    if manifest["encoder"] != checkpoint["encoder"]:
        raise InputError(f"{embeddings}: computed by another encoder than the one {path} was trained on")
    encoder = cached_encoder(embeddings, manifest, ("valid", *spec.test_splits))
    training = parse_settings(FinetuneSettings, checkpoint.get("training", {}), f"{path}: training")
    module = FinetuneModule(encoder, spec, training, TargetScaling(**checkpoint["scaling"]), checkpoint["seed"])
    module.load_state_dict(checkpoint["state_dict"])
    return module.eval()
