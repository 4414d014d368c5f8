"""The generic `table` importer: CSV/TSV/FASTA through a column mapping, and a new task end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from plus.cli import main
from plus.data.task_data.canonical import validate_split
from plus.data.task_data.importers import get_importer
from plus.errors import InputError
from plus.tasks import BUILTIN_TASKS


def table(files: dict, options: dict) -> dict[str, pd.DataFrame]:
    return get_importer("table")(files, options)


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_csv_with_column_mapping(tmp_path):
    path = write(tmp_path / "a.csv", "name,aa,tm\np1,MKV,51.5\np2,LLAG,48\n")
    found = table({"train": path}, {"columns": {"id": "name", "sequence": "aa", "label": "tm"}})["train"]
    assert found[["id", "sequence", "label"]].values.tolist() == [["p1", "MKV", "51.5"], ["p2", "LLAG", "48"]]
    assert found["origin"].tolist() == [f"{path}: line 2", f"{path}: line 3"]
    clean, stats = validate_split(found, "train", BUILTIN_TASKS["stability"])
    assert clean["label"].tolist() == [51.5, 48.0]


def test_tsv_by_extension_split_column_and_generated_ids(tmp_path):
    text = "seq\tclass\tset\nMKV\t1\ttrain\nLLA\t0\ttest\nGGA\t0\ttrain\n"
    options = {"columns": {"sequence": "seq", "label": "class"}, "split_column": "set"}
    found = table({"all": write(tmp_path / "a.tsv", text)}, options)
    assert sorted(found) == ["test", "train"]
    assert found["train"][["id", "sequence", "label"]].values.tolist() == [
        ["train_1", "MKV", "1"],
        ["train_2", "GGA", "0"],
    ]
    assert found["test"]["origin"].tolist() == [f"{tmp_path / 'a.tsv'}: line 3"]


def test_headerless_positions_and_explicit_separator(tmp_path):
    path = write(tmp_path / "a.txt", "MKV;HHE\nLLAG;CC.E\n")
    options = {"columns": {"sequence": 0, "label": 1}, "header": False, "sep": ";"}
    found = table({"valid": path}, options)["valid"]
    clean, _ = validate_split(found, "valid", BUILTIN_TASKS["secstr"])
    assert clean["label"].tolist() == ["HHE", "CC.E"]


def test_fasta_label_from_header_field(tmp_path):
    path = write(tmp_path / "a.fasta", ">p1 human 0.7\nMKV\nLL\n>p2 mouse 1.2\nGGA\n")
    found = table({"test": path}, {"fasta_label": "header_field:2"})["test"]
    assert found[["id", "sequence", "label"]].values.tolist() == [["p1", "MKVLL", "0.7"], ["p2", "GGA", "1.2"]]
    with pytest.raises(InputError, match=r"a.fasta: line 1: header 'p1 human 0.7' has no field 3"):
        table({"test": path}, {"fasta_label": "header_field:3"})
    with pytest.raises(InputError, match="fasta_label must be 'header_field:N'"):
        table({"test": path}, {"fasta_label": "description"})


def test_pairs_through_the_mapping(tmp_path):
    path = write(tmp_path / "p.tsv", "a\tb\tsim\nMKV\tLLA\t3\n")
    options = {"columns": {"sequence": "a", "sequence_b": "b", "label": "sim"}}
    found = table({"valid": path}, options)["valid"]
    clean, stats = validate_split(found, "valid", BUILTIN_TASKS["homology"])
    assert clean[["sequence", "sequence_b", "label"]].values.tolist() == [["MKV", "LLA", 3]]
    assert clean["id_b"].tolist() == ["valid_0_b"]


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("s,l\nMKV,1\n", {"columns": {"sequence": "seq", "label": "l"}}, r"a.csv: no column\(s\) \['seq'\]"),
        ("s,l\nMKV,1\n,0\n", {"columns": {"sequence": "s", "label": "l"}}, r"a.csv: line 3: empty sequence"),
        ("s,l\nMKV,1,9\n", {"columns": {"sequence": "s", "label": "l"}}, r"a.csv: not a readable table"),
        ("s,l\nMKV,1\nLL,0,9\n", {"columns": {"sequence": "s", "label": "l"}}, r"a.csv: not a.*line 3, saw 3"),
        ("s,l\nMKV,1\n", {"columns": {"sequence": "s"}}, "must map at least 'sequence' and 'label'"),
        ("s,l\nMKV,1\n", {"columns": {"sequence": "s", "label": "l", "weight": "w"}}, "unknown keys"),
        ("s,l\nMKV,1\n", {"columns": {"sequence": "s", "label": "l"}, "delimiter": ","}, "unknown options"),
    ],
)
def test_bad_tables(tmp_path, text, options, message):
    with pytest.raises(InputError, match=message):
        table({"train": write(tmp_path / "a.csv", text)}, options)


def test_new_task_end_to_end_without_code(tmp_path):
    rows = "\n".join(
        f"prot{i},{'MKVLAG' * (1 + i % 4)},{40 + i / 2},{['train', 'valid', 'test'][i % 3]}" for i in range(30)
    )
    data = write(tmp_path / "meltome.csv", "accession,sequence,tm,split\n" + rows + "\n")
    config = {
        "task": {"name": "meltome", "shape": "protein_regression", "headline_metric": "spearman"},
        "sources": [
            {
                "format": "table",
                "files": {"all": data},
                "options": {
                    "columns": {"id": "accession", "sequence": "sequence", "label": "tm"},
                    "split_column": "split",
                },
            }
        ],
        "expected_sizes": {"train": 10, "valid": 10, "test": 10},
    }
    write(tmp_path / "meltome.json", json.dumps(config))
    out = tmp_path / "tasks" / "meltome"
    assert main(["import-task", "--settings", str(tmp_path / "meltome.json"), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "meltome" and summary["shape"] == "protein_regression"
    assert summary["splits"]["train"]["length"] == {"min": 6, "median": 15.0, "max": 24}
    test = pd.read_parquet(out / "test.parquet")
    assert test["label"].tolist() == [40 + i / 2 for i in range(2, 30, 3)]


def test_real_deeploc_through_generic_fasta(realdata: Path):
    path = str(realdata / "deeploc" / "deeploc_test_set.fasta")
    found = table({"test": path}, {"fasta_label": "header_field:1"})["test"]
    assert len(found) == 2768
    assert found["label"].str.rpartition("-")[0].nunique() == 10
