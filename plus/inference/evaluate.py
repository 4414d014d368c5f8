"""Evaluation of a fine-tuned model: predictions on every test split, and the paper's metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from plus.data.task_data.canonical import read_split
from plus.errors import InputError, short_list
from plus.inference.batches import predict_outputs, prediction_columns
from plus.io import atomic_path
from plus.metrics.task import fit_homology_thresholds, task_metrics
from plus.models import build_encoder, parse_encoder_config
from plus.models.checkpoint import load_checkpoint
from plus.models.registry import architecture
from plus.models.spec_paths import resolve_spec_paths
from plus.models.task_model import TaskModel, checkpoint_head_fields
from plus.report.records import METRICS_FILE, evaluation_fields, write_evaluation
from plus.settings import EvaluateJob, FinetuneSettings, parse_settings
from plus.tasks import TaskSpec
from plus.tokens import encode


def load_finetuned(path: str | Path) -> TaskModel:
    """A fine-tuned model from its versioned `model.pt` (loaded with weights_only=True)."""
    return finetuned_module(load_checkpoint(path), path)


def finetuned_module(checkpoint: dict[str, Any], path: str | Path) -> TaskModel:
    """The fine-tuned model a loaded checkpoint holds: our encoder from its config, others from their spec (relative
    paths resolved as plus.models.spec_paths says)."""
    if checkpoint["kind"] != "finetuned":
        raise InputError(f"{path}: a {checkpoint['kind']} checkpoint, not a fine-tuned model")
    if checkpoint.get("protocol") == "probe":
        raise InputError(f"{path}: a probe; evaluate it with the embeddings it was trained on (--embeddings)")
    if "training" not in checkpoint:
        raise InputError(f"{path}: no fine-tuning settings in the checkpoint (written by an older version); re-run it")
    task, scaling, seed = checkpoint_head_fields(checkpoint, path)
    record = checkpoint.get("encoder") or {"type": "plus"}
    if not isinstance(record, dict) or "type" not in record or (record["type"] != "plus" and "spec" not in record):
        raise InputError(f"{path}: checkpoint 'encoder' must be {{type, spec}}, got {record!r}")
    if record["type"] == "plus":
        encoder = build_encoder(parse_encoder_config(checkpoint["model_config"], source=f"{path}: model_config"))
    else:
        encoder = architecture(resolve_spec_paths(record["spec"], path))
    training = parse_settings(FinetuneSettings, checkpoint["training"], f"{path}: training")
    module = TaskModel(encoder, task, training, scaling, seed)
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        reason = " ".join(str(error).split())[:300]
        raise InputError(f"{path}: weights do not match the model the checkpoint describes: {reason}") from error
    return module.eval()


def checkpoint_provenance(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The encoder record and protocol a fine-tuned or probe checkpoint carries (older ones: ours, fine-tuned)."""
    return {"encoder": checkpoint.get("encoder"), "protocol": checkpoint.get("protocol", "finetune")}


def predict_split(module: TaskModel, frame: pd.DataFrame, batch_size: int = 64) -> pd.DataFrame:
    """The predictions table of docs/design.md for one split."""
    tokens = [encode(sequence).tokens for sequence in frame["sequence"]]
    tokens_b = [encode(sequence).tokens for sequence in frame["sequence_b"]] if module.spec.task_shape.pairs else None
    outputs = predict_outputs(module, tokens, tokens_b, max_items=batch_size)
    table = pd.DataFrame({"id": frame["id"].astype(str).to_numpy(), "target": frame["label"].to_numpy()})
    for name, column in prediction_columns(module.spec, outputs).items():
        table[name] = column
    return table


def check_model_task(model_task: TaskSpec, job_task: TaskSpec, data_dir: Path, model_path: Path) -> None:
    """InputError unless the model was trained on the task the job names and the data holds (name, shape, classes)."""
    summary_path = data_dir / "summary.json"
    summary: dict[str, Any] = {}
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text())
        except ValueError as error:
            raise InputError(f"{summary_path}: not valid JSON ({error})") from error
    data_classes = (summary.get("classes") or {}).get("names") or job_task.classes
    expected = [
        ("name", job_task.name, "the job's task"),
        ("name", summary.get("task"), f"{summary_path}"),
        ("shape", job_task.shape, "the job's task"),
        ("shape", summary.get("shape"), f"{summary_path}"),
        ("classes", tuple(data_classes), "the data"),
    ]
    found = {"name": model_task.name, "shape": model_task.shape, "classes": tuple(model_task.classes)}
    for key, value, where in expected:
        if value is None or (key == "classes" and not (value and found["classes"])):
            continue
        if found[key] != value:
            raise InputError(
                f"{model_path}: a model of task {model_task.name!r} ({key} {short_list(found[key])}), "
                f"but {where} has {key} {short_list(value)}; evaluate it on its own task's data"
            )


def run_evaluation(
    job: EvaluateJob, model_path: Path, data_dir: Path, out_dir: Path, embeddings: Path | None = None
) -> dict[str, Any]:
    """Predict every test split, compute metrics, write predictions.parquet and metrics.json.

    A probe (model.pt of `plus probe`) reads its encoder's states from `embeddings` (`plus embed-task`)."""
    checkpoint = load_checkpoint(model_path)
    if embeddings is not None:
        from plus.training.probe import probe_module

        module = probe_module(checkpoint, model_path, embeddings)
    else:
        module = finetuned_module(checkpoint, model_path)
    check_model_task(module.spec, job.task, Path(data_dir), model_path)
    if torch.cuda.is_available():
        module = module.cuda()
    spec = module.spec
    data_dir, batch_size, settings = Path(data_dir), job.batch_size, job
    thresholds: list[float] | str | None = None
    if spec.task_shape.pairs:
        if settings.homology_thresholds == "self":
            thresholds = "self"
        else:
            valid = predict_split(module, read_split(data_dir, "valid"), batch_size)
            thresholds = fit_homology_thresholds(valid, settings.homology_score)
    tables, splits = [], {}
    for split in spec.test_splits:
        table = predict_split(module, read_split(data_dir, split), batch_size)
        result = task_metrics(spec, table, homology_thresholds=thresholds, homology_score=settings.homology_score)
        splits[split] = {**result, "n": len(table)}
        tables.append(table.assign(split=split))
    metrics = {**evaluation_fields(spec, job.model, job.seed, splits), **checkpoint_provenance(checkpoint)}
    if spec.task_shape.pairs:
        metrics["homology_score"] = settings.homology_score
        metrics["homology_thresholds_from"] = settings.homology_thresholds
        if isinstance(thresholds, list):
            metrics["homology_thresholds"] = [float(t) for t in thresholds]
    out_dir.mkdir(parents=True, exist_ok=True)
    predictions = pd.concat(tables, ignore_index=True)
    with atomic_path(out_dir / "predictions.parquet") as tmp:
        predictions.to_parquet(tmp, index=False)
    write_evaluation(out_dir / METRICS_FILE, metrics)
    return metrics
