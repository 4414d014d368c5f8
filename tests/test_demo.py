"""The demo end to end through the Snakemake command line, then a task added by config alone."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from plus.tasks import BUILTIN_TASKS
from workflow_helpers import copy_workflow, job_counts, run_snakemake

pytestmark = pytest.mark.slow

MODELS = ("plus-rnn-tiny", "mlm-rnn-tiny", "rnn-tiny-nopretrain")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("demo"))
    result = run_snakemake(workdir, "--cores", "2", timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir


def test_demo_writes_every_result(demo: Path) -> None:
    results = demo / "results"
    for model in MODELS:
        for task in BUILTIN_TASKS:
            metrics = json.loads((results / "evaluate" / model / task / "seed0" / "metrics.json").read_text())
            assert math.isfinite(metrics["headline"]["value"]), (model, task)
    assert (results / "summary.md").read_text().startswith("#")
    for figure in ("pretraining_curves", "task_scores", "ablation_deltas", "confusion_matrices", "homology_pr_curves"):
        with Image.open(results / "figures" / f"{figure}.png") as image:
            assert image.size[0] > 300
        assert (results / "figures" / f"{figure}.pdf").stat().st_size > 1000


def test_demo_pretraining_learns_family_structure(demo: Path) -> None:
    def test_metrics(model: str) -> dict[str, float]:
        return json.loads((demo / "results" / "pretrain" / model / "metrics.json").read_text())["test"]

    plus, mlm = (test_metrics(model) for model in MODELS[:2])
    assert plus["sfp_accuracy"] > 0.8  # same-family prediction on held-out pairs, chance 0.5
    chance = 1 / 20  # a masked residue guessed among the 20 amino acids
    assert plus["mlm_accuracy"] > chance + 0.05
    assert mlm["mlm_accuracy"] > chance + 0.05


def test_demo_tables_agree_with_the_metrics(demo: Path) -> None:
    main = pd.read_csv(demo / "results" / "tables" / "main.csv")
    assert set(MODELS) <= set(main.iloc[:, 0].astype(str)) or len(main) >= len(MODELS)
    evaluation = json.loads(
        (demo / "results" / "evaluate" / "plus-rnn-tiny" / "solubility" / "seed0" / "metrics.json").read_text()
    )
    accuracy = evaluation["splits"]["test"]["accuracy"]
    assert any(abs(float(v) - accuracy) < 1e-6 for v in main.select_dtypes("number").to_numpy().ravel())


@pytest.mark.parametrize(
    ("model", "stage", "change", "expected"),
    [
        ("mlm-rnn-tiny", "finetune", {"lr": 0.0123}, {"finetune": 7, "evaluate": 7, "report": 1, "all": 1}),
        (
            "mlm-rnn-tiny",
            "pretrain",
            {"lr": 0.0123},
            {"pretrain": 1, "finetune": 7, "evaluate": 7, "report": 1, "all": 1},
        ),
        # no pretraining: the initialisation's seed is a setting of the jobs that fine-tune it
        ("rnn-tiny-nopretrain", "pretrain", {"seed": 7}, {"finetune": 7, "evaluate": 7, "report": 1, "all": 1}),
    ],
)
def test_a_changed_setting_reruns_that_job_and_what_depends_on_it_only(
    demo: Path, model: str, stage: str, change: dict[str, float], expected: dict[str, int]
) -> None:
    config = yaml.safe_load((demo / "config" / "config.yaml").read_text())
    config["models"][model][stage] = change
    (demo / "changed.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake(demo, "-n", "--configfile", "changed.yaml")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert job_counts(result.stdout) == expected
    assert "Params have changed since last execution" in result.stdout
    unchanged = run_snakemake(demo, "-n")
    assert "Nothing to be done" in unchanged.stdout + unchanged.stderr


def test_every_job_records_the_settings_it_ran_with(demo: Path) -> None:
    results = demo / "results"
    record = json.loads((results / "finetune" / "mlm-rnn-tiny" / "stability" / "seed0" / "config.json").read_text())
    assert record["settings"]["task"]["name"] == "stability" and record["settings"]["model"] == "mlm-rnn-tiny"
    assert record["inputs"] == {"data": "results/tasks/stability"}
    assert record["settings"]["encoder"] == {
        "type": "plus",
        "path": "results/pretrain/mlm-rnn-tiny/model.pt",
        "preset": None,
        "architecture": {},
    }
    record = json.loads((results / "finetune" / "rnn-tiny-nopretrain" / "secstr" / "seed0" / "config.json").read_text())
    assert record["settings"]["encoder"] == {
        "type": "random",
        "like": {"type": "plus", "path": None, "preset": "plus-rnn-tiny", "architecture": {}},
        "seed": 2020,
    }
    assert not (results / "pretrain" / "rnn-tiny-nopretrain").exists()
    (corpus,) = (results / "pfam").iterdir()  # results/pfam/<key of its settings and source>
    for path in (
        f"pfam/{corpus.name}",
        "tasks/secstr",
        "pretrain/plus-rnn-tiny",
        "evaluate/plus-rnn-tiny/homology/seed0",
    ):
        assert "settings" in json.loads((results / path / "config.json").read_text()), path


def test_a_new_task_from_a_csv_is_finetuned_evaluated_and_tabled(demo: Path) -> None:
    """A protein classification that is none of the seven, added by a config entry and the generic importer."""
    data = demo / "data"
    data.mkdir()
    for split in ("train", "valid", "test"):
        frame = pd.read_parquet(demo / "results" / "tasks" / "localization" / f"{split}.parquet")
        frame = frame.assign(compartment=frame["label"].isin(["Nucleus", "Cytoplasm"]).map({True: "in", False: "out"}))
        frame.rename(columns={"id": "name", "sequence": "seq"})[["name", "seq", "compartment"]].to_csv(
            data / f"{split}.csv", index=False
        )
    extension = {
        "tasks": {
            "compartment": {
                "shape": "protein_classification",
                "classes": ["in", "out"],
                "headline_metric": "accuracy",
                "sources": [
                    {
                        "format": "table",
                        "files": {split: f"data/{split}.csv" for split in ("train", "valid", "test")},
                        "options": {"columns": {"id": "name", "sequence": "seq", "label": "compartment"}},
                    }
                ],
            }
        }
    }
    (demo / "extension.yaml").write_text(yaml.safe_dump(extension))
    result = run_snakemake(demo, "--cores", "2", "--configfile", "config/config.yaml", "extension.yaml", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for model in MODELS:
        metrics = demo / "results" / "evaluate" / model / "compartment" / "seed0" / "metrics.json"
        assert 0.0 <= json.loads(metrics.read_text())["splits"]["test"]["accuracy"] <= 1.0
    assert "compartment" in (demo / "results" / "tables" / "main.md").read_text().lower()
