"""The config shapes users bring, each run through the workflow to its report on tiny synthetic data: no PLUS model
(every encoder type from elsewhere), probes only, one task, one custom task only, the alignment baseline only,
audits off, several seeds, and a no-pretraining model alone.

The cases share one working directory (the synthetic data and the task imports are made once), run one after the
other, and each asserts its own jobs, tables and report.
"""

from __future__ import annotations

import csv
import json
import random
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
import yaml

from encoder_helpers import TheirPlusRNN, write_authors_file, write_tiny_esm2
from workflow_helpers import TINY_PFAM, TINY_SYNTHETIC, copy_workflow, job_counts, run_snakemake

pytestmark = pytest.mark.slow

TINY = {
    "seeds": [0],
    "synthetic": TINY_SYNTHETIC,
    "finetune": {"max_epochs": 1, "batch_size": 16},
    "report": {"bootstrap_resamples": 20},
}
PFAM = {"source": "resources/synthetic/Pfam-A.fasta.gz", "release": "synthetic", **TINY_PFAM}
PRETRAIN = {"batch_pairs": 8, "max_steps": 10, "val_every_n_steps": 10, "checkpoint_every_n_steps": 10}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workflow copy with the demo's task entries, a tiny Hugging Face model, an authors' file and a custom task."""
    root = copy_workflow(tmp_path_factory.mktemp("shapes"))
    write_tiny_esm2(root / "models" / "esm2-tiny")
    torch.manual_seed(0)
    write_authors_file(root / "models" / "PLUS-RNN.pt", TheirPlusRNN(hidden=16, layers=1, proj=8))
    rng = random.Random(0)
    for split, n in (("train", 60), ("valid", 20), ("test", 30)):
        with open(root / f"thermo_{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["name", "seq", "tm"])
            for index in range(n):
                sequence = "".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(rng.randint(30, 60)))
                writer.writerow([f"{split}{index}", sequence, f"{40 + 20 * sequence.count('K') / len(sequence):.3f}"])
    return root


def demo_tasks(root: Path, *names: str) -> dict[str, Any]:
    demo = yaml.safe_load((root / "config" / "config.yaml").read_text())
    return {name: demo["tasks"][name] for name in names}


def run_case(root: Path, name: str, config: dict[str, Any]) -> dict[str, int]:
    """Dry-run then run one config to its report; the dry run's job counts."""
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**TINY, **config}))
    dry = run_snakemake(root, "-n", "--forceall", "--configfile", path.name)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    result = run_snakemake(root, "--cores", "2", "--configfile", path.name, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return job_counts(dry.stdout)


def clear_report(root: Path) -> None:
    """Remove the tables and figures of the cases before, which would hide one this case fails to write."""
    for kind in ("tables", "figures"):
        for path in (root / "results" / kind).glob("*"):
            path.unlink()


def main_rows(root: Path) -> pd.DataFrame:
    main = pd.read_csv(root / "results" / "tables" / "main.csv")
    return main[main["Pretraining"] != "published"]


def report_files(root: Path) -> set[str]:
    return {path.name for path in (root / "results" / "tables").glob("*.csv")} | {
        path.name for path in (root / "results" / "figures").glob("*.png")
    }


def test_no_plus_model_every_encoder_type_from_elsewhere(workdir: Path) -> None:
    models = {
        "esm": {"encoder": {"type": "huggingface", "path": "models/esm2-tiny"}},
        "authors": {"encoder": {"type": "plus-authors", "path": "models/PLUS-RNN.pt"}, "protocol": "probe"},
        "onehot": {"encoder": {"type": "onehot"}},
        "blosum": {"encoder": {"type": "blosum62"}, "protocol": "probe"},
        "esm-random": {"encoder": {"type": "random", "like": {"type": "huggingface", "path": "models/esm2-tiny"}}},
    }
    clear_report(workdir)
    counts = run_case(workdir, "no_plus", {"models": models, "tasks": demo_tasks(workdir, "stability", "secstr")})
    assert "prepare_pfam" not in counts and "pretrain" not in counts
    rows = main_rows(workdir)
    assert {"huggingface", "plus-authors", "onehot", "blosum62", "random"} <= set(rows["Encoder"])
    assert "pretraining.csv" not in report_files(workdir) and "pretraining_curves.png" not in report_files(workdir)
    assert "ablation.csv" not in report_files(workdir)
    summary = (workdir / "results" / "summary.md").read_text()
    assert "alignment-baseline run" in summary and "10 fine-tuning runs" in summary
    report = run_snakemake(workdir, "--configfile", "no_plus.yaml", "--report", "report.html")
    assert report.returncode == 0, report.stdout[-3000:] + report.stderr[-3000:]
    page = re.sub(r"<[^>]+>", "", (workdir / "report.html").read_text()).replace("\\n", " ")  # the text shown
    for name, entry in models.items():  # every model with its encoder type and protocol, from the resolved settings
        protocol = entry.get("protocol", "finetune")
        assert f"{name} ({name}): encoder {entry['encoder']['type']}, protocol {protocol}," in page, name
    assert "a fixed residue encoding, no weights (control)" in page


def test_probes_only(workdir: Path) -> None:
    models = {
        "onehot-probe": {"encoder": {"type": "onehot"}, "protocol": "probe"},
        "esm-probe": {"encoder": {"type": "huggingface", "path": "models/esm2-tiny"}, "protocol": "probe"},
    }
    counts = run_case(workdir, "probes", {"models": models, "tasks": demo_tasks(workdir, "solubility")})
    assert counts["probe"] == 2 and counts["embed_task"] == 2 and "finetune" not in counts
    assert set(main_rows(workdir)["Protocol"].dropna()) <= {"probe", "—"}


def test_one_task_with_a_plus_model_pretrained_here(workdir: Path) -> None:
    models = {
        "plus-tiny": {"preset": "plus-rnn-tiny", "objective": "plus", "pretrain": PRETRAIN},
        "onehot": {"encoder": {"type": "onehot"}},
    }
    config = {"pfam": PFAM, "models": models, "tasks": demo_tasks(workdir, "solubility")}
    counts = run_case(workdir, "one_task", config)
    assert counts["pretrain"] == 1 and counts["prepare_pfam"] == 1 and counts["finetune"] == 2
    assert "pretraining.csv" in report_files(workdir)
    detail = sorted(path.name for path in (workdir / "results" / "tables").glob("detail_*.csv"))
    assert "detail_solubility.csv" in detail


def test_one_custom_task_only(workdir: Path) -> None:
    task = {
        "shape": "protein_regression",
        "headline_metric": "spearman",
        "sources": [
            {
                "format": "table",
                "files": {"train": "thermo_train.csv", "valid": "thermo_valid.csv", "test": "thermo_test.csv"},
                "options": {"sep": ",", "columns": {"id": "name", "sequence": "seq", "label": "tm"}},
            }
        ],
    }
    models = {"onehot": {"encoder": {"type": "onehot"}}}
    run_case(workdir, "custom", {"models": models, "tasks": {"thermo": task}})
    rows = main_rows(workdir)
    assert rows.columns[4].lower().startswith("thermo") and rows.iloc[:, 4].notna().all()


def test_alignment_baseline_only(workdir: Path) -> None:
    counts = run_case(workdir, "baseline_only", {"models": {}, "tasks": demo_tasks(workdir, "stability")})
    assert counts["alignment_baseline"] == 1 and "finetune" not in counts and "probe" not in counts
    assert counts["align_task"] == 1  # audit and baseline read one search
    assert list(main_rows(workdir)["Model"]) == ["Alignment NN"]


def test_audits_off(workdir: Path) -> None:
    config = {
        "models": {"onehot": {"encoder": {"type": "onehot"}}},
        "tasks": demo_tasks(workdir, "stability"),
        "report": {**TINY["report"], "leakage_audit": False, "alignment_baseline": False},
    }
    counts = run_case(workdir, "no_audits", config)
    assert "audit_leakage" not in counts and "alignment_baseline" not in counts and "align_task" not in counts
    assert list(main_rows(workdir)["Model"]) == ["onehot"]


def test_several_seeds(workdir: Path) -> None:
    config = {"seeds": [0, 1, 2], "models": {"onehot": {"encoder": {"type": "onehot"}}}}
    counts = run_case(workdir, "seeds", {**config, "tasks": demo_tasks(workdir, "stability")})
    assert counts["finetune"] == 3
    row = pd.read_csv(workdir / "results" / "tables" / "main.csv").set_index("Model").loc["onehot"]
    assert int(row["Stability ρ n"]) == 3 and row["Stability ρ sd"] > 0


def test_no_pretraining_model_alone_makes_its_initialisation_where_it_is_fine_tuned(workdir: Path) -> None:
    models = {"rnn-none": {"preset": "plus-rnn-tiny", "objective": "none"}}
    clear_report(workdir)
    counts = run_case(workdir, "none_only", {"models": models, "tasks": demo_tasks(workdir, "solubility")})
    assert "pretrain" not in counts and "prepare_pfam" not in counts
    assert not (workdir / "results" / "pretrain" / "rnn-none").exists()
    run = workdir / "results" / "finetune" / "rnn-none" / "solubility" / "seed0"
    encoder = json.loads((run / "config.json").read_text())["settings"]["encoder"]
    assert encoder["type"] == "random" and encoder["like"] == {
        "type": "plus",
        "path": None,
        "preset": "plus-rnn-tiny",
        "architecture": {},
    }
    assert "pretraining.csv" not in report_files(workdir)


def test_one_encoder_under_both_protocols_is_two_rows_with_a_paired_test(workdir: Path) -> None:
    models = {
        "proto-ours": {"preset": "plus-rnn-tiny", "objective": "plus", "pretrain": PRETRAIN, "label": "tiny (ours)"},
        "proto-authors": {
            "preset": "plus-rnn-tiny",
            "objective": "plus",
            "fidelity": "authors-method",
            "pretrain": PRETRAIN,
            "label": "tiny (authors')",
        },
    }
    config = {
        "seeds": [0, 1],
        "pfam": PFAM,
        "models": models,
        "tasks": demo_tasks(workdir, "stability"),
        "report": {**TINY["report"], "comparisons": [["proto-authors", "proto-ours"]]},
    }
    clear_report(workdir)
    counts = run_case(workdir, "both_protocols", config)
    assert counts["pretrain"] == 2 and counts["finetune"] == 4
    runs = {model: workdir / "results" / "finetune" / model / "stability" / "seed0" for model in models}
    settings = {model: json.loads((run / "config.json").read_text())["settings"] for model, run in runs.items()}
    scaling = {model: values["training"]["target_scaling"] for model, values in settings.items()}
    assert scaling == {"proto-ours": "standardize", "proto-authors": "none"}
    assert {"tiny (ours)", "tiny (authors')"} <= set(main_rows(workdir)["Model"])
    pairs = pd.read_csv(workdir / "results" / "tables" / "pairs.csv")
    assert len(pairs) == 1
    row = pairs.iloc[0]
    assert (row["Model"], row["Against"], str(row["Seeds in common"])) == ("tiny (authors')", "tiny (ours)", "2")
    assert row["Test"] == "paired t over 2 seeds" and 0 <= row["p"] <= 1 and row["95% CI of Δ"].startswith("[")
