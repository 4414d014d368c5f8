"""Classification, regression and secondary-structure metrics, and `task_metrics` dispatch."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from sklearn.metrics import matthews_corrcoef
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.regression import PearsonCorrCoef, SpearmanCorrCoef

from plus.errors import InputError
from plus.metrics import (
    accuracy,
    classification_metrics,
    confusion_matrix,
    mcc,
    pearson,
    q3_from_probabilities,
    q3_from_q8,
    regression_metrics,
    residue_accuracy,
    residue_confusion_matrix,
    secstr_metrics,
    spearman,
    task_metrics,
)
from plus.tasks import BUILTIN_TASKS, SECSTR8, resolve_task

# ---- classification -----------------------------------------------------------------------------------


def test_accuracy_and_mcc_by_hand() -> None:
    target = ["1", "1", "1", "0", "0", "0", "0", "1"]
    prediction = ["1", "1", "0", "0", "0", "1", "0", "1"]
    tp, tn, fp, fn = 3, 3, 1, 1
    assert accuracy(target, prediction) == pytest.approx(6 / 8)
    by_hand = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert mcc(target, prediction) == pytest.approx(by_hand)
    assert mcc(target, prediction) == pytest.approx(matthews_corrcoef(target, prediction))
    assert classification_metrics(target, prediction, ("0", "1")) == {
        "accuracy": pytest.approx(0.75),
        "mcc": pytest.approx(by_hand),
    }


def test_mcc_of_a_constant_prediction_is_zero() -> None:
    assert mcc(["0", "1", "1"], ["1", "1", "1"]) == 0.0


def test_multiclass_reports_accuracy_only() -> None:
    classes = ("a", "b", "c")
    assert classification_metrics(["a", "b", "c", "c"], ["a", "c", "c", "c"], classes) == {"accuracy": 0.75}


def test_confusion_matrix_by_hand() -> None:
    table = confusion_matrix(["a", "a", "b", "c"], ["a", "b", "b", "a"], labels=["a", "b", "c"])
    assert table.loc["a"].tolist() == [1, 1, 0]
    assert table.loc["b"].tolist() == [0, 1, 0]
    assert table.loc["c"].tolist() == [1, 0, 0]
    assert table.index.name == "true" and table.columns.name == "predicted"
    with pytest.raises(ValueError, match="not among"):
        confusion_matrix(["a"], ["z"], labels=["a", "b"])


def test_classification_rejects_empty_and_mismatched_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        accuracy([], [])
    with pytest.raises(ValueError, match="2 targets but 1"):
        mcc(["0", "1"], ["0"])


# ---- regression ---------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Metric `SpearmanCorrcoef` will save")
def test_spearman_and_pearson_match_scipy_and_torchmetrics() -> None:
    rng = np.random.default_rng(0)
    target = rng.normal(size=200)
    prediction = target + rng.normal(scale=0.7, size=200)
    prediction[:20] = np.round(prediction[:20])  # some ties
    rho, r = spearman(target, prediction), pearson(target, prediction)
    assert rho == pytest.approx(stats.spearmanr(target, prediction).statistic)
    assert r == pytest.approx(np.corrcoef(target, prediction)[0, 1])
    torch_pred, torch_target = torch.tensor(prediction), torch.tensor(target)
    assert rho == pytest.approx(SpearmanCorrCoef()(torch_pred, torch_target).item(), abs=1e-6)
    assert r == pytest.approx(PearsonCorrCoef()(torch_pred, torch_target).item(), abs=1e-6)


def test_spearman_by_hand_with_ties() -> None:
    # ranks of target 1, 2, 3, 4; ranks of prediction 1.5, 1.5, 4, 3 -> Pearson correlation of the ranks
    target, prediction = [1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 9.0, 7.0]
    ranks_t, ranks_p = np.array([1, 2, 3, 4.0]), np.array([1.5, 1.5, 4, 3])
    expected = np.corrcoef(ranks_t, ranks_p)[0, 1]
    assert spearman(target, prediction) == pytest.approx(expected)
    assert regression_metrics(target, prediction)["spearman"] == pytest.approx(expected)


def test_constant_predictions_give_nan_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="constant"):
        assert math.isnan(spearman([1.0, 2.0, 3.0], [0.5, 0.5, 0.5]))
    with pytest.warns(UserWarning, match="constant"):
        assert math.isnan(pearson([1.0, 1.0, 1.0], [0.1, 0.5, 0.2]))


def test_regression_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        spearman([], [])
    with pytest.raises(ValueError, match="at least two"):
        pearson([1.0], [2.0])
    with pytest.raises(ValueError, match="non-finite prediction"):
        spearman([1.0, 2.0], [1.0, float("nan")])


def test_spearman_on_real_stability_labels(realdata: Path) -> None:
    labels = pd.read_csv(realdata / "tape_stability" / "valid.csv")["label"].to_numpy(dtype=float)
    noisy = labels + np.random.default_rng(1).normal(scale=0.5, size=len(labels))
    assert spearman(labels, noisy) == pytest.approx(stats.spearmanr(labels, noisy).statistic)
    assert spearman(labels, labels) == pytest.approx(1.0)


# ---- secondary structure ------------------------------------------------------------------------------


def test_q3_from_q8_mapping() -> None:
    assert q3_from_q8("GHIBESTC") == "HHHEECCC"
    assert q3_from_q8("H.E") == "H.E"
    with pytest.raises(ValueError, match="X"):
        q3_from_q8("HXE")


def test_q3_from_probabilities_sums_groups_before_argmax() -> None:
    probs = np.zeros((2, 8))
    probs[0, [SECSTR8.index("G"), SECSTR8.index("H"), SECSTR8.index("E")]] = [0.3, 0.3, 0.4]
    probs[1, [SECSTR8.index("E"), SECSTR8.index("S"), SECSTR8.index("T")]] = [0.45, 0.25, 0.3]
    argmax8 = "".join(SECSTR8[i] for i in probs.argmax(axis=1))
    assert q3_from_q8(argmax8) == "EE"  # mapping the 8-class argmax
    assert q3_from_probabilities(probs) == "HC"  # the paper's acc3 prediction
    with pytest.raises(ValueError, match="logits"):
        q3_from_probabilities(np.log(probs + 1e-9))
    with pytest.raises(ValueError, match="shape"):
        q3_from_probabilities(np.ones((3, 3)) / 3)


def test_residue_accuracy_skips_unlabelled_and_matches_torchmetrics() -> None:
    targets = ["HHE.C", "..EE"]
    predictions = ["HHCEC", "HHEC"]
    acc, n = residue_accuracy(targets, predictions, "HEC")
    assert (acc, n) == (pytest.approx(4 / 6), 6)
    index = {c: i for i, c in enumerate("HEC")}
    flat_t = torch.tensor([index.get(c, -100) for c in "".join(targets)])
    flat_p = torch.tensor([index[c] for c in "".join(predictions)])
    metric = MulticlassAccuracy(num_classes=3, average="micro", ignore_index=-100)
    assert acc == pytest.approx(metric(flat_p, flat_t).item())


def test_residue_confusion_matrix_skips_unlabelled() -> None:
    table = residue_confusion_matrix(["HHE.C", "..EE"], ["HHCEC", "HHEC"], "HEC")
    assert table.loc["H"].tolist() == [2, 0, 0]
    assert table.loc["E"].tolist() == [0, 1, 2]
    assert table.loc["C"].tolist() == [0, 0, 1]
    assert int(table.to_numpy().sum()) == 6


def test_residue_accuracy_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="record 0"):
        residue_accuracy(["HHE"], ["HH"], "HEC")
    with pytest.raises(ValueError, match="unlabelled"):
        residue_accuracy(["..."], ["HHH"], "HEC")
    with pytest.raises(ValueError, match="empty"):
        residue_accuracy([], [], "HEC")
    with pytest.raises(ValueError, match="letters"):
        residue_accuracy(["HHE"], ["HHX"], "HEC")


def test_secstr_metrics_by_hand() -> None:
    targets = ["GHHE.T"]
    predictions8 = ["HHHBCT"]  # 8-class right: H, H, T -> 3 of 5; 3-class (mapped) right: H H H E . C -> 5 of 5
    result = secstr_metrics(targets, predictions8)
    assert result == {"accuracy_8class": pytest.approx(3 / 5), "accuracy_3class": 1.0, "n_residues": 5}
    with_q3 = secstr_metrics(targets, predictions8, ["HHHCCC"])  # truth HHHE.C: the E is missed
    assert with_q3["accuracy_3class"] == pytest.approx(4 / 5)


def test_q3_mapping_reproduces_netsurfp_dssp3_on_cb513(realdata: Path) -> None:
    with open(realdata / "secondary_structure" / "CB513_HHblits.csv", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    assert len(rows) == 511
    dssp3 = ["".join(row[1].split()) for row in rows]
    dssp8 = ["".join(row[2].split()) for row in rows]
    assert [q3_from_q8(letters) for letters in dssp8] == dssp3
    result = secstr_metrics(dssp8, dssp8)
    assert result["accuracy_8class"] == 1.0 and result["accuracy_3class"] == 1.0


# ---- task_metrics -------------------------------------------------------------------------------------


def test_task_metrics_solubility() -> None:
    frame = pd.DataFrame(
        {
            "split": "test",
            "id": ["a", "b", "c", "d"],
            "target": ["1", "0", "1", "0"],
            "prediction": ["1", "0", "0", "0"],
            "probabilities": [[0.1, 0.9], [0.8, 0.2], [0.6, 0.4], [0.7, 0.3]],
        }
    )
    result = task_metrics(BUILTIN_TASKS["solubility"], frame)
    assert result == {
        "accuracy": 0.75,
        "mcc": pytest.approx(matthews_corrcoef(frame["target"], frame["prediction"])),
        "n": 4,
    }


def test_task_metrics_localization_names_a_bad_record() -> None:
    spec = BUILTIN_TASKS["localization"]
    frame = pd.DataFrame(
        {"split": "test", "id": ["a", "b"], "target": ["Nucleus", "Cytoplasm"], "prediction": ["Nucleus", "Nucleus"]}
    )
    assert task_metrics(spec, frame) == {"accuracy": 0.5, "n": 2}
    frame.loc[1, "prediction"] = "Nucleolus"
    with pytest.raises(InputError, match=r"split test: record 'b' has prediction 'Nucleolus'"):
        task_metrics(spec, frame)


def test_task_metrics_stability() -> None:
    frame = pd.DataFrame({"id": list("abcd"), "target": [0.1, 0.5, 0.2, 0.9], "prediction": [0.0, 0.4, 0.3, 1.0]})
    result = task_metrics(BUILTIN_TASKS["stability"], frame)
    assert result["spearman"] == pytest.approx(1.0)
    assert result["pearson"] == pytest.approx(stats.pearsonr(frame["target"], frame["prediction"]).statistic)
    frame.loc[2, "prediction"] = np.nan
    with pytest.raises(InputError, match="record 'c'"):
        task_metrics(BUILTIN_TASKS["stability"], frame)


def test_task_metrics_secstr_prefers_the_probability_based_q3_column() -> None:
    frame = pd.DataFrame({"split": "test_cb513", "id": ["p"], "target": ["GHHE.T"], "prediction": ["HHHBCT"]})
    spec = BUILTIN_TASKS["secstr"]
    assert task_metrics(spec, frame) == {
        "accuracy_8class": pytest.approx(0.6),
        "accuracy_3class": 1.0,
        "n_residues": 5,
        "n": 1,
    }
    frame["prediction_3class"] = ["HHHCCC"]
    assert task_metrics(spec, frame)["accuracy_3class"] == pytest.approx(0.8)
    frame["prediction"] = ["HHHBC"]
    with pytest.raises(InputError, match="record 'p' has 5 letters in prediction but 6 in target"):
        task_metrics(spec, frame)


def test_task_metrics_generic_residue_task() -> None:
    spec = resolve_task("disorder", {"shape": "residue_classification", "classes": ["D", "O"]})
    frame = pd.DataFrame({"id": ["x"], "target": ["DDO."], "prediction": ["DOOO"]})
    assert task_metrics(spec, frame) == {"accuracy": pytest.approx(2 / 3), "n_residues": 3, "n": 1}


def test_task_metrics_rejects_missing_columns_and_empty_frames() -> None:
    spec = BUILTIN_TASKS["fluorescence"]
    with pytest.raises(InputError, match=r"missing columns \['prediction'\]"):
        task_metrics(spec, pd.DataFrame({"id": ["a"], "target": [1.0]}))
    with pytest.raises(InputError, match="no rows"):
        task_metrics(spec, pd.DataFrame({"id": [], "target": [], "prediction": []}))


def _predictions_of(task: str, rng: np.random.Generator, n: int = 40) -> pd.DataFrame:
    """Random but well-formed predictions of a built-in task, in the columns `plus evaluate` writes."""
    spec = BUILTIN_TASKS[task]
    ids = [f"r{i}" for i in range(n)]
    if spec.shape == "pair":
        return pd.DataFrame({"id": ids, "target": rng.integers(0, 5, n), "expected_level": rng.uniform(0, 4, n)})
    if spec.shape == "protein_regression":
        return pd.DataFrame({"id": ids, "target": rng.normal(size=n), "prediction": rng.normal(size=n)})
    classes = list(spec.classes)
    if spec.shape == "protein_classification":
        return pd.DataFrame({"id": ids, "target": rng.choice(classes, n), "prediction": rng.choice(classes, n)})
    lengths = rng.integers(20, 60, n)
    letters = "".join(classes)
    target = ["".join(rng.choice(list(letters), length)) for length in lengths]
    prediction = ["".join(rng.choice(list(letters), length)) for length in lengths]
    return pd.DataFrame({"id": ids, "target": target, "prediction": prediction})


@pytest.mark.parametrize("task", ["homology", "solubility", "localization", "stability", "secstr", "transmembrane"])
def test_skipping_the_checks_of_checked_rows_gives_the_same_metrics(task: str) -> None:
    """The paired bootstrap scores resamples of checked rows with checked=True: the metrics must not change."""
    spec = BUILTIN_TASKS[task]
    frame = _predictions_of(task, np.random.default_rng(len(task)))
    thresholds = [0.5, 1.5, 2.5, 3.5] if spec.shape == "pair" else None
    checked = task_metrics(spec, frame, homology_thresholds=thresholds, checked=True)
    assert checked == task_metrics(spec, frame, homology_thresholds=thresholds)
    assert len(checked) > 1
