"""`plus alignment-baseline`: nearest-neighbour-by-alignment predictions, written as an evaluation."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from plus.data.task_data.classes import with_data_classes
from plus.tasks import TaskSpec

log = logging.getLogger(__name__)


def load_task_spec(text: str) -> TaskSpec:
    """A TaskSpec from inline JSON or a JSON/YAML file (TaskSpec.to_dict() or a config's `task`), or a task name."""
    from plus.errors import InputError
    from plus.io import read_config
    from plus.settings import parse_settings
    from plus.tasks import resolve_task

    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as error:
            raise InputError(f"--task-spec: not valid JSON: {error}") from error
    elif Path(text).is_file():
        value = read_config(text, "task spec")
    else:
        return resolve_task(stripped, where="--task-spec")
    if isinstance(value, dict) and "shape" not in value and "task" in value:
        value = value["task"]
    if isinstance(value, str):
        return resolve_task(value, where="--task-spec")
    return parse_settings(TaskSpec, value, "--task-spec")


def run_baseline(args: argparse.Namespace) -> int:
    from plus.analysis.baseline import run_alignment_baseline
    from plus.errors import InputError

    if args.threads < 1:
        raise InputError("--threads must be at least 1")
    spec = with_data_classes(load_task_spec(args.task_spec), args.data)
    metrics = run_alignment_baseline(
        args.data, spec, args.out, model=args.model, seed=args.seed, threads=args.threads, hits_path=args.hits
    )
    headline = metrics["headline"]
    print(f"{metrics['task']} {metrics['model']}: {headline['metric']} on {headline['split']} = {headline['value']}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "alignment-baseline",
        help="alignment nearest-neighbour baseline on a task, written as an evaluation (metrics.json, predictions)",
        description=__doc__,
    )
    parser.add_argument("--data", type=Path, required=True, help="canonical task directory (results/tasks/T)")
    parser.add_argument(
        "--task-spec",
        required=True,
        help="TaskSpec as JSON (inline or a file; a fine-tune config's `task` entry works) or a built-in task name",
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory (metrics.json, predictions.parquet)")
    parser.add_argument("--model", default="alignment-nn", help="model name written into metrics.json")
    parser.add_argument("--seed", type=int, default=0, help="seed written into metrics.json (the baseline is exact)")
    parser.add_argument("--threads", type=int, default=1, help="alignment threads (default: 1)")
    parser.add_argument("--hits", type=Path, help="hits.parquet of `plus align-task`: read instead of searching")
    parser.set_defaults(handler=run_baseline)
