"""Protein-level importers on real benchmark files and on small bad inputs; `plus import-task` end to end."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plus.cli import main
from plus.data.task_data.canonical import apply_max_length, validate_split
from plus.data.task_data.importers import get_importer, open_text, registry
from plus.data.task_data.importing import import_task
from plus.errors import InputError
from plus.metrics.task import task_metrics
from plus.tasks import BUILTIN_TASKS, LOCALIZATION_CLASSES


def run(fmt: str, files: dict, options: dict | None = None) -> dict[str, pd.DataFrame]:
    options = options or {}
    return get_importer(fmt, options)(files, options)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def make_tar(path: Path, members: dict[str, bytes], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


# --- open_text and the registry -------------------------------------------------------------------------


def test_open_text_reads_plain_gzip_and_tar_members(tmp_path):
    write(tmp_path / "a.txt", "plain\n")
    with gzip.open(tmp_path / "b.txt.gz", "wt") as handle:
        handle.write("zipped\n")
    make_tar(tmp_path / "c.tar.gz", {"data/c.txt": b"in tar.gz\n"})
    make_tar(tmp_path / "d.tar", {"./data/d.txt": b"in tar\n"}, mode="w")
    assert open_text(tmp_path / "a.txt").read() == "plain\n"
    assert open_text(str(tmp_path / "b.txt.gz")).read() == "zipped\n"
    with open_text({"path": str(tmp_path / "c.tar.gz"), "member": "data/c.txt"}) as handle:
        assert handle.read() == "in tar.gz\n"
    with open_text({"path": str(tmp_path / "d.tar"), "member": "data/d.txt"}) as handle:
        assert handle.read() == "in tar\n"


def test_open_text_errors_name_file_and_member(tmp_path):
    with pytest.raises(InputError, match="missing.txt: file not found"):
        open_text(tmp_path / "missing.txt")
    archive = make_tar(tmp_path / "c.tar.gz", {"data/c.txt": b"x"})
    with pytest.raises(InputError, match=r"c.tar.gz: archive has no member 'c.txt'.*data/c.txt"):
        open_text({"path": str(archive), "member": "c.txt"})
    with pytest.raises(InputError, match="x.tar: not a zip or tar archive"):
        open_text({"path": str(write(tmp_path / "x.tar", "not a tar")), "member": "a"})


def test_registry_has_every_protein_format():
    names = set(registry())
    assert {"deepsol", "deeploc", "tape_json", "tape_lmdb", "tape_csv", "table"} <= names
    assert {"plus_fasta:label", "plus_fasta:localization"} <= names
    with pytest.raises(InputError, match="unknown import format 'fasta'"):
        get_importer("fasta")
    with pytest.raises(InputError, match="'plus_fasta' needs options.kind"):
        get_importer("plus_fasta")


# --- real data --------------------------------------------------------------------------------------------


def test_deeploc_real_test_set(realdata: Path):
    tables = run("deeploc", {"fasta": str(realdata / "deeploc" / "deeploc_test_set.fasta")})
    assert list(tables) == ["test"]
    test = tables["test"]
    assert len(test) == 2768
    assert set(test["label"]) == set(LOCALIZATION_CLASSES)
    spec = BUILTIN_TASKS["localization"]
    clean, stats = validate_split(test, "test", spec)
    assert stats["n"] == 2768 and stats["length"]["max"] == 5654
    long = clean["sequence"].str.len() > 1000
    capped = apply_max_length({"test": clean}, {"keep_ends": 1000}, spec)["test"]
    assert capped.attrs["mapped"] == {"keep_ends_1000": int(long.sum())} and long.sum() > 0
    assert capped["sequence"].str.len().max() == 1000
    first = clean[long].iloc[0]["sequence"]
    assert capped[long].iloc[0]["sequence"] == first[:500] + first[-500:]


def test_deepsol_real_valid_and_test(realdata: Path):
    files = {
        f"{part}_{kind}": str(realdata / "deepsol" / f"{part}_{kind}")
        for part in ("val", "test")
        for kind in ("src", "tgt")
    }
    tables = run("deepsol", files)
    assert {split: len(table) for split, table in tables.items()} == {"valid": 6942, "test": 2001}
    assert tables["test"]["label"].value_counts().to_dict() == {"1": 1000, "0": 1001}
    validate_split(tables["valid"], "valid", BUILTIN_TASKS["solubility"])


@pytest.mark.parametrize(
    ("task", "files", "sizes"),
    [
        (
            "stability",
            {split: f"tape_stability/{split}.csv" for split in ("train", "valid", "test")},
            {"train": 53614, "valid": 2512, "test": 12851},
        ),
        (
            "fluorescence",
            {
                "train": "tape_fluorescence/train_reconstructed_from_sarkisyan.csv",
                "valid": "tape_fluorescence/valid.csv",
                "test": "tape_fluorescence/test_reconstructed_from_sarkisyan.csv",
            },
            {"train": 21446, "valid": 5362, "test": 27217},
        ),
    ],
)
def test_import_task_end_to_end_on_tape_csvs(realdata: Path, tmp_path, task, files, sizes):
    config = {
        "task": BUILTIN_TASKS[task].to_dict(),
        "sources": [{"format": "tape_csv", "files": {k: str(realdata / v) for k, v in files.items()}}],
        "expected_sizes": sizes,
    }
    write(tmp_path / "config.json", json.dumps(config))
    out = tmp_path / "tasks" / task
    assert main(["import-task", "--settings", str(tmp_path / "config.json"), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert {split: stats["n"] for split, stats in summary["splits"].items()} == sizes
    assert len(summary["source"]) == 3 and all(len(md5) == 32 for md5 in summary["source"].values())
    test = pd.read_parquet(out / "test.parquet")
    assert len(test) == sizes["test"] and test["label"].dtype == "float64"


# --- end to end with a tar archive, a carved valid split and a size mismatch -----------------------------


def deeploc_fasta(n_train: int = 10, n_test: int = 3) -> str:
    lines = []
    for i in range(n_train + n_test):
        tag = " test" if i >= n_train else ""
        location = LOCALIZATION_CLASSES[i % len(LOCALIZATION_CLASSES)]
        length = 1200 if i == 0 else 30
        lines += [f">P{i:05d} {location}-{'MSU'[i % 3]}{tag}", ("MKVL" * 400)[:length]]
    return "\n".join(lines) + "\n"


def localization_config(tmp_path: Path, **extra) -> Path:
    archive = make_tar(tmp_path / "deeploc.tar.gz", {"deeploc/deeploc_data.fasta": deeploc_fasta().encode()})
    config = {
        "task": BUILTIN_TASKS["localization"].to_dict(),
        "sources": [
            {"format": "deeploc", "files": {"fasta": {"path": str(archive), "member": "deeploc/deeploc_data.fasta"}}}
        ],
        "valid_from_train": {"fraction": 0.2, "seed": 0},
        "max_length": {"keep_ends": 1000},
        "expected_sizes": {"train": 8, "valid": 2, "test": 3},
        **extra,
    }
    return write(tmp_path / "localization.yaml", json.dumps(config))


def test_import_task_localization_from_tar(tmp_path):
    out = tmp_path / "out"
    assert main(["import-task", "--settings", str(localization_config(tmp_path)), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert {s: v["n"] for s, v in summary["splits"].items()} == {"train": 8, "valid": 2, "test": 3}
    assert summary["mapped"] == {"keep_ends_1000": 1}
    assert summary["valid_from_train"] == {"fraction": 0.2, "seed": 0}
    assert list(summary["source"]) == [f"{tmp_path / 'deeploc.tar.gz'}:deeploc/deeploc_data.fasta"]
    tables = {s: pd.read_parquet(out / f"{s}.parquet") for s in ("train", "valid", "test")}
    assert pd.concat(tables.values())["sequence"].str.len().max() == 1000


def test_import_task_size_mismatch_exits_2_without_output(tmp_path, capsys):
    config = localization_config(tmp_path, expected_sizes={"train": 9, "valid": 2, "test": 3})
    out = tmp_path / "out"
    assert main(["import-task", "--settings", str(config), "--out", str(out)]) == 2
    assert "split 'train': expected 9 records, found 8" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deeploc.tar.gz", "localization.yaml"]


def test_import_task_label_map_and_bad_config(tmp_path, capsys):
    fasta = write(tmp_path / "sol.fa", ">a 1\nMKV\n>b 0\nMKL\n")
    config = {
        "task": BUILTIN_TASKS["solubility"].to_dict(),
        "sources": [{"format": "plus_fasta", "options": {"kind": "label"}, "files": {"train": str(fasta)}}],
        "label_map": {"1": "0"},
    }
    write(tmp_path / "c.json", json.dumps(config))
    assert main(["import-task", "--settings", str(tmp_path / "c.json"), "--out", str(tmp_path / "o")]) == 2
    assert "splits ['valid', 'test'] missing" in capsys.readouterr().err
    config["sources"][0]["files"] = {"train": str(fasta), "valid": str(fasta), "test": str(fasta)}
    write(tmp_path / "c.json", json.dumps(config))
    assert main(["import-task", "--settings", str(tmp_path / "c.json"), "--out", str(tmp_path / "o")]) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["splits"]["test"]["class_balance"] == {"0": 2, "1": 0}
    assert summary["mapped"] == {"label 1 -> 0": 3}
    for key, value in (("valid_from_train", {"fraction": "a tenth"}), ("expected_sizes", {"test": "many"})):
        write(tmp_path / "c.json", json.dumps({**config, key: value}))
        assert main(["import-task", "--settings", str(tmp_path / "c.json"), "--out", str(tmp_path / "o2")]) == 2
        assert key in capsys.readouterr().err
    # `--settings` (pydantic, lax) turns the string "2" into 2; import_task itself refuses it
    with pytest.raises(InputError, match="expected_sizes must be a mapping of split -> integer count"):
        import_task({**config, "expected_sizes": {"test": "2"}}, tmp_path / "o2", "c.json")
    config["sources"][0]["format"] = "plus_fastq"
    write(tmp_path / "c.json", json.dumps(config))
    assert main(["import-task", "--settings", str(tmp_path / "c.json"), "--out", str(tmp_path / "o2")]) == 2
    assert "unknown import format 'plus_fastq'" in capsys.readouterr().err


# --- deepsol -----------------------------------------------------------------------------------------------


def deepsol_files(tmp_path: Path, src: str, tgt: str) -> dict[str, str]:
    return {"test_src": str(write(tmp_path / "test_src", src)), "test_tgt": str(write(tmp_path / "test_tgt", tgt))}


def test_deepsol_reads_pairs_of_line_files(tmp_path):
    tables = run("deepsol", deepsol_files(tmp_path, "MKV\nLLAG\n", "1\n0\n"))
    test = tables["test"]
    assert test[["id", "sequence", "label"]].values.tolist() == [["test_1", "MKV", "1"], ["test_2", "LLAG", "0"]]


@pytest.mark.parametrize(
    ("src", "tgt", "message"),
    [
        ("MKV\nLLA\n", "1\n", "test_src has 2 lines but .*test_tgt has 1"),
        ("MKV\nLLA\n", "1\n2\n", "test_tgt: line 2: label '2' is not 0 or 1"),
        ("MKV\n\nLLA\n", "1\n0\n1\n", "test_src: line 2: empty sequence"),
    ],
)
def test_deepsol_bad_input(tmp_path, src, tgt, message):
    with pytest.raises(InputError, match=message):
        run("deepsol", deepsol_files(tmp_path, src, tgt))


def test_deepsol_needs_src_and_tgt_together(tmp_path):
    with pytest.raises(InputError, match="test_src and test_tgt must be given together"):
        run("deepsol", {"test_src": str(write(tmp_path / "s", "MKV\n"))})
    with pytest.raises(InputError, match="unknown files keys"):
        run("deepsol", {"dev_src": str(write(tmp_path / "s", "MKV\n"))})


# --- deeploc / plus_fasta ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("P1 Nucleus-U valid", r"line 3: header 'P1 Nucleus-U valid' is not"),
        ("P1 Nucleus", r"line 3: location 'Nucleus' is not 'Location-X'"),
        ("P1", "line 3: header 'P1' is not"),
    ],
)
def test_deeploc_malformed_headers(tmp_path, header, message):
    fasta = write(tmp_path / "d.fasta", f">P0 Nucleus-U test\nMKV\n>{header}\nMKV\n")
    with pytest.raises(InputError, match=message):
        run("deeploc", {"fasta": str(fasta)})


def test_deeploc_unknown_location_is_caught_with_file_and_line(tmp_path):
    fasta = write(tmp_path / "d.fasta", ">P0 Nucleus-U test\nMKV\n>P1 Moon-M test\nMKV\n")
    test = run("deeploc", {"fasta": str(fasta)})["test"]
    with pytest.raises(InputError, match=r"d.fasta: line 3 \(id 'P1'\): unknown class 'Moon'"):
        validate_split(test, "test", BUILTIN_TASKS["localization"])


def test_plus_fasta_label_and_localization(tmp_path):
    labels = run("plus_fasta", {"train": str(write(tmp_path / "a.fa", ">x 0.5\nMKV\nLL\n"))}, {"kind": "label"})
    assert labels["train"][["id", "sequence", "label"]].values.tolist() == [["x", "MKVLL", "0.5"]]
    fasta = write(tmp_path / "l.fa", ">y Lysosome/Vacuole-M\nMKV\n")
    loc = run("plus_fasta", {"test": str(fasta)}, {"kind": "localization"})
    assert loc["test"]["label"].tolist() == ["Lysosome/Vacuole"]
    with pytest.raises(InputError, match=r"b.fa: line 1: header 'x' is not '>id LABEL'"):
        run("plus_fasta", {"train": str(write(tmp_path / "b.fa", ">x\nMKV\n"))}, {"kind": "label"})
    with pytest.raises(InputError, match="line 1: sequence data before the first"):
        run("plus_fasta", {"train": str(write(tmp_path / "c.fa", "MKV\n"))}, {"kind": "label"})


# --- TAPE JSON / LMDB / CSV ----------------------------------------------------------------------------------


def tape_records() -> list[dict]:
    return [
        {"primary": "MKVL", "ss8": [1, 1, 4, 7], "valid_mask": [True, True, False, True], "id": "a",
         "stability_score": [0.25]},
        {"primary": "GGA", "ss8": [0, 5, 6], "valid_mask": [True, True, True], "id": "a", "stability_score": [-1.5]},
    ]  # fmt: skip


def test_tape_json_secstr_and_regression_from_tar(tmp_path):
    archive = make_tar(tmp_path / "ss.tar.gz", {"ss/ss_train.json": json.dumps(tape_records()).encode()})
    files = {"train": {"path": str(archive), "member": "ss/ss_train.json"}}
    secstr = run("tape_json", files, {"label_field": "ss8"})["train"]
    assert secstr["label"].tolist() == ["HH.C", "GST"]
    assert secstr["id"].tolist() == ["a", "a#2"]
    assert secstr.attrs["mapped"] == {"duplicate_id_suffixed": 1, "ss8_valid_mask_false_to_unlabelled": 1}
    assert secstr.attrs["warnings"] == [
        f"{archive}:ss/ss_train.json: 1 records repeat an earlier record's id ('a'); kept, each renamed with a #k "
        "suffix (mapped: duplicate_id_suffixed)"
    ]
    validate_split(secstr, "train", BUILTIN_TASKS["secstr"])
    stability = run("tape_json", files, {"label_field": "stability_score"})["train"]
    assert stability["label"].tolist() == [0.25, -1.5]


def test_tape_duplicate_ids_reach_summary_warnings_and_mapped_counts(tmp_path):
    records = [{"primary": "MKVL", "stability_score": [float(i)], "id": f"r{i % 3}"} for i in range(8)]
    config = {
        "task": "stability",
        "sources": [
            {
                "format": "tape_json",
                "files": {"train": str(write(tmp_path / "train.json", json.dumps(records)))},
                "options": {"label_field": "stability_score"},
            },
            {"format": "tape_json", "files": {"test": str(write(tmp_path / "test.json", json.dumps(records[:2])))},
             "options": {"label_field": "stability_score"}},
        ],
        "valid_from_train": {"fraction": 0.25},
    }  # fmt: skip
    summary = import_task(config, tmp_path / "stability", "stability.yaml")
    assert summary["mapped"] == {"duplicate_id_suffixed": 5}
    assert summary["warnings"] == [
        f"{tmp_path / 'train.json'}: 5 records repeat an earlier record's id ('r0', 'r1', 'r2'); kept, each renamed "
        "with a #k suffix (mapped: duplicate_id_suffixed)"
    ]


def test_tape_valid_mask_ignore_scores_every_residue_as_the_authors(tmp_path):
    path = write(tmp_path / "ss.json", json.dumps(tape_records()))
    respected = run("tape_json", {"test": str(path)}, {"label_field": "ss8"})["test"]
    ignored = run("tape_json", {"test": str(path)}, {"label_field": "ss8", "valid_mask": "ignore"})["test"]
    assert ignored["label"].tolist() == ["HHEC", "GST"]  # position 2 of record a: valid_mask false, ss8 4 = E
    assert ignored.attrs["mapped"] == {"duplicate_id_suffixed": 1, "ss8_valid_mask_false_kept_labelled": 1}
    # a model that predicts C at the masked position: not scored when respected, wrong when every residue counts
    predictions = pd.DataFrame({"id": ["a", "a#2"], "prediction": ["HHCC", "GST"]})
    spec = BUILTIN_TASKS["secstr"]
    ours = task_metrics(spec, predictions.assign(target=respected["label"].to_numpy()))
    authors = task_metrics(spec, predictions.assign(target=ignored["label"].to_numpy()))
    assert (ours["n_residues"], ours["accuracy_8class"]) == (6, 1.0)
    assert (authors["n_residues"], authors["accuracy_8class"]) == (7, pytest.approx(6 / 7))
    with pytest.raises(InputError, match=r"option valid_mask must be one of \['respect', 'ignore'\], not 'drop'"):
        run("tape_json", {"test": str(path)}, {"label_field": "ss8", "valid_mask": "drop"})


def test_tape_json_bad_input(tmp_path):
    records = tape_records()
    records[1]["ss8"] = [0, 9, 1]
    path = write(tmp_path / "t.json", json.dumps(records))
    with pytest.raises(InputError, match=r"t.json: record 1: ss8 value 9 at position 1 is not in 0..7"):
        run("tape_json", {"train": str(path)}, {"label_field": "ss8"})
    with pytest.raises(InputError, match=r"t.json: record 0: no field 'log_fluorescence'"):
        run("tape_json", {"train": str(path)}, {"label_field": "log_fluorescence"})
    with pytest.raises(InputError, match="options.label_field is required"):
        run("tape_json", {"train": str(path)})
    with pytest.raises(InputError, match="not valid JSON"):
        run("tape_json", {"train": str(write(tmp_path / "b.json", "[{"))}, {"label_field": "ss8"})
    records[1]["ss8"] = [0, 1]
    path = write(tmp_path / "m.json", json.dumps(records))
    with pytest.raises(InputError, match=r"m.json: record 1: valid_mask has 3 entries but ss8 has 2"):
        run("tape_json", {"train": str(path)}, {"label_field": "ss8"})
    records[1]["valid_mask"] = [True, True]
    table = run("tape_json", {"train": str(write(tmp_path / "m.json", json.dumps(records)))}, {"label_field": "ss8"})
    with pytest.raises(InputError, match=r"m.json: record 1 \(id 'a#2'\): label has 2 letters but the sequence has 3"):
        validate_split(table["train"], "train", BUILTIN_TASKS["secstr"])


def test_tape_lmdb_without_lmdb_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "lmdb", None)
    with pytest.raises(InputError, match="pip install lmdb.*tape_json"):
        run("tape_lmdb", {"train": str(tmp_path)}, {"label_field": "stability_score"})


class FakeLmdb:
    """Stands in for the `lmdb` package: records keyed as TAPE stores them, and the paths opened."""

    Error = RuntimeError

    def __init__(self, store: dict[bytes, bytes]) -> None:
        self.store = store
        self.opened: list[tuple[str, bool, list[str]]] = []

    def open(self, path: str, subdir: bool = True, **kwargs):
        listing = sorted(p.name for p in Path(path).iterdir()) if subdir else [Path(path).read_text()]
        self.opened.append((Path(path).name, subdir, listing))
        return self

    def begin(self, write: bool = False):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def get(self, key: bytes):
        return self.store.get(key)

    def close(self) -> None:
        pass


def write_lmdb(directory: Path, records: list[dict]) -> Path:
    """A TAPE LMDB database as a plain directory (data.mdb and lock.mdb), written with the `lmdb` package."""
    lmdb = pytest.importorskip("lmdb")
    environment = lmdb.open(str(directory), map_size=1 << 20)
    with environment.begin(write=True) as transaction:
        transaction.put(b"num_examples", pickle.dumps(len(records)))
        for index, record in enumerate(records):
            transaction.put(str(index).encode(), pickle.dumps(record))
    environment.close()
    return directory


def test_tape_lmdb_directory_imports_with_each_file_md5(tmp_path):
    records = [dict(r, id=f"s{i}") for i, r in enumerate(tape_records() * 3)]
    splits = {split: write_lmdb(tmp_path / f"stability_{split}.lmdb", records) for split in ("train", "valid", "test")}
    files = {split: str(path) for split, path in splits.items()}
    source = {"format": "tape_lmdb", "options": {"label_field": "stability_score"}, "files": files}
    summary = import_task({"task": "stability", "sources": [source]}, tmp_path / "out", "c")
    assert {split: stats["n"] for split, stats in summary["splits"].items()} == {"train": 6, "valid": 6, "test": 6}
    data = f"{splits['train']}/data.mdb"
    assert data in summary["source"] and len(summary["source"][data]) == 32
    assert all(name.startswith(tuple(map(str, splits.values()))) for name in summary["source"])


def test_tape_lmdb_reads_pickled_records(tmp_path, monkeypatch):
    records = [dict(r, stability_score=np.array([r["stability_score"][0]], dtype=np.float32)) for r in tape_records()]
    store = {b"num_examples": pickle.dumps(2)} | {str(i).encode(): pickle.dumps(r) for i, r in enumerate(records)}
    fake = FakeLmdb(store)
    monkeypatch.setitem(sys.modules, "lmdb", fake)
    options = {"label_field": "stability_score"}
    (tmp_path / "stability_train.lmdb").mkdir()
    table = run("tape_lmdb", {"train": str(tmp_path / "stability_train.lmdb")}, options)
    assert table["train"]["label"].tolist() == [0.25, -1.5]
    archive = make_tar(
        tmp_path / "stability.tar.gz",
        {"stability/stability_valid.lmdb/data.mdb": b"d", "stability/stability_valid.lmdb/lock.mdb": b"l",
         "stability/stability_test.lmdb": b"single file"},
    )  # fmt: skip
    files = {
        "valid": {"path": str(archive), "member": "stability/stability_valid.lmdb"},
        "test": {"path": str(archive), "member": "stability/stability_test.lmdb"},
    }
    tables = run("tape_lmdb", files, options)
    assert len(tables["valid"]) == len(tables["test"]) == 2
    assert fake.opened[1][1:] == (True, ["data.mdb", "lock.mdb"])
    assert fake.opened[2] == ("stability_test.lmdb", False, ["single file"])
    with pytest.raises(InputError, match=r"no LMDB 'stability/train.lmdb'; LMDB members: \['stability/stability_t"):
        run("tape_lmdb", {"train": {"path": str(archive), "member": "stability/train.lmdb"}}, options)
    del store[b"1"]
    with pytest.raises(InputError, match="record 1 missing"):
        run("tape_lmdb", {"train": str(tmp_path / "stability_train.lmdb")}, options)


def test_tape_csv_bad_input_names_line(tmp_path):
    good = run("tape_csv", {"valid": str(write(tmp_path / "v.csv", "seq,label\nMKV,0.5\nLLA,1e-3\n"))})["valid"]
    assert good["id"].tolist() == ["valid_1", "valid_2"]
    bad = run("tape_csv", {"valid": str(write(tmp_path / "b.csv", "seq,label\nMKV,0.5\nLLA,high\n"))})["valid"]
    with pytest.raises(InputError, match=r"b.csv: line 3 \(id 'valid_2'\): label 'high' is not a finite number"):
        validate_split(bad, "valid", BUILTIN_TASKS["stability"])
    with pytest.raises(InputError, match=r"e.csv: line 2: empty label"):
        run("tape_csv", {"valid": str(write(tmp_path / "e.csv", "seq,label\nMKV,\n"))})
    with pytest.raises(InputError, match=r"c.csv: no column\(s\) \['label'\]"):
        run("tape_csv", {"valid": str(write(tmp_path / "c.csv", "seq,score\nMKV,1\n"))})
