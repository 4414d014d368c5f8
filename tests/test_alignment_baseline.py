"""Alignment baselines: nearest-neighbour labels, homology transfer per residue, pair scores, evaluation format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plus.analysis.alignment import AlignedPair
from plus.analysis.baseline import normalised_pair_scores, run_alignment_baseline, transfer_labels
from plus.cli import main as cli_main
from plus.report.collect import load_evaluation
from plus.tasks import SECSTR8, TaskSpec, resolve_task

AA = "ARNDCQEGHILKMFPSTWYV"


def random_protein(rng: np.random.Generator, length: int) -> str:
    return "".join(rng.choice(list(AA), length))


def mutate(rng: np.random.Generator, sequence: str, n: int) -> str:
    letters = list(sequence)
    for position in rng.choice(len(letters), n, replace=False):
        letters[position] = rng.choice(list(AA))
    return "".join(letters)


def write_task(root: Path, splits: dict[str, pd.DataFrame]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for split, table in splits.items():
        table.to_parquet(root / f"{split}.parquet", index=False)
    return root


def family_split(rng: np.random.Generator, parents: list[str], labels: list, n: int, prefix: str) -> pd.DataFrame:
    """n members per parent, each carrying its parent's label, about 15% of residues mutated."""
    rows = []
    for parent, label in zip(parents, labels, strict=True):
        for _ in range(n):
            rows.append(
                {"id": f"{prefix}{len(rows)}", "sequence": mutate(rng, parent, len(parent) // 7), "label": label}
            )
    return pd.DataFrame(rows)


def test_transfer_labels_follows_the_alignment() -> None:
    # query ABCDEF.. aligned from query 1 / target 2: M M D (query residue vs gap) I (target residue vs gap) X M
    pair = AlignedPair("MMDIXM", query_start=1, target_start=2)
    out = transfer_labels(8, pair, "xxHEH.CE", "C")
    # query 1 <- target 2 (H), query 2 <- target 3 (E), query 3: gap -> fallback, target 4 skipped,
    # query 4 <- target 5 ('.' unlabelled -> fallback), query 5 <- target 6 (C); the rest fallback
    assert out == "CHECCCCC"
    out = transfer_labels(6, AlignedPair("MMM", 0, 0), "GHI", "C")
    assert out == "GHICCC"


def test_protein_tasks_take_the_nearest_training_label(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    parents = [random_protein(rng, int(rng.integers(60, 120))) for _ in range(6)]
    classes = ["0", "1", "0", "1", "1", "0"]
    splits = {
        "train": family_split(rng, parents, classes, 5, "tr"),
        "valid": family_split(rng, parents, classes, 1, "va"),
        "test": family_split(rng, parents, classes, 4, "te"),
    }
    data = write_task(tmp_path / "sol", splits)
    spec = resolve_task("solubility")
    metrics = run_alignment_baseline(data, spec, tmp_path / "out")
    assert metrics["model"] == "alignment-nn" and metrics["seed"] == 0 and metrics["shape"] == spec.shape
    assert metrics["splits"]["test"]["accuracy"] == 1.0 and metrics["splits"]["test"]["n"] == 24
    assert metrics["headline"] == {"metric": "accuracy", "split": "test", "value": 1.0}
    predictions = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    assert {"split", "id", "target", "prediction", "probabilities"} <= set(predictions.columns)
    assert all(sum(p) == 1.0 for p in predictions["probabilities"])
    key, task, rows = load_evaluation(tmp_path / "out" / "metrics.json")  # the report reads it as a model's run
    assert key.model == "alignment-nn" and task.headline_metric == "accuracy" and rows


def test_regression_copies_the_neighbour_value(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    parents = [random_protein(rng, 50) for _ in range(10)]
    values = [float(v) for v in range(10)]
    splits = {
        "train": family_split(rng, parents, values, 3, "tr"),
        "valid": family_split(rng, parents, values, 1, "va"),
        "test": family_split(rng, parents, values, 3, "te"),
    }
    metrics = run_alignment_baseline(write_task(tmp_path / "st", splits), resolve_task("stability"), tmp_path / "out")
    assert metrics["splits"]["test"]["spearman"] == pytest.approx(1.0)
    predictions = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    assert np.array_equal(predictions["prediction"].to_numpy(), predictions["target"].to_numpy())


def test_residue_task_transfers_structure_from_the_homologue(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    parents = [random_protein(rng, 80) for _ in range(4)]
    structures = ["".join(rng.choice(list(SECSTR8), 80)) for _ in parents]
    splits = {
        "train": family_split(rng, parents, structures, 2, "tr"),
        "valid": family_split(rng, parents, structures, 1, "va"),
    }
    for split in ("test_cb513", "test_casp12", "test_ts115"):
        splits[split] = family_split(rng, parents, structures, 2, split)
    metrics = run_alignment_baseline(write_task(tmp_path / "ss", splits), resolve_task("secstr"), tmp_path / "out")
    assert metrics["headline"]["split"] == "test_cb513"
    # same structure, substitutions only: all but the ends a local alignment may trim (random labels: about 1/8)
    assert metrics["splits"]["test_cb513"]["accuracy_8class"] > 0.95


def test_homology_pairs_are_scored_by_normalised_alignment(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    a = random_protein(rng, 100)
    assert normalised_pair_scores([a], [a])[0] == pytest.approx(1.0)

    def pairs(n: int, prefix: str) -> pd.DataFrame:
        rows = []
        for i in range(n):
            parent = random_protein(rng, 90)
            same = i % 2 == 0
            other = mutate(rng, parent, 20) if same else random_protein(rng, 90)
            rows.append(
                {
                    "id": f"{prefix}{i}",
                    "sequence": parent,
                    "label": 4 if same else 0,
                    "id_b": f"{prefix}{i}b",
                    "sequence_b": other,
                }
            )
        return pd.DataFrame(rows)

    train = pd.DataFrame({"id": ["d0"], "sequence": [a], "label": ["a.1.1.1"]})
    splits = {"train": train, "valid": pairs(20, "va"), "test": pairs(20, "te"), "test_2.07": pairs(10, "tn")}
    spec = resolve_task("homology")
    metrics = run_alignment_baseline(write_task(tmp_path / "hom", splits), spec, tmp_path / "out")
    assert len(metrics["homology_thresholds"]) == 4
    assert metrics["splits"]["test"]["average_precision_family"] == pytest.approx(1.0)
    predictions = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    assert predictions["expected_level"].between(0, 1).all()
    assert {"p_class", "p_fold", "p_superfamily", "p_family"} <= set(predictions.columns)


def test_cli_takes_inline_or_file_specs_and_rejects_bad_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(4)
    parents = [random_protein(rng, 40) for _ in range(3)]
    spec = TaskSpec(name="toy", shape="protein_classification", classes=("a", "b"))
    labels = ["a", "b", "a"]
    data = write_task(
        tmp_path / "toy", {s: family_split(rng, parents, labels, 2, s) for s in ("train", "valid", "test")}
    )
    inline = json.dumps(spec.to_dict())
    assert (
        cli_main(["alignment-baseline", "--data", str(data), "--task-spec", inline, "--out", str(tmp_path / "a")]) == 0
    )
    config = tmp_path / "finetune.json"
    config.write_text(json.dumps({"model": "m", "task": spec.to_dict()}))
    assert (
        cli_main(
            [
                "alignment-baseline",
                "--data",
                str(data),
                "--task-spec",
                str(config),
                "--out",
                str(tmp_path / "b"),
                "--model",
                "nn",
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["model"] == "nn"
    assert (
        cli_main(
            ["alignment-baseline", "--data", str(data), "--task-spec", '{"name": "x"}', "--out", str(tmp_path / "c")]
        )
        == 2
    )
    assert "--task-spec.shape: required key missing" in capsys.readouterr().err
    assert (
        cli_main(
            [
                "alignment-baseline",
                "--data",
                str(tmp_path / "none"),
                "--task-spec",
                inline,
                "--out",
                str(tmp_path / "d"),
            ]
        )
        == 2
    )
    assert "canonical split not found" in capsys.readouterr().err
