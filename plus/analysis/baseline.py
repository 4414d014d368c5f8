"""Alignment baselines written as evaluations (`metrics.json` + `predictions.parquet`, as `plus evaluate` writes).

- protein_classification / protein_regression: `alignment-nn`, the label of the training sequence with the
  highest Smith-Waterman score (plus.analysis.alignment; ties: the first in the training table). Classification
  probabilities are one-hot on that label.
- residue_classification: the per-residue labels of the best-scoring training sequence, copied along the local
  alignment (homology transfer); query residues outside the alignment, or aligned to an unlabelled residue, get
  the most frequent training label.
- pair (homology): the Smith-Waterman score of the pair, normalised by the self-scores
  (s(a, b) / sqrt(s(a, a) s(b, b)); 1 for identical sequences), as the similarity predictor; thresholds are fitted on
  the valid pairs exactly as for a model.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyopal

from plus.analysis.alignment import AlignedPair, AlignmentIndex, SearchHit, aligner, clean
from plus.analysis.search import SplitHits, check_hits, read_hits, search_splits
from plus.data.task_data.canonical import read_split
from plus.errors import InputError
from plus.io import atomic_path
from plus.metrics.task import fit_homology_thresholds, task_metrics
from plus.report.records import METRICS_FILE, evaluation_fields, write_evaluation
from plus.tasks import SCOP_LEVELS, UNLABELLED, TaskSpec

log = logging.getLogger(__name__)

MODEL_NAME = "alignment-nn"
DESCRIPTIONS = {
    "protein_classification": "label of the best-scoring training sequence (Smith-Waterman, BLOSUM62 11/1)",
    "protein_regression": "label of the best-scoring training sequence (Smith-Waterman, BLOSUM62 11/1)",
    "residue_classification": "labels of the best-scoring training sequence copied along the local alignment; "
    "unaligned residues get the most frequent training label",
    "pair": "Smith-Waterman score of the pair / sqrt(self-scores), level thresholds fitted on valid",
}


def transfer_labels(length: int, pair: AlignedPair, labels: str, fallback: str) -> str:
    """Per-residue labels of a query of `length` residues copied from the aligned target's `labels`."""
    out = [fallback] * length
    query, target = pair.query_start, pair.target_start
    for step in pair.alignment:
        if step in "MX":  # aligned pair (identical or not)
            if labels[target] != UNLABELLED:
                out[query] = labels[target]
            query += 1
            target += 1
        elif step == "D":  # query residue against a gap
            query += 1
        elif step == "I":  # target residue against a gap
            target += 1
    return "".join(out)


def _protein_predictions(
    spec: TaskSpec, train: pd.DataFrame, table: pd.DataFrame, hits: dict[str, SearchHit]
) -> pd.DataFrame:
    nearest = [hits[clean(s)].by_score for s in table["sequence"].astype(str)]
    rows = [h.index for h in nearest]
    out = pd.DataFrame({"id": table["id"].astype(str).to_numpy(), "target": table["label"].to_numpy()})
    labels = train["label"].to_numpy()[rows]
    if spec.task_shape.scalar:
        out["prediction"] = labels.astype(float)
    else:
        out["prediction"] = labels.astype(str)
        out["probabilities"] = [[float(c == label) for c in spec.classes] for label in out["prediction"]]
    out["nearest_train_id"] = train["id"].astype(str).to_numpy()[rows]
    out["score"] = [h.score for h in nearest]
    out["identity"] = [h.identity for h in nearest]
    return out


def _residue_predictions(
    spec: TaskSpec, train: pd.DataFrame, table: pd.DataFrame, hits: dict[str, SearchHit]
) -> pd.DataFrame:
    train_labels = train["label"].astype(str).tolist()
    counts = Counter("".join(train_labels))
    counts.pop(UNLABELLED, None)
    fallback = max(spec.classes, key=lambda c: (counts.get(c, 0), -spec.classes.index(c)))
    sequences = table["sequence"].astype(str).tolist()
    found = [hits[clean(s)] for s in sequences]
    predictions = [
        transfer_labels(len(sequence), hit.pair, train_labels[hit.by_score.index], fallback)
        for sequence, hit in zip(sequences, found, strict=True)
    ]
    return pd.DataFrame(
        {
            "id": table["id"].astype(str).to_numpy(),
            "target": table["label"].astype(str).to_numpy(),
            "prediction": predictions,
            "nearest_train_id": train["id"].astype(str).to_numpy()[[h.by_score.index for h in found]],
            "score": [h.by_score.score for h in found],
            "identity": [h.by_score.identity for h in found],
        }
    )


def normalised_pair_scores(first: list[str], second: list[str]) -> np.ndarray:
    """s(a, b) / sqrt(s(a, a) s(b, b)) for each pair (Smith-Waterman scores), grouped by the first sequence."""
    first, second = [clean(s) for s in first], [clean(s) for s in second]
    selves = {}
    for sequence in set(first) | set(second):
        (result,) = aligner().align(sequence, pyopal.Database([sequence]), mode="score", algorithm="sw")
        selves[sequence] = result.score
    partners: dict[str, list[int]] = {}
    for row, sequence in enumerate(first):
        partners.setdefault(sequence, []).append(row)
    scores = np.zeros(len(first), dtype=float)
    for sequence, rows in partners.items():
        results = aligner().align(sequence, pyopal.Database([second[r] for r in rows]), mode="score", algorithm="sw")
        for row, result in zip(rows, results, strict=True):
            scores[row] = result.score / math.sqrt(selves[first[row]] * selves[second[row]])
    return scores


def _pair_predictions(table: pd.DataFrame) -> pd.DataFrame:
    if "sequence_b" not in table.columns:
        raise InputError("pair task split has no sequence_b column")
    scores = normalised_pair_scores(table["sequence"].astype(str).tolist(), table["sequence_b"].astype(str).tolist())
    out = pd.DataFrame({"id": table["id"].astype(str).to_numpy(), "target": table["label"].to_numpy()})
    out["expected_level"] = scores
    for level in SCOP_LEVELS:
        out[f"p_{level}"] = scores
    return out


def alignment_predictions(
    spec: TaskSpec,
    train: pd.DataFrame,
    table: pd.DataFrame,
    threads: int = 1,
    hits: dict[str, SearchHit] | None = None,
) -> pd.DataFrame:
    """The baseline's predictions table (docs/design.md layout) for one split.

    `hits`: this split's part of the shared search (plus.analysis.search) instead of searching here."""
    if spec.task_shape.pairs:
        return _pair_predictions(table)
    if hits is None:
        index = AlignmentIndex(train["sequence"].astype(str).tolist())
        hits = search_splits(index, {"split": table}, threads=threads)["split"]
    if spec.task_shape.per_residue:
        return _residue_predictions(spec, train, table, hits)
    return _protein_predictions(spec, train, table, hits)


def run_alignment_baseline(
    data_dir: Path,
    spec: TaskSpec,
    out_dir: Path,
    *,
    model: str = MODEL_NAME,
    seed: int = 0,
    threads: int = 1,
    hits_path: Path | None = None,
) -> dict[str, Any]:
    """Predict every test split with the alignment baseline; write predictions.parquet and metrics.json.

    `hits_path`: the task's hits.parquet (plus align-task), read instead of searching (pair tasks ignore it)."""
    data_dir = Path(data_dir)
    train = read_split(data_dir, "train")
    thresholds = None
    if spec.task_shape.pairs:
        thresholds = fit_homology_thresholds(alignment_predictions(spec, train, read_split(data_dir, "valid")))
    split_hits: SplitHits | None = None
    if hits_path is not None and not spec.task_shape.pairs:
        split_hits, settings = read_hits(Path(hits_path))
        check_hits(split_hits, settings, spec.test_splits, "train", len(train), Path(hits_path))
    tables, splits = [], {}
    for split in spec.test_splits:
        found = split_hits[split] if split_hits is not None else None
        table = alignment_predictions(spec, train, read_split(data_dir, split), threads, found)
        splits[split] = {**task_metrics(spec, table.assign(split=split), homology_thresholds=thresholds)}
        tables.append(table.assign(split=split))
        log.info("%s %s: %s", spec.name, split, splits[split])
    metrics: dict[str, Any] = {
        **evaluation_fields(spec, model, seed, splits),
        "baseline": {"kind": "alignment", "method": DESCRIPTIONS[spec.shape], "train_size": len(train)},
    }
    if thresholds is not None:
        metrics["homology_thresholds"] = [float(t) for t in thresholds]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "predictions.parquet") as tmp:
        pd.concat(tables, ignore_index=True).to_parquet(tmp, index=False)
    write_evaluation(out_dir / METRICS_FILE, metrics)
    return metrics
