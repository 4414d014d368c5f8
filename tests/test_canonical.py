"""Canonical task tables: validation, valid carving, length capping, atomic writing and summary.json."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from plus.data.task_data import canonical
from plus.data.task_data.canonical import apply_max_length, carve_valid, merge_tables, write_task
from plus.data.task_data.importers import ORIGIN, new_table
from plus.errors import InputError
from plus.tasks import BUILTIN_TASKS, TaskSpec

SOLUBILITY = BUILTIN_TASKS["solubility"]
STABILITY = BUILTIN_TASKS["stability"]
SECSTR = BUILTIN_TASKS["secstr"]
HOMOLOGY = BUILTIN_TASKS["homology"]


def protein_table(n: int, prefix: str, label: object = "1", sequence: str = "MKVLA") -> pd.DataFrame:
    return new_table({"id": [f"{prefix}{i}" for i in range(n)], "sequence": [sequence] * n, "label": [label] * n})


def solubility_tables() -> dict[str, pd.DataFrame]:
    train = protein_table(4, "tr")
    train.loc[0, "label"] = "0"
    return {"train": train, "valid": protein_table(2, "va"), "test": protein_table(3, "te", "0")}


def test_write_task_writes_parquet_and_summary(tmp_path):
    tables = solubility_tables()
    tables["train"].loc[1, "sequence"] = "mkvlaJ"  # lower case is upper-cased, J is an unknown residue
    tables["train"].attrs["dropped"] = {"too_short": 2}
    summary = write_task(tmp_path / "task", SOLUBILITY, tables, sources={"a.txt": "abc"}, expected_sizes={"test": 3})
    assert sorted(p.name for p in (tmp_path / "task").iterdir()) == [
        "config.json",
        "summary.json",
        "test.parquet",
        "train.parquet",
        "valid.parquet",
    ]
    train = pd.read_parquet(tmp_path / "task" / "train.parquet")
    assert list(train.columns) == ["id", "sequence", "label"]
    assert train["sequence"].tolist()[1] == "MKVLAJ"
    on_disk = json.loads((tmp_path / "task" / "summary.json").read_text())
    assert on_disk == summary
    assert summary["source"] == {"a.txt": "abc"}
    assert summary["splits"]["train"]["class_balance"] == {"0": 1, "1": 3}
    assert summary["splits"]["train"]["length"] == {"min": 5, "median": 5.0, "max": 6}
    assert summary["splits"]["train"]["unknown_residues"] == 1
    assert summary["splits"]["test"]["n"] == 3
    assert summary["dropped"] == {"too_short": 2}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_regression_labels_become_floats_with_stats(tmp_path):
    tables = {s: protein_table(3, s, label) for s, label in (("train", "0.5"), ("valid", 1), ("test", -2.0))}
    summary = write_task(tmp_path / "t", STABILITY, tables)
    assert pd.read_parquet(tmp_path / "t" / "valid.parquet")["label"].dtype == "float64"
    assert summary["splits"]["train"]["label_stats"]["mean"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.pop("valid"), r"splits \['valid'\] missing"),
        (lambda t: t.update(valid=t["valid"].iloc[:0]), "split 'valid' of task 'solubility' is empty"),
        (lambda t: t.update(extra=t["test"]), r"splits \['extra'\] are not splits"),
        (lambda t: t["test"].loc.__setitem__((1, "label"), "2"), r"record 2 \(id 'te1'\): unknown class '2'"),
        (
            lambda t: t["test"].loc.__setitem__((2, "sequence"), "MK-LA"),
            r"te2.*has '-' at position 3 \(excerpt 'MK-LA'\), not a residue letter",
        ),
        (lambda t: t["test"].loc.__setitem__((0, "sequence"), ""), "te0.*empty"),
        (lambda t: t["test"].loc.__setitem__((2, "id"), "te1"), "id 'te1' appears twice"),
        (lambda t: t.update(test=t["test"].drop(columns="label")), r"lacks columns \['label'\]"),
    ],
)
def test_bad_tables_are_rejected(tmp_path, change, message):
    tables = solubility_tables()
    change(tables)
    with pytest.raises(InputError, match=message):
        write_task(tmp_path / "task", SOLUBILITY, tables)
    assert not (tmp_path / "task").exists()


def test_error_names_the_origin_when_the_importer_gave_one(tmp_path):
    tables = solubility_tables()
    tables["valid"][ORIGIN] = ["f.fa: line 1", "f.fa: line 7"]
    tables["valid"].loc[1, "label"] = "soluble"
    with pytest.raises(InputError, match=r"f.fa: line 7 \(id 'va1'\): unknown class 'soluble'"):
        write_task(tmp_path / "task", SOLUBILITY, tables)


@pytest.mark.parametrize("label", ["high", "nan", float("inf"), None])
def test_regression_rejects_non_numeric_and_non_finite(tmp_path, label):
    tables = {s: protein_table(2, s, "1.5") for s in ("train", "valid", "test")}
    tables["valid"]["label"] = tables["valid"]["label"].astype(object)
    tables["valid"].loc[1, "label"] = label
    with pytest.raises(InputError, match="valid1"):
        write_task(tmp_path / "t", STABILITY, tables)


def test_expected_size_mismatch_names_split_expected_and_found(tmp_path):
    with pytest.raises(InputError, match="split 'train': expected 5 records, found 4"):
        write_task(tmp_path / "t", SOLUBILITY, solubility_tables(), expected_sizes={"train": 5})
    with pytest.raises(InputError, match="expected_sizes names splits"):
        write_task(tmp_path / "t", SOLUBILITY, solubility_tables(), expected_sizes={"dev": 5})
    assert not (tmp_path / "t").exists()


def test_failure_while_writing_leaves_previous_output_untouched(tmp_path, monkeypatch):
    out = tmp_path / "task"
    write_task(out, SOLUBILITY, solubility_tables())
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = []

    def failing_to_parquet(self, path, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(self, path, **kwargs)

    original = pd.DataFrame.to_parquet
    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing_to_parquet)
    tables = solubility_tables()
    tables["train"]["label"] = "0"
    with pytest.raises(OSError, match="disk full"):
        write_task(out, SOLUBILITY, tables)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["task"]


def residue_tables(label: str = "HHE.C") -> dict[str, pd.DataFrame]:
    splits = ("train", "valid", *SECSTR.test_splits)
    return {split: protein_table(2, split, label) for split in splits}


def test_residue_labels_checked_and_counted(tmp_path):
    summary = write_task(tmp_path / "ss", SECSTR, residue_tables())
    assert summary["splits"]["train"]["class_balance"]["H"] == 4
    assert summary["splits"]["train"]["class_balance"]["."] == 2
    with pytest.raises(InputError, match="label has 4 letters but the sequence has 5"):
        write_task(tmp_path / "ss2", SECSTR, residue_tables("HHEC"))
    with pytest.raises(InputError, match=r"label letters \['X'\] are not classes"):
        write_task(tmp_path / "ss2", SECSTR, residue_tables("HHEXC"))


def test_pair_task_similarity_levels(tmp_path):
    train = new_table({"id": ["d1", "d2"], "sequence": ["MKV", "LLA"], "label": ["a.1.1.1", "b.2.1.1"]})

    def pairs(similarity):
        return new_table({"id": ["p1"], "sequence": ["MKV"], "sequence_b": ["LLA"], "label": [similarity]})

    tables = {"train": train, "valid": pairs(4), "test": pairs(0), "test_2.07": pairs(2)}
    summary = write_task(tmp_path / "h", HOMOLOGY, tables)
    valid = pd.read_parquet(tmp_path / "h" / "valid.parquet")
    assert list(valid.columns) == ["id", "sequence", "label", "id_b", "sequence_b"]
    assert summary["splits"]["valid"]["class_balance"] == {"0": 0, "1": 0, "2": 0, "3": 0, "4": 1}
    tables["test"] = pairs(5)
    with pytest.raises(InputError, match=r"similarity 5 is not an integer 0..4"):
        write_task(tmp_path / "h2", HOMOLOGY, tables)


def test_carve_valid_is_deterministic_exact_and_disjoint():
    train = protein_table(200, "p")
    train.attrs["mapped"] = {"x": 1}
    first = carve_valid({"train": train, "test": protein_table(3, "t")}, 0.1, seed=0)
    again = carve_valid({"train": train, "test": protein_table(3, "t")}, 0.1, seed=0)
    other = carve_valid({"train": train, "test": protein_table(3, "t")}, 0.1, seed=1)
    assert len(first["valid"]) == 20 and len(first["train"]) == 180
    assert first["valid"]["id"].tolist() == again["valid"]["id"].tolist()
    assert set(first["valid"]["id"]) != set(other["valid"]["id"])
    assert not set(first["valid"]["id"]) & set(first["train"]["id"])
    assert first["train"].attrs["mapped"] == {"x": 1}
    with pytest.raises(InputError, match="already produced a 'valid'"):
        carve_valid(first, 0.1, 0)
    with pytest.raises(InputError, match="between 0 and 1"):
        carve_valid({"train": train}, 1.5, 0)


def test_keep_ends_keeps_first_and_last_half():
    long = "A" * 500 + "C" * 300 + "D" * 500
    table = new_table({"id": ["a", "b"], "sequence": [long, "MKV"], "label": ["Nucleus", "Plastid"]})
    capped = apply_max_length({"train": table}, {"keep_ends": 1000}, BUILTIN_TASKS["localization"])["train"]
    assert capped["sequence"].tolist() == ["A" * 500 + "D" * 500, "MKV"]
    assert capped.attrs["mapped"] == {"keep_ends_1000": 1}
    residue = new_table({"id": ["a"], "sequence": ["MKVWY"], "label": ["HHEEC"]})
    capped = apply_max_length({"train": residue}, {"keep_ends": 3}, SECSTR)["train"]
    assert (capped["sequence"][0], capped["label"][0]) == ("MWY", "HEC")
    with pytest.raises(InputError, match="only {keep_ends: <int>}"):
        apply_max_length({"train": table}, {"truncate": 10}, SECSTR)


def test_merge_tables_concatenates_splits_and_sums_counts():
    a = protein_table(2, "a")
    a.attrs["mapped"] = {"m": 1}
    b = protein_table(3, "b")
    b.attrs["mapped"] = {"m": 2}
    merged = merge_tables([{"train": a}, {"train": b, "test": protein_table(1, "c")}])
    assert len(merged["train"]) == 5 and len(merged["test"]) == 1
    assert merged["train"].attrs["mapped"] == {"m": 3}


def test_new_task_defined_by_config(tmp_path):
    spec = TaskSpec.from_dict({"name": "thermo", "shape": "protein_classification", "classes": ["hot", "cold"]})
    tables = {s: protein_table(2, s, "hot") for s in canonical.required_splits(spec)}
    summary = write_task(tmp_path / "thermo", spec, tables)
    assert summary["splits"]["test"]["class_balance"] == {"hot": 2, "cold": 0}
