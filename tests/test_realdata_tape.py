"""config/realdata_tape.yaml on a small subset of the official TAPE stability splits, through the workflow: import
with the generic `table` format, one-hot fine-tuned and probed, the alignment baseline and the leakage audit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workflow_helpers import copy_workflow, run_snakemake

ROOT = Path(__file__).resolve().parents[1]
ROWS = {"train": 300, "valid": 100, "test": 100}
MODELS = ("onehot-finetune", "onehot-probe")

pytestmark = pytest.mark.slow


def subset_config(realdata: Path, workdir: Path) -> dict:
    """The shipped real-data config reduced to the first rows of each stability split, one seed, one epoch."""
    config = yaml.safe_load((workdir / "config" / "realdata_tape.yaml").read_text())
    files = {}
    for split, rows in ROWS.items():
        path = workdir / "data" / f"stability_{split}.csv"
        path.parent.mkdir(exist_ok=True)
        pd.read_csv(realdata / "tape_stability" / f"{split}.csv", nrows=rows).to_csv(path, index=False)
        files[split] = str(path.relative_to(workdir))
    stability = config["tasks"]["stability"]
    stability["sources"][0]["files"] = files
    stability["expected_sizes"] = dict(ROWS)
    config["tasks"] = {"stability": stability}
    config["models"] = {name: config["models"][name] for name in MODELS}
    config["seeds"] = [0]
    config["finetune"].update({"max_epochs": 1, "batch_size": 32})
    return config


@pytest.fixture(scope="module")
def run(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("realdata_tape"))
    (workdir / "subset.yaml").write_text(yaml.safe_dump(subset_config(realdata, workdir)))
    targets = [f"results/evaluate/{model}/stability/seed0/metrics.json" for model in (*MODELS, "alignment-nn")]
    targets.append("results/audit/stability/summary.json")
    result = run_snakemake(workdir, *targets, "--cores", "2", "--configfile", "subset.yaml", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir


def test_the_subset_is_imported_with_the_configured_sizes(run: Path) -> None:
    summary = json.loads((run / "results" / "tasks" / "stability" / "summary.json").read_text())
    assert {split: summary["splits"][split]["n"] for split in ROWS} == ROWS


def evaluation(run: Path, model: str) -> dict:
    return json.loads((run / "results" / "evaluate" / model / "stability" / "seed0" / "metrics.json").read_text())


def test_every_evaluation_has_a_finite_spearman(run: Path) -> None:
    for model in (*MODELS, "alignment-nn"):
        metrics = evaluation(run, model)
        assert metrics["splits"]["test"]["n"] == ROWS["test"], model
        assert math.isfinite(metrics["splits"]["test"]["spearman"]), model
        assert metrics["headline"]["metric"] == "spearman", model
    for model, protocol in zip(MODELS, ("finetune", "probe"), strict=True):
        metrics = evaluation(run, model)
        assert metrics["protocol"] == protocol and metrics["encoder"]["type"] == "onehot"


def test_the_audit_bins_cover_every_test_sequence(run: Path) -> None:
    audit = run / "results" / "audit" / "stability"
    identity = pd.read_parquet(audit / "identity.parquet")
    assert len(identity) == ROWS["test"] and identity["max_identity"].between(0, 1).all()
    test = json.loads((audit / "summary.json").read_text())["splits"]["test"]
    assert test["n"] == ROWS["test"]
    assert sum(test["bins"].values()) == ROWS["test"]
    assert sum(test["histogram"]["counts"]) == ROWS["test"]
