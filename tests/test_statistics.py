"""Seed statistics, paired tests and the multiple-comparison correction, on constructed data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from plus.errors import InputError
from plus.report.predictions import with_row_keys
from plus.report.statistics import adjust, paired_bootstrap, paired_seed_test, seed_summary
from plus.tasks import BUILTIN_TASKS


def test_seed_summary_is_mean_sd_and_t_interval() -> None:
    summary = seed_summary([1.0, 2.0, 3.0])
    assert summary.mean == 2.0 and summary.sd == 1.0 and summary.n == 3
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2)
    assert summary.low == pytest.approx(2.0 - half) and summary.high == pytest.approx(2.0 + half)
    one = seed_summary([0.5])
    assert one.sd is None and one.low is None and one.mean == 0.5


def test_paired_seed_test() -> None:
    assert paired_seed_test([0.80, 0.81, 0.82], [0.50, 0.52, 0.49]) < 0.01
    assert paired_seed_test([0.7, 0.6, 0.8], [0.7, 0.6, 0.8]) == 1.0
    assert paired_seed_test([0.7, 0.6, 0.8], [0.6, 0.7, 0.8]) > 0.5  # differences cancel out
    assert math.isnan(paired_seed_test([0.7, math.nan], [0.6, 0.5]))


def regression(rng: np.random.Generator, target: np.ndarray, noise: float) -> pd.DataFrame:
    prediction = target + rng.normal(0, noise, len(target))
    frame = pd.DataFrame({"split": "test", "id": [f"p{i}" for i in range(len(target))], "target": target})
    return with_row_keys(frame.assign(prediction=prediction))


def test_paired_bootstrap_finds_a_clearly_better_model_and_not_an_identical_one() -> None:
    rng = np.random.default_rng(0)
    target = rng.normal(0, 1, 200)
    good, bad = regression(rng, target, 0.3), regression(rng, target, 2.0)
    spec = BUILTIN_TASKS["stability"]
    delta, p = paired_bootstrap(spec, good, bad, "spearman", n_resamples=1000, seed=1)
    assert delta > 0.3 and p == pytest.approx(2 / 1001)  # no resample reverses the order
    shuffled = paired_bootstrap(spec, good, bad.sample(frac=1.0, random_state=3), "spearman", n_resamples=1000, seed=1)
    assert shuffled == (pytest.approx(delta), pytest.approx(p))  # rows pair by (split, id), not by position
    assert paired_bootstrap(spec, good, good.copy(), "spearman", n_resamples=100) == (0.0, 1.0)
    with pytest.raises(InputError, match="not on the same test examples"):
        paired_bootstrap(spec, good, bad.iloc[:100], "spearman", n_resamples=10)


def test_benjamini_hochberg_raises_p_values_and_keeps_nan() -> None:
    q = adjust([0.01, 0.04, 0.03, math.nan])
    assert q[:3] == pytest.approx([0.03, 0.04, 0.04])  # p * m / rank, made monotone
    assert np.all(q[:3] >= np.array([0.01, 0.04, 0.03])) and math.isnan(q[3])
