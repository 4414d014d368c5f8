"""Speed of the report's paired bootstraps: 1 against 2 worker processes, and checked against unchecked resamples.

One paired bootstrap per task shape on random, well-formed predictions of demo-like size (homology pairs,
protein classes, regression values, secondary-structure and transmembrane residue strings; `--scale` multiplies
the sizes), each against a second model's predictions. Prints ONE JSON line:
- `workers`: median wall seconds (over `--repeats`) of all bootstraps run as `plus report --workers` runs them
  (plus.report.statistics): in this process ("1"); in 2 spawned workers whatever their size ("2_always", what
  every report with more than one bootstrap did before); in 2 workers only where a few timed resamples of the
  first bootstrap say they pay for their start-up ("2_when_worth_it", what the report does now); ratios to "1";
- `resample_ms`: median milliseconds of task_metrics on one resample per task, re-checking the rows
  (checked=False, what every resample did before) and not (checked=True, what a bootstrap resample does now).

    python benchmarks/report_bootstrap.py --resamples 200 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import pandas as pd
from machine_load import LoadWatch, stamp

from plus.metrics.task import task_metrics
from plus.report import statistics as report_statistics
from plus.report.predictions import with_row_keys
from plus.report.statistics import Bootstrap
from plus.tasks import BUILTIN_TASKS

SIZES = {"homology": 2000, "solubility": 300, "localization": 300, "stability": 300, "secstr": 100, "transmembrane": 60}
THRESHOLDS = [0.5, 1.5, 2.5, 3.5]


def predictions(task: str, n: int, rng: np.random.Generator, truth: np.random.Generator) -> pd.DataFrame:
    """A model's predictions of the same `truth` examples (the columns `plus evaluate` writes)."""
    spec = BUILTIN_TASKS[task]
    ids = [f"{task}{i}" for i in range(n)]
    if spec.shape == "pair":
        return pd.DataFrame({"id": ids, "target": truth.integers(0, 5, n), "expected_level": rng.uniform(0, 4, n)})
    if spec.shape == "protein_regression":
        return pd.DataFrame({"id": ids, "target": truth.normal(size=n), "prediction": rng.normal(size=n)})
    letters = list(spec.classes)
    if spec.shape == "protein_classification":
        return pd.DataFrame({"id": ids, "target": truth.choice(letters, n), "prediction": rng.choice(letters, n)})
    lengths = truth.integers(100, 300, n)
    target = ["".join(truth.choice(letters, length)) for length in lengths]
    prediction = ["".join(rng.choice(letters, length)) for length in lengths]
    return pd.DataFrame({"id": ids, "target": target, "prediction": prediction})


def cases(scale: float = 1.0) -> list[tuple]:
    """(spec, model, reference, headline metric, thresholds) per task, keyed as the report reads predictions."""
    found = []
    for index, task in enumerate(SIZES):
        spec = BUILTIN_TASKS[task]
        n = max(4, round(SIZES[task] * scale))
        frames = [
            predictions(task, n, np.random.default_rng([index, model]), np.random.default_rng(index))
            for model in (1, 2)
        ]
        thresholds = THRESHOLDS if spec.shape == "pair" else None
        frames = [with_row_keys(frame.assign(split="test")) for frame in frames]
        found.append((spec, *frames, spec.headline_metric, thresholds))
    return found


def bootstrap_seconds(all_cases: list[tuple], workers: int, worker_start_s: float, resamples: int) -> float:
    """Wall seconds of the report's bootstrap runner on `all_cases`, its worker start-up cost set to `worker_start_s`
    (0: workers whatever the size, as before the report timed a first bootstrap)."""
    bootstraps = [
        (
            {},
            Bootstrap(
                (spec, model, reference, metric),
                {"model_thresholds": t, "reference_thresholds": t, "n_resamples": resamples},
                "",
            ),
        )
        for spec, model, reference, metric, t in all_cases
    ]
    measured = report_statistics.WORKER_START_S
    report_statistics.WORKER_START_S = worker_start_s
    try:
        start = time.perf_counter()
        report_statistics._run_bootstraps(bootstraps, workers)
        return time.perf_counter() - start
    finally:
        report_statistics.WORKER_START_S = measured


def resample_ms(case: tuple, checked: bool, repeats: int = 20) -> float:
    spec, model, _, _, thresholds = case
    rows = np.random.default_rng(0).integers(0, len(model), len(model))
    resample = model.iloc[rows]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        task_metrics(spec, resample, homology_thresholds=thresholds, checked=checked)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=200, help="resamples per bootstrap (the demo's setting)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the demo-like sizes (0.1: tiny configs)")
    args = parser.parse_args()
    watch = LoadWatch()
    all_cases = cases(args.scale)
    ways = {"1": (1, 0.0), "2_always": (2, 0.0), "2_when_worth_it": (2, report_statistics.WORKER_START_S)}
    seconds = {
        name: statistics.median(bootstrap_seconds(all_cases, *way, args.resamples) for _ in range(args.repeats))
        for name, way in ways.items()
    }
    per_resample = {
        case[0].name: {
            "unchecked": round(resample_ms(case, checked=False), 3),
            "checked": round(resample_ms(case, checked=True), 3),
        }
        for case in all_cases
    }
    print(
        json.dumps(
            stamp(
                {
                    "resamples": args.resamples,
                    "repeats": args.repeats,
                    "scale": args.scale,
                    "workers": {
                        **{name: round(value, 3) for name, value in seconds.items()},
                        **{f"ratio_{name}": round(seconds["1"] / seconds[name], 2) for name in ways if name != "1"},
                    },
                    "resample_ms": per_resample,
                },
                watch,
            )
        )
    )


if __name__ == "__main__":
    main()
