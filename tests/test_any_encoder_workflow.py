"""Any encoder through the workflow: onehot, BLOSUM62, a tiny Hugging Face model and a tiny PLUS model, each
fine-tuned and probed on two tasks, side by side in the report's tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from encoder_helpers import write_tiny_esm2
from workflow_helpers import TINY_PFAM, TINY_SYNTHETIC, copy_workflow, job_counts, run_snakemake

pytestmark = pytest.mark.slow

TASKS = ("solubility", "secstr")
ENCODERS = {
    "plus": None,  # the tiny PLUS-RNN, pretrained by the workflow
    "esm": {"type": "huggingface", "path": "models/esm2-tiny"},
    "onehot": {"type": "onehot"},
    "blosum": {"type": "blosum62"},
}


def any_encoder_config(workdir: Path) -> dict:
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    config["tasks"] = {task: config["tasks"][task] for task in TASKS}
    config["synthetic"] = TINY_SYNTHETIC  # what is checked here is which jobs run and what they record, not scores
    config["pfam"].update(TINY_PFAM)
    config["pretrain"].update({"max_steps": 40, "val_every_n_steps": 20, "checkpoint_every_n_steps": 20})
    config["finetune"].update({"max_epochs": 1})
    models = {}
    for name, encoder in ENCODERS.items():
        for protocol in ("finetune", "probe"):
            entry: dict = {"protocol": protocol, "label": f"{name} ({protocol})"}
            if encoder is None and protocol == "finetune":
                entry.update({"preset": "plus-rnn-tiny", "objective": "plus"})
            elif encoder is None:
                entry["encoder"] = {"type": "plus", "path": "results/pretrain/plus-finetune/model.pt"}
            else:
                entry["encoder"] = encoder
            models[f"{name}-{protocol}"] = entry
    config["models"] = models
    return config


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("any_encoder"))
    write_tiny_esm2(workdir / "models" / "esm2-tiny")
    (workdir / "any.yaml").write_text(yaml.safe_dump(any_encoder_config(workdir)))
    dry = run_snakemake(workdir, "-n", "--configfile", "any.yaml")
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    counts = job_counts(dry.stdout)
    assert counts["pretrain"] == 1  # only the PLUS encoder pretrained here; the others have weights or none
    assert counts["embed_task"] == 4 * len(TASKS) and counts["probe"] == 4 * len(TASKS)
    assert counts["finetune"] == 4 * len(TASKS) and counts["evaluate_probe"] == 4 * len(TASKS)
    result = run_snakemake(workdir, "--cores", "2", "--configfile", "any.yaml", timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir


def test_every_encoder_is_finetuned_and_probed_and_records_it(run: Path) -> None:
    for name, encoder in ENCODERS.items():
        for protocol in ("finetune", "probe"):
            for task in TASKS:
                path = run / "results" / "evaluate" / f"{name}-{protocol}" / task / "seed0" / "metrics.json"
                metrics = json.loads(path.read_text())
                assert metrics["protocol"] == protocol, path
                assert metrics["encoder"]["type"] == (encoder or {"type": "plus"})["type"], path
                if name == "esm":
                    assert len(metrics["encoder"]["sha256"]) == 64  # the weights' hash is recorded


def test_both_protocols_share_the_tables(run: Path) -> None:
    main = pd.read_csv(run / "results" / "tables" / "main.csv")
    rows = main[~main["Pretraining"].isin(["published", "none (alignment baseline)"])]
    assert len(rows) == 2 * len(ENCODERS)
    assert (main["Model"] == "Alignment NN").sum() == 1  # the report's alignment baseline, a row of its own
    assert set(rows["Protocol"]) == {"finetune", "probe"}
    assert {"huggingface", "onehot", "blosum62", "plus"} == set(rows["Encoder"])
    summary = (run / "results" / "summary.md").read_text()
    assert "| probe |" in summary and "huggingface" in summary


def test_one_view_shows_the_gain_of_fine_tuning_over_probing(run: Path) -> None:
    gain = pd.read_csv(run / "results" / "tables" / "protocol_gain.csv")
    assert len(gain) == len(ENCODERS) * len(TASKS)  # every encoder is run both ways, on both tasks
    delta = gain["Δ (fine-tuning better by)"]
    assert ((delta - (gain["Fine-tuned"] - gain["Probe"])).abs() < 1e-9).all()  # headline metrics: higher is better
