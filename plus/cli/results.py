"""A command's one-line result, e.g. `finetune plus-rnn-tiny/solubility seed0: 10 epochs, val loss 0.61, 58 s`:
what ran, its key figure read back from the record it wrote, and its wall time. The workflow's rules send it to
the console (`plus --result-fd 3 ... 3>&2 > log`) while everything else goes to the job's log."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plus.logs import duration_text

Record = dict[str, Any]


def _read(path: Path) -> Record:
    """A JSON object from `path`, or {} when it is missing or unreadable (the line then lacks the figure)."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _finetune(record: Record) -> list[str]:
    figures = []
    if isinstance(record.get("epochs"), int):
        figures.append(f"{record['epochs']} epoch{'' if record['epochs'] == 1 else 's'}")
    if isinstance(record.get("best_val_loss"), (int, float)):
        figures.append(f"val loss {record['best_val_loss']:.3g}")
    if record.get("early_stopped"):
        figures.append("stopped early")
    return figures


def _evaluate(record: Record) -> list[str]:
    headline = record.get("headline")
    if not isinstance(headline, dict) or not isinstance(headline.get("value"), (int, float)):
        return []
    split = f" ({headline['split']})" if headline.get("split") not in (None, "test") else ""
    return [f"{headline.get('metric', 'headline')} {headline['value']:.3f}{split}"]


def _pretrain(record: Record) -> list[str]:
    figures = [f"{record['steps']:,} steps"] if isinstance(record.get("steps"), int) else []
    test = record.get("test") if isinstance(record.get("test"), dict) else {}
    for key, label in (("mlm_accuracy", "MLM acc"), ("sfp_accuracy", "SFP acc")):
        if isinstance(test.get(key), (int, float)):
            figures.append(f"{label} {test[key]:.3f}")
    return figures


def _import_task(record: Record) -> list[str]:
    splits = record.get("splits") if isinstance(record.get("splits"), dict) else {}
    counts = [f"{name} {split['n']:,}" for name, split in splits.items() if isinstance(split, dict) and "n" in split]
    return [", ".join(counts) + " examples"] if counts else []


def _prepare_pfam(record: Record) -> list[str]:
    ours = record.get("ours") if isinstance(record.get("ours"), dict) else {}
    figures = [f"{ours[key]:,} {key}" for key in ("sequences", "families") if isinstance(ours.get(key), int)]
    return figures


def _audit(record: Record) -> list[str]:
    splits = record.get("splits") if isinstance(record.get("splits"), dict) else {}
    medians = [
        f"{name} {split['median']:.2f}"
        for name, split in splits.items()
        if isinstance(split, dict) and isinstance(split.get("median"), (int, float))
    ]
    return ["median identity to training " + ", ".join(medians)] if medians else []


# command -> (the record it writes in its --out directory, the key figures of that record)
FIGURES: dict[str, tuple[str, Callable[[Record], list[str]]]] = {
    "pretrain": ("metrics.json", _pretrain),
    "finetune": ("metrics.json", _finetune),
    "probe": ("metrics.json", _finetune),
    "evaluate": ("metrics.json", _evaluate),
    "evaluate-probe": ("metrics.json", _evaluate),
    "alignment-baseline": ("metrics.json", _evaluate),
    "import-task": ("summary.json", _import_task),
    "prepare-pfam": ("summary.json", _prepare_pfam),
    "audit-leakage": ("summary.json", _audit),
}


def subject(record: Record, out: Path | None) -> str:
    """What the command ran on: `model/task seedN` from its record, else its output path."""
    names = [str(record[key]) for key in ("model", "task") if record.get(key) is not None]
    if names:
        seed = f" seed{record['seed']}" if record.get("seed") is not None else ""
        return "/".join(names) + seed
    return str(out) if out is not None else ""


def result_line(command: str, args: argparse.Namespace, seconds: float, error: str | None = None) -> str:
    """`<command> <subject>: <key figures>, <wall time>`, or `<command> <subject>: failed after <time>: <error>`."""
    out = getattr(args, "out", None) or getattr(args, "summary", None)
    out = Path(out) if out is not None else None
    record_name, figures_of = FIGURES.get(command, ("", lambda record: []))
    record = _read(out / record_name) if out is not None and record_name and error is None else {}
    head = " ".join(part for part in (command, subject(record, out)) if part)
    if error is not None:
        return f"{head}: failed after {duration_text(seconds)}: {error}"
    return f"{head}: " + ", ".join([*figures_of(record), duration_text(seconds)])


def write_result(fd: int, line: str) -> None:
    """Write `line` to file descriptor `fd` if it is open (not under srun's other tasks, for instance)."""
    try:
        os.write(fd, (line + "\n").encode())
    except OSError:
        pass
