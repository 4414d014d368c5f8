"""What a person sees while the workflow runs: one console line per finished job (profiles/local), training
progress with an ETA in the job logs, each log line once and no adverts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from plus.cli.results import result_line
from plus.logs import duration_text
from plus.settings import SYNTHETIC_TASK_SPLITS
from plus.training.progress import epoch_of, progress_line
from workflow_helpers import copy_workflow, job_counts, run_snakemake

ADVERT_TEXTS = ("💡", "litlogger", "TPU available", "HPU available", "`srun` command is available")


def test_duration_text() -> None:
    assert [duration_text(s) for s in (0.4, 42, 118, 3600 + 5 * 60 + 59)] == ["0 s", "42 s", "1 min 58 s", "1 h 05 min"]


def test_progress_line_names_step_epoch_losses_and_eta() -> None:
    line = progress_line(
        120, 1300, elapsed=12.0, steps_done=120, epoch=(10, 100), metrics={"train_loss": 1.1234, "val_loss": 1.19}
    )
    assert line == "step 120/1300 (epoch 10/100): train loss 1.123, val loss 1.19; 10 steps/s, ETA 1 min 58 s"


def test_progress_line_after_a_resume_counts_only_this_attempts_steps() -> None:
    line = progress_line(600, 1000, elapsed=20.0, steps_done=100)  # resumed at step 500: 5 steps/s
    assert line == "step 600/1000; 5 steps/s, ETA 1 min 20 s"
    assert progress_line(500, 1000, elapsed=0.0, steps_done=0).endswith("; ETA unknown")


def test_epoch_of_the_step_just_done() -> None:
    assert [epoch_of(step, 130, 13) for step in (1, 13, 14, 130)] == [(1, 10), (1, 10), (2, 10), (10, 10)]
    assert epoch_of(5, 100, None) is None


def test_result_line_reads_the_key_figure_from_the_record(tmp_path: Path) -> None:
    out = tmp_path / "results" / "finetune" / "m" / "solubility" / "seed0"
    out.mkdir(parents=True)
    record = {"model": "m", "task": "solubility", "seed": 0, "epochs": 10, "best_val_loss": 0.6071, "steps": 130}
    (out / "metrics.json").write_text(json.dumps(record))
    args = type("Args", (), {"out": out})()
    assert result_line("finetune", args, 58.2) == "finetune m/solubility seed0: 10 epochs, val loss 0.607, 58 s"
    failed = result_line("finetune", args, 3, "results/tasks/x: file not found")
    assert failed == "finetune " + str(out) + ": failed after 3 s: results/tasks/x: file not found"
    (out / "metrics.json").write_text(json.dumps({**record, "headline": {"metric": "accuracy", "value": 0.65}}))
    assert result_line("evaluate", args, 4) == "evaluate m/solubility seed0: accuracy 0.650, 4 s"


def test_lightning_logs_each_line_once_and_no_adverts() -> None:
    script = """
import logging
from plus.logs import configure_logging
configure_logging()
import plus.training.trainer  # imports Lightning, which adds a console handler of its own
log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
log.info("GPU available: False, used: False")
log.info("TPU available: False, using: 0 TPU cores")
log.info("💡 Tip: For seamless cloud logging and experiment tracking, try installing [litlogger]")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len([line for line in lines if "GPU available" in line]) == 1, lines
    assert not any(text in result.stderr for text in ADVERT_TEXTS), lines


@pytest.mark.slow
def test_local_profile_prints_one_line_per_finished_job(tmp_path: Path) -> None:
    root = copy_workflow(tmp_path / "console")
    demo = yaml.safe_load((root / "config" / "config.yaml").read_text())
    config = {
        "seeds": [0],
        "synthetic": {
            "n_classes": 2,
            "n_families": 16,
            "sequences_per_family": 40,
            "tasks": {task: dict.fromkeys(splits, 30) for task, splits in SYNTHETIC_TASK_SPLITS.items()},
        },
        "finetune": {"max_epochs": 2, "batch_size": 16},
        "report": {"bootstrap_resamples": 20},
        "models": {"rnn-none": {"preset": "plus-rnn-tiny", "objective": "none"}},
        "tasks": {"solubility": demo["tasks"]["solubility"]},
    }
    (root / "tiny.yaml").write_text(yaml.safe_dump(config))
    dry = run_snakemake(root, "-n", "--configfile", "tiny.yaml")
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = sum(count for rule, count in job_counts(dry.stdout).items() if rule != "all")

    result = run_snakemake(root, "--profile", "profiles/local", "--configfile", "tiny.yaml", timeout=600)
    console = result.stdout + result.stderr
    assert result.returncode == 0, console[-3000:]
    lines = [line for line in console.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), lines  # no line twice
    job_lines = [line for line in lines if re.match(r"^[a-z-]+ .*: .*\d+ s$|^[a-z-]+: .*\d+ s$", line)]
    assert len(job_lines) == jobs, lines  # one per finished job
    for pattern in (
        r"^finetune rnn-none/solubility seed0: 2 epochs, val loss [\d.]+, \d+ s$",
        r"^evaluate rnn-none/solubility seed0: accuracy [\d.]+, \d+ s$",
        r"^alignment-baseline alignment-nn/solubility seed0: accuracy [\d.]+, \d+ s$",
        r"^import-task solubility: train 30, valid 30, test 30 examples, \d+ s$",
        r"^audit-leakage solubility: median identity to training test [\d.]+, \d+ s$",
    ):
        assert any(re.match(pattern, line) for line in job_lines), (pattern, job_lines)
    assert not any(word in console for word in ("Select jobs to execute", "Execute 1 jobs", "rule finetune:"))
    assert not any(text in console for text in ADVERT_TEXTS)

    log = (root / "logs" / "finetune" / "rnn-none" / "solubility" / "seed0.log").read_text()
    assert re.search(r"step \d+/\d+ \(epoch 2/2\): train loss [\d.]+, val loss [\d.]+; .* steps/s, ETA \d+ s", log)
    assert not any(text in log for text in ADVERT_TEXTS) and "\r" not in log  # no progress bar redraws
    assert not [line for line in log.splitlines() if line.startswith("INFO: ")]  # Lightning's own handler: removed
