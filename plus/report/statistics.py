"""Seed statistics and paired significance tests of every model against a reference model.

- Mean, sample sd and a 95% confidence interval over seeds (t distribution with n-1 degrees of freedom; none for
  one seed).
- Each model against the reference on each task's headline metric and split (the same test examples):
  with >= 2 seeds in common, a paired t-test over those seeds (scipy.stats.ttest_rel; seed s of both models);
  otherwise a paired bootstrap over test examples: the examples are resampled with replacement (the same
  resample for both models, N_RESAMPLES times, seeded), the task metric is recomputed for both from their
  predictions.parquet (plus.metrics.task_metrics) and the two-sided p-value is
  2 min(P(delta <= 0), P(delta >= 0)) with the +1 correction of a Monte Carlo p-value.
- Pairs the config names (report.comparisons, e.g. one encoder under two protocols) are tested the same way,
  with a t confidence interval of the per-seed paired differences (compare_pairs).
- The p-values of all comparisons in the report (every model other than the reference, every task, and the named
  pairs) are adjusted together with Benjamini-Hochberg (scipy.stats.false_discovery_control), controlling the
  false discovery rate; a comparison is significant when its adjusted p (q) is below ALPHA.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from scipy import stats

from plus.errors import InputError
from plus.metrics.task import task_metrics
from plus.report.collect import ReportData, RunKey
from plus.report.predictions import KEY, report_task_spec, run_predictions
from plus.report.tables import ScoreColumn
from plus.report.workers import starmap
from plus.report.writers import Stat, Table
from plus.tasks import TaskSpec

N_RESAMPLES = 1000
WORKERS = 1  # processes for the paired bootstraps: a resource, not a setting (the results do not depend on it)
# Seconds to start one bootstrap worker: a spawned process imports pandas, scipy.stats, scikit-learn and the task
# shapes again (a pool of 2 ran 2 trivial calls in 1.2-1.4 s on the 2-core development machine)
WORKER_START_S = 1.3
PROBE_RESAMPLES = 5  # resamples of the first bootstrap timed to decide whether workers pay for their start-up
ALPHA = 0.05
CONFIDENCE = 0.95


@dataclass(frozen=True)
class SeedSummary:
    """Mean, sample sd, count and t-based confidence interval of a metric over seeds (NaN seeds propagate)."""

    mean: float
    sd: float | None
    n: int
    low: float | None
    high: float | None


def seed_summary(values: Sequence[float], confidence: float = CONFIDENCE) -> SeedSummary:
    """SeedSummary of one metric's per-seed values."""
    array = np.asarray(values, dtype=float)
    n = len(array)
    mean = float(array.mean()) if n else math.nan
    if n < 2:
        return SeedSummary(mean, None, n, None, None)
    sd = float(array.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return SeedSummary(mean, sd, n, mean - half, mean + half)


def paired_seed_test(model: Sequence[float], reference: Sequence[float]) -> float:
    """Two-sided p of a paired t-test over seeds; 1.0 when every difference is zero."""
    a, b = np.asarray(model, dtype=float), np.asarray(reference, dtype=float)
    if np.isnan(a).any() or np.isnan(b).any():
        return math.nan
    if np.allclose(a - b, 0.0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant non-zero differences: t is infinite, p is 0
        return float(stats.ttest_rel(a, b).pvalue)


def _metric(
    spec: TaskSpec, frame: pd.DataFrame, metric: str, thresholds: list[float] | None, checked: bool = False
) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined metrics on a resample (constant values) are NaN
        value = task_metrics(spec, frame, homology_thresholds=thresholds, checked=checked).get(metric, math.nan)
    return float(value)


def paired_bootstrap(
    spec: TaskSpec,
    model: pd.DataFrame,
    reference: pd.DataFrame,
    metric: str,
    *,
    model_thresholds: list[float] | None = None,
    reference_thresholds: list[float] | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """(observed metric difference model - reference, two-sided bootstrap p) on the same examples of one split."""
    if set(model[KEY]) != set(reference[KEY]) or len(model) != len(reference):
        raise InputError(f"task {spec.name!r}: the two runs' predictions are not on the same test examples")
    reference = reference.set_index(KEY).loc[model[KEY]].reset_index()
    observed = _metric(spec, model, metric, model_thresholds) - _metric(spec, reference, metric, reference_thresholds)
    rng = np.random.default_rng(seed)
    deltas = np.empty(n_resamples)
    with sklearn.config_context(skip_parameter_validation=True, assume_finite=True):  # checked by `observed`
        for index in range(n_resamples):
            rows = rng.integers(0, len(model), len(model))
            deltas[index] = _metric(spec, model.iloc[rows], metric, model_thresholds, checked=True) - _metric(
                spec, reference.iloc[rows], metric, reference_thresholds, checked=True
            )
    deltas = deltas[~np.isnan(deltas)]
    if not len(deltas) or math.isnan(observed):
        return observed, math.nan
    below = (1 + np.sum(deltas <= 0)) / (len(deltas) + 1)
    above = (1 + np.sum(deltas >= 0)) / (len(deltas) + 1)
    return observed, float(min(1.0, 2 * min(below, above)))


def _run_bootstrap(arguments: tuple[Any, ...], options: dict[str, Any]) -> tuple[float, float]:
    """paired_bootstrap with its positional arguments and options (a top-level function, so workers can run it)."""
    return paired_bootstrap(*arguments, **options)


def adjust(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q); NaN stays NaN and is not counted."""
    p = np.asarray(p_values, dtype=float)
    q = np.full(len(p), math.nan)
    known = ~np.isnan(p)
    if known.any():
        q[known] = stats.false_discovery_control(p[known], method="bh")
    return q


def default_reference(data: ReportData) -> str:
    """The first model pretrained with MLM + SFP, else the first model."""
    return next((name for name, info in data.models.items() if info.objective == "plus"), next(iter(data.models)))


def _headline_values(data: ReportData, model: str, task: str) -> dict[int, float]:
    info = data.tasks[task]
    scores = data.scores
    rows = scores[
        (scores["model"] == model)
        & (scores["task"] == task)
        & (scores["split"] == info.headline_split)
        & (scores["metric"] == info.headline_metric)
    ]
    return dict(zip(rows["seed"].astype(int), rows["value"].astype(float), strict=True))


@dataclass(frozen=True)
class Bootstrap:
    """A paired bootstrap to run: paired_bootstrap's arguments and options, and the test's description."""

    arguments: tuple[TaskSpec, pd.DataFrame, pd.DataFrame, str]
    options: dict[str, Any]
    test: str


def compare_to_reference(
    data: ReportData,
    reference: str | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    workers: int = WORKERS,
) -> pd.DataFrame:
    """One row per (model, task): seed summary, the difference to the reference, the test, p, q, significant.

    The paired bootstraps run in `workers` processes (plus.report.workers: none outlives a killed report); each is
    seeded on its own, so the table does not depend on `workers`."""
    reference = reference or data.reference_model or default_reference(data)
    if reference not in data.models:
        raise InputError(f"reference model {reference!r} is not among the models ({list(data.models)})")
    rows, bootstraps = [], []
    for task, info in data.tasks.items():
        reference_values = _headline_values(data, reference, task)
        for model in data.models:
            values = _headline_values(data, model, task)
            if not values:
                continue
            summary = seed_summary(list(values.values()))
            row = {
                "model": model,
                "task": task,
                "split": info.headline_split,
                "metric": info.headline_metric,
                "mean": summary.mean,
                "sd": summary.sd,
                "n_seeds": summary.n,
                "ci_low": summary.low,
                "ci_high": summary.high,
                "reference": reference,
                "delta": math.nan,
                "test": "",
                "p": math.nan,
            }
            if model != reference and reference_values:
                comparison = _compare(data, model, reference, task, values, reference_values, n_resamples, seed)
                if isinstance(comparison, Bootstrap):
                    bootstraps.append((row, comparison))
                else:
                    row.update(comparison)
            rows.append(row)
    _run_bootstraps(bootstraps, workers)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["q"] = adjust(table["p"].to_numpy(dtype=float))
    table["significant"] = table["q"] < ALPHA
    return table


def _serial_seconds(calls: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> float:
    """Seconds all the bootstraps would take in this process, from timing PROBE_RESAMPLES resamples of the first."""
    arguments, options = calls[0]
    start = time.perf_counter()
    _run_bootstrap(arguments, {**options, "n_resamples": PROBE_RESAMPLES})
    per_resample = (time.perf_counter() - start) / PROBE_RESAMPLES
    return per_resample * sum(options.get("n_resamples", N_RESAMPLES) for _, options in calls)


def _run_bootstraps(bootstraps: list[tuple[dict[str, Any], Bootstrap]], workers: int) -> None:
    """Run the paired bootstraps and fill in each row's delta, test and p: in `workers` processes where that is
    sooner than here, start-up included (WORKER_START_S), else here."""
    calls = [(case.arguments, case.options) for _, case in bootstraps]
    if workers > 1 and len(calls) > 1:
        serial_s = _serial_seconds(calls)
        workers = workers if WORKER_START_S + serial_s / min(workers, len(calls)) < serial_s else 1
    results = starmap(_run_bootstrap, calls, workers)
    for (row, case), (observed, p) in zip(bootstraps, results, strict=True):
        row.update({"delta": observed, "test": case.test, "p": p})


def compare_pairs(
    data: ReportData,
    pairs: Sequence[tuple[str, str]],
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    workers: int = WORKERS,
) -> pd.DataFrame:
    """One row per (pair, task): model minus `against` on the headline metric, the 95% t interval of the per-seed
    paired differences (>= 2 seeds in common), the paired test as against the reference, and p (q: adjust_all)."""
    rows, bootstraps = [], []
    for model, against in pairs:
        for name in (model, against):
            if name not in data.models:
                raise InputError(f"report.comparisons: model {name!r} is not among the models ({list(data.models)})")
        for task, info in data.tasks.items():
            values, against_values = _headline_values(data, model, task), _headline_values(data, against, task)
            if not values or not against_values:
                continue
            common = sorted(set(values) & set(against_values))
            differences = seed_summary([values[s] - against_values[s] for s in common])
            row = {
                "model": model,
                "against": against,
                "task": task,
                "split": info.headline_split,
                "metric": info.headline_metric,
                "n_common": len(common),
                "delta": math.nan,
                "ci_low": differences.low,
                "ci_high": differences.high,
                "test": "",
                "p": math.nan,
            }
            comparison = _compare(data, model, against, task, values, against_values, n_resamples, seed)
            if isinstance(comparison, Bootstrap):
                bootstraps.append((row, comparison))
            else:
                row.update(comparison)
            rows.append(row)
    _run_bootstraps(bootstraps, workers)
    return pd.DataFrame(rows)


def adjust_all(statistics: pd.DataFrame, pairs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables with q (and significant) from one Benjamini-Hochberg adjustment over all their p-values; the
    statistics table as it is when there are no pairs."""
    if pairs.empty:
        return statistics, pairs
    p = np.concatenate([statistics["p"].to_numpy(dtype=float), pairs["p"].to_numpy(dtype=float)])
    q = adjust(p)
    statistics, pairs = statistics.copy(), pairs.copy()
    statistics["q"], pairs["q"] = q[: len(statistics)], q[len(statistics) :]
    statistics["significant"], pairs["significant"] = statistics["q"] < ALPHA, pairs["q"] < ALPHA
    return statistics, pairs


def _compare(
    data: ReportData,
    model: str,
    reference: str,
    task: str,
    values: dict[int, float],
    reference_values: dict[int, float],
    n_resamples: int,
    seed: int,
) -> dict | Bootstrap:
    """The paired t-test over >= 2 common seeds, or the paired bootstrap to run on one seed's test examples."""
    common = sorted(set(values) & set(reference_values))
    delta = float(np.mean(list(values.values())) - np.mean(list(reference_values.values())))
    if len(common) >= 2:
        p = paired_seed_test([values[s] for s in common], [reference_values[s] for s in common])
        return {"delta": delta, "test": f"paired t over {len(common)} seeds", "p": p}
    info = data.tasks[task]
    model_seed = common[0] if common else min(values)
    reference_seed = common[0] if common else min(reference_values)
    model_frames = run_predictions(data, model, task)
    reference_frames = run_predictions(data, reference, task)
    frames = [model_frames[model_seed], reference_frames[reference_seed]]
    spec = report_task_spec(info, frames, data.task_specs.get(task))
    model_frame = model_frames[model_seed]
    reference_frame = reference_frames[reference_seed]
    model_frame = model_frame[model_frame["split"] == info.headline_split]
    reference_frame = reference_frame[reference_frame["split"] == info.headline_split]
    seeds = f"seed {model_seed}" + (f" vs {reference_seed}" if model_seed != reference_seed else "")
    return Bootstrap(
        (spec, model_frame, reference_frame, info.headline_metric),
        {
            "model_thresholds": data.homology_thresholds.get(RunKey(model, task, model_seed)),
            "reference_thresholds": data.homology_thresholds.get(RunKey(reference, task, reference_seed)),
            "n_resamples": n_resamples,
            "seed": seed,
        },
        f"paired bootstrap over {len(model_frame)} examples ({n_resamples} resamples, {seeds})",
    )


def significance_marks(comparison: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(model, task) -> MARK where the model differs significantly from the reference."""
    if comparison.empty:
        return {}
    hits = comparison[comparison["significant"]]
    return {(row.model, row.task): MARK for row in hits.itertuples()}


MARK = "†"


def statistics_note(comparison: pd.DataFrame, data: ReportData) -> str:
    """The footnote that explains MARK in a table."""
    reference = comparison["reference"].iloc[0] if not comparison.empty else default_reference(data)
    return (
        f"{MARK}: differs from the reference model {data.models[reference].label} on the headline metric, "
        f"Benjamini-Hochberg q < {ALPHA} over all models and tasks (paired t-test over seeds with >= 2 seeds in "
        "common, else a paired bootstrap over test examples; the statistics table names the test of each)."
    )


def statistics_table(data: ReportData, comparison: pd.DataFrame) -> Table:
    """Per model and task: mean, sd, 95% CI over seeds, difference to the reference, test, p, q, significance."""
    table = Table(
        "statistics",
        "Headline metric per model and task: mean, sd and 95% t confidence interval over seeds; paired test "
        "against the reference model",
        {
            "Model": "text",
            "Task metric": "text",
            "Seeds": "text",
            "Mean": "scalar",
            "SD": "scalar",
            "95% CI": "text",
            "Δ vs reference": "scalar",
            "Test": "text",
            "p": "scalar",
            "q (BH)": "scalar",
            "Significant": "text",
        },
    )
    for row in comparison.itertuples():
        column = ScoreColumn(row.task, row.metric, row.split).header
        is_reference = row.model == row.reference
        table.rows.append(
            {
                "Model": data.models[row.model].label + (" (reference)" if is_reference else ""),
                "Task metric": column,
                "Seeds": str(row.n_seeds),
                "Mean": Stat(row.mean),
                "SD": None if _missing(row.sd) else Stat(row.sd),
                "95% CI": _interval(row),
                "Δ vs reference": None if is_reference or _missing(row.delta) else Stat(row.delta),
                **_test_cells(row),
                "Significant": "" if is_reference or _missing(row.p) else ("yes" if row.significant else "no"),
            }
        )
    table.notes = [
        "95% CI: mean ± t(0.975, n-1) · sd / sqrt(n) over seeds (none for one seed). Δ: model minus reference "
        "(mean over seeds; for a bootstrap, on the seeds compared).",
        statistics_note(comparison, data),
    ]
    return table


def pairs_table(data: ReportData, pairs: pd.DataFrame) -> Table:
    """Per named pair and task: the paired difference, its 95% t interval over seeds, test, p, q, significance."""
    table = Table(
        "pairs",
        "Named pairs (report.comparisons): headline metric of a model minus another's on the same test examples, "
        "paired test",
        {
            "Model": "text",
            "Against": "text",
            "Task metric": "text",
            "Seeds in common": "text",
            "Δ": "scalar",
            "95% CI of Δ": "text",
            "Test": "text",
            "p": "scalar",
            "q (BH)": "scalar",
            "Significant": "text",
        },
    )
    for row in pairs.itertuples():
        column = ScoreColumn(row.task, row.metric, row.split).header
        table.rows.append(
            {
                "Model": data.models[row.model].label,
                "Against": data.models[row.against].label,
                "Task metric": column,
                "Seeds in common": str(row.n_common),
                "Δ": None if _missing(row.delta) else Stat(row.delta),
                "95% CI of Δ": _interval(row),
                **_test_cells(row),
                "Significant": "" if _missing(row.p) else ("yes" if row.significant else "no"),
            }
        )
    table.notes = [
        "Δ: model minus against, the mean over seeds; 95% CI: mean ± t(0.975, n-1) · sd / sqrt(n) of the per-seed "
        "paired differences (none for fewer than two seeds in common, where the test is a paired bootstrap over "
        "test examples).",
        f"q: Benjamini-Hochberg over these pairs and every comparison of the statistics table together; significant "
        f"when q < {ALPHA}.",
    ]
    return table


def _interval(row: Any) -> str:
    """A row's 95% interval as text, or a dash where there is none."""
    return "—" if _missing(row.ci_low) else f"[{row.ci_low:.3f}, {row.ci_high:.3f}]"


def _test_cells(row: Any) -> dict[str, Any]:
    """The Test, p and q (BH) cells of a row of the statistics or pairs table."""
    return {
        "Test": row.test or "—",
        "p": None if _missing(row.p) else Stat(row.p),
        "q (BH)": None if _missing(row.q) else Stat(row.q),
    }


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
