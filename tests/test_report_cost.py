"""The cost table reads its world from the report job the plan builds: GPUs per rule from the rules' requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from plus.jobs import plan_workflow
from plus.report.collect import ReportData, models_from_settings
from plus.report.cost import collect_costs
from plus.report.cost_table import cost_table
from plus.settings import ReportJob, as_json, parse_settings

ROOT = Path(__file__).resolve().parents[1]
LABEL = "PLUS-RNN tiny (MLM+SFP)"  # the label of the demo config's model plus-rnn-tiny
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
JOBS = {  # benchmark file under benchmarks/ -> wall seconds
    "pretrain/plus-rnn-tiny.tsv": 3600,
    "finetune/plus-rnn-tiny/solubility/seed0.tsv": 1800,
    "evaluate/plus-rnn-tiny/solubility/seed0.tsv": 360,
    "import_task/solubility.tsv": 60,
    "align_task/solubility.tsv": 600,
}


def report_job(plan: dict[str, Any]) -> ReportJob:
    """The demo config's report job with a `plan` section, through JSON as `plus report --settings` reads it."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["plan"] = plan
    job = plan_workflow(config).report()
    return parse_settings(ReportJob, json.loads(as_json(job)), "report")


def cost_rows(job: ReportJob, root: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The cost table of synthetic benchmark files (JOBS), keyed by (model, stage, task)."""
    paths = []
    for name, seconds in JOBS.items():
        path = root / "benchmarks" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HEADER + f"{seconds}\t0:00:00\t100\t1\t1\t1\t0\t0\t100\t{seconds}\n")
        paths.append(path)
    models = models_from_settings(job)
    tasks = list(job.tasks)
    data = ReportData(
        models=models,
        tasks={},
        seeds=[0],
        scores=pd.DataFrame(),
        predictions={},
        pretraining={},
        histories={},
        published=pd.DataFrame(),
        costs=collect_costs(paths, models, tasks, job.gpus_per_rule),
        gpus_per_rule=job.gpus_per_rule,
    )
    table = cost_table(data)
    rows = {(row["Model"], row["Stage"], row["Task"]): row for row in table.rows}
    return rows | {("notes", "", ""): {"text": " ".join(table.notes)}}


def test_gpu_hours_are_wall_hours_times_the_gpus_the_plan_requests(tmp_path: Path) -> None:
    job = report_job({"requests": {"pretrain": {"gpus": 2}}})
    assert job.gpus_per_rule["pretrain"] == 2 and job.gpus_per_rule["finetune"] == 1
    assert "align_task" not in job.gpus_per_rule  # a CPU rule asks for no GPU
    rows = cost_rows(job, tmp_path)
    pretraining = rows[(LABEL, "pretraining", "—")]
    assert pretraining["Wall h"].mean == 1.0 and pretraining["GPU h"].mean == 2.0  # 1 h x 2 GPUs
    finetune = rows[(LABEL, "fine-tune + evaluate", "Solubility")]
    assert finetune["GPU h"].mean == pytest.approx(0.5 + 0.1)  # 0.5 h x 1 GPU + 0.1 h x 1 GPU
    shared = rows[("—", "shared", "Solubility")]
    assert shared["Wall h"].mean == pytest.approx((60 + 600) / 3600) and shared["GPU h"].mean == 0
    assert "finetune 1" in rows[("notes", "", "")]["text"] and "pretrain 2" in rows[("notes", "", "")]["text"]


def test_a_plan_without_gpus_costs_no_gpu_hours(tmp_path: Path) -> None:
    rules = ("pretrain", "finetune", "evaluate", "embed_task", "probe", "evaluate_probe", "gpu_smoke")
    job = report_job({"requests": {rule: {"gpus": 0} for rule in rules}})
    assert job.gpus_per_rule == {}
    rows = cost_rows(job, tmp_path)
    assert all(row["GPU h"].mean == 0 for key, row in rows.items() if key[0] != "notes")


def test_the_report_job_carries_the_plans_task_specs() -> None:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    plan = plan_workflow(config)
    job = parse_settings(ReportJob, json.loads(as_json(plan.report())), "report")
    assert job.tasks == plan.task_specs
