"""Several runs side by side: `snakemake -d runs/NAME --configfile ...` from the repository root, each run's
results in its own directory, and two configs in one directory that keep each other's Pfam corpus."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from plus.jobs import plan_workflow
from workflow_helpers import TINY_PFAM, TINY_SYNTHETIC, copy_workflow, job_counts, run_snakemake

NOTHING_TO_DO = "Nothing to be done"


def tiny_config(**pfam: Any) -> dict[str, Any]:
    """The demo cut to two models (PLUS, no pretraining), one task, one epoch and 20 pretraining steps, on the tiny
    synthetic benchmark."""
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())
    config["models"] = {name: config["models"][name] for name in ("plus-rnn-tiny", "rnn-tiny-nopretrain")}
    config["tasks"] = {"solubility": config["tasks"]["solubility"]}
    config["synthetic"] = TINY_SYNTHETIC
    config["pfam"].update({**TINY_PFAM, **pfam})
    config["pretrain"].update(max_steps=20, val_every_n_steps=10, checkpoint_every_n_steps=10, max_val_pairs=50)
    config["finetune"].update(max_epochs=1, homology_epochs=1)
    config["report"] = {"alignment_baseline": False, "leakage_audit": False, "bootstrap_resamples": 20}
    return config


def write_config(path: Path, config: dict[str, Any]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return str(path)


def fingerprints(directory: Path) -> dict[str, tuple[int, str]]:
    """Every file under `directory` (Snakemake's own records aside) with its mtime and content hash."""
    return {
        str(path.relative_to(directory)): (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in sorted(directory.rglob("*"))
        if path.is_file() and ".snakemake" not in path.parts
    }


@pytest.mark.slow
def test_two_configs_run_side_by_side_from_the_repository_root(tmp_path: Path) -> None:
    root = copy_workflow(tmp_path / "repo")
    first = write_config(root / "config" / "a.yaml", tiny_config())
    second = write_config(root / "config" / "b.yaml", tiny_config(min_family_size=20))
    made = run_snakemake(root, "-d", "runs/a", "--configfile", "config/a.yaml", "--cores", "2", timeout=900)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    before = fingerprints(root / "runs" / "a")
    assert "results/summary.md" in before and "resources/synthetic/manifest.json" in before

    made = run_snakemake(root, "-d", "runs/b", "--configfile", second, "--cores", "2", timeout=900)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    assert (root / "runs" / "b" / "results" / "summary.md").read_text().startswith("#")
    assert fingerprints(root / "runs" / "a") == before
    assert not (root / "results").exists() and not (root / "logs").exists()  # nothing written beside the workflow

    rerun = run_snakemake(root, "-d", "runs/a", "--configfile", first, "-n")
    assert rerun.returncode == 0 and NOTHING_TO_DO in rerun.stdout + rerun.stderr, rerun.stdout + rerun.stderr


@pytest.mark.slow
def test_two_configs_in_one_directory_keep_each_others_corpus(tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path)
    first_config, second_config = tiny_config(), tiny_config(min_family_size=20)
    first = write_config(workdir / "a.yaml", first_config)
    second = write_config(workdir / "b.yaml", second_config)
    corpus_a = plan_workflow(first_config).corpus_dir(plan_workflow(first_config).shared_corpus)
    corpus_b = plan_workflow(second_config).corpus_dir(plan_workflow(second_config).shared_corpus)
    assert corpus_a != corpus_b
    target_a = "results/pretrain/plus-rnn-tiny/metrics.json"  # pretrained on corpus a (20 steps)

    made = run_snakemake(workdir, "--configfile", first, "--cores", "1", "--", target_a)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    planned = run_snakemake(workdir, "-n", "-p", "--configfile", second, "--", f"{corpus_b}/summary.json")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert job_counts(planned.stdout) == {"prepare_pfam": 1}
    assert f"--out {corpus_b}" in planned.stdout and corpus_a not in planned.stdout

    made = run_snakemake(workdir, "--configfile", second, "--cores", "1", "--", f"{corpus_b}/summary.json")
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    rerun = run_snakemake(workdir, "-n", "--configfile", first, "--", target_a)
    assert rerun.returncode == 0 and NOTHING_TO_DO in rerun.stdout + rerun.stderr, rerun.stdout + rerun.stderr
    assert "replaces them" not in rerun.stdout + rerun.stderr

    # the second config would pretrain the model of the same name on its own corpus: said before it happens
    replacing = run_snakemake(workdir, "-n", "--configfile", second, "--", target_a)
    assert replacing.returncode == 0, replacing.stdout + replacing.stderr
    assert job_counts(replacing.stdout) == {"pretrain": 1}
    assert "results/pretrain/plus-rnn-tiny: made with other settings or inputs" in replacing.stdout + replacing.stderr
