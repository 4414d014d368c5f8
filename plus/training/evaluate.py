"""Evaluation of a fine-tuned model: predictions on every test split, and the paper's metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from plus.data.batching.task_examples import (
    PairTaskDataset,
    SequenceTaskDataset,
    TargetScaling,
    collate_sequences,
    collate_task_pairs,
)
from plus.data.task_data.canonical import read_split
from plus.errors import InputError
from plus.io import atomic_path, require, write_json
from plus.metrics.secstr import q3_from_probabilities
from plus.metrics.task import fit_homology_thresholds, task_metrics
from plus.metrics.transmembrane import viterbi_topology
from plus.models import ModelConfig, build_encoder
from plus.models.checkpoint import load_checkpoint
from plus.tasks import SCOP_LEVELS, TaskSpec
from plus.training.finetune import FinetuneModule


def load_finetuned(path: str | Path) -> FinetuneModule:
    """A fine-tuned model from its versioned `model.pt` (loaded with weights_only=True)."""
    checkpoint = load_checkpoint(path)
    if checkpoint["kind"] != "finetuned":
        raise InputError(f"{path}: a {checkpoint['kind']} checkpoint, not a fine-tuned model")
    encoder = build_encoder(ModelConfig.from_dict(checkpoint["model_config"], source=f"{path}: model_config"))
    scaling = TargetScaling(**checkpoint["scaling"])
    module = FinetuneModule(encoder, TaskSpec.from_dict(checkpoint["task"]), {}, scaling, checkpoint["seed"])
    module.load_state_dict(checkpoint["state_dict"])
    return module.eval()


def _batches(dataset: Any, shape: str, batch_size: int) -> DataLoader:
    """Length-sorted batches (fast, little padding); outputs are put back in table order afterwards."""
    order = np.argsort(dataset.lengths, kind="stable")
    batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    collate = collate_task_pairs if shape == "pair" else (lambda b: collate_sequences(b, shape))
    return DataLoader(dataset, batch_sampler=batches, collate_fn=collate)


def predict_split(module: FinetuneModule, frame: pd.DataFrame, batch_size: int = 64) -> pd.DataFrame:
    """The predictions table of docs/design.md for one split."""
    spec = module.spec
    device = next(module.parameters()).device
    dataset = PairTaskDataset(frame) if spec.shape == "pair" else SequenceTaskDataset(frame, spec, module.scaling)
    loader = _batches(dataset, spec.shape, batch_size)
    outputs: list[Any] = [None] * len(dataset)
    for indices, batch in zip(loader.batch_sampler, loader, strict=True):
        batch = {k: v.to(device) for k, v in batch.items()}
        predicted = module.predict_batch(batch)
        lengths = batch["lengths"].cpu().numpy() if "lengths" in batch else None
        for row, index in enumerate(indices):
            value = {k: v[row] for k, v in predicted.items()}
            if lengths is not None and spec.shape == "residue_classification":
                value["log_probs"] = value["log_probs"][: lengths[row]]
            outputs[index] = value
    table = pd.DataFrame({"id": frame["id"].astype(str).to_numpy(), "target": frame["label"].to_numpy()})
    if spec.shape == "protein_regression":
        table["prediction"] = [float(o["value"]) for o in outputs]
    elif spec.shape == "protein_classification":
        table["prediction"] = [spec.classes[int(np.argmax(o["log_probs"]))] for o in outputs]
        table["probabilities"] = [np.exp(o["log_probs"]).tolist() for o in outputs]
    elif spec.shape == "residue_classification":
        letters = np.array(list(spec.classes))
        table["prediction"] = ["".join(letters[np.argmax(o["log_probs"], axis=1)]) for o in outputs]
        if spec.name == "secstr":
            table["prediction_3class"] = [q3_from_probabilities(np.exp(o["log_probs"])) for o in outputs]
        if spec.name == "transmembrane":
            table["topology"] = [viterbi_topology(o["log_probs"]) for o in outputs]
    else:
        exceedance = np.stack([o["exceedance"] for o in outputs])  # [N, 4]: P(level > k)
        table["expected_level"] = exceedance.sum(axis=1)
        for k, level in enumerate(SCOP_LEVELS):
            table[f"p_{level}"] = exceedance[:, k]
    return table


def run_evaluation(config: dict[str, Any], model_path: Path, out_dir: Path) -> dict[str, Any]:
    """Predict every test split, compute metrics, write predictions.parquet and metrics.json."""
    module = load_finetuned(model_path)
    if torch.cuda.is_available():
        module = module.cuda()
    spec = module.spec
    data_dir = Path(require(config, "data", "finetune config"))
    batch_size = int(require(config, "batch_size", "evaluate settings"))
    thresholds = None
    if spec.shape == "pair":
        thresholds = fit_homology_thresholds(predict_split(module, read_split(data_dir, "valid"), batch_size))
    tables, splits = [], {}
    for split in spec.test_splits:
        table = predict_split(module, read_split(data_dir, split), batch_size)
        splits[split] = {**task_metrics(spec, table, homology_thresholds=thresholds), "n": len(table)}
        tables.append(table.assign(split=split))
    headline_split = spec.headline_split if spec.headline_split in splits else spec.test_splits[0]
    metrics = {
        "task": spec.name,
        "model": config.get("model"),
        "seed": config.get("seed"),
        "shape": spec.shape,
        "splits": splits,
        "headline": {
            "metric": spec.headline_metric,
            "split": headline_split,
            "value": splits[headline_split].get(spec.headline_metric),
        },
    }
    if thresholds is not None:
        metrics["homology_thresholds"] = [float(t) for t in thresholds]
    out_dir.mkdir(parents=True, exist_ok=True)
    predictions = pd.concat(tables, ignore_index=True)
    with atomic_path(out_dir / "predictions.parquet") as tmp:
        predictions.to_parquet(tmp, index=False)
    write_json(out_dir / "metrics.json", metrics)
    return metrics
