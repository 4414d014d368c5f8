"""Format declarations (unknown keys, check_source, docs/formats.md), splits, duplicates, truncation, new formats."""

from __future__ import annotations

import json
import logging
import random
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from plus.cli import main
from plus.data.task_data.classes import classes_in_data, classes_in_task_dir, read_classes_file
from plus.data.task_data.declarations import FormatOptions, type_name
from plus.data.task_data.formats_doc import formats_markdown
from plus.data.task_data.importers import check_source, get_importer, import_source, registry
from plus.data.task_data.importing import CONFIG_KEYS, check_task_config, import_job, import_task
from plus.data.task_data.scope_pairs import sample_pairs, scope_pairs, similarity
from plus.data.task_data.splitting import split_by_sequence
from plus.errors import InputError
from plus.settings import ImportJob, parse_settings
from plus.tasks import BUILTIN_TASKS, with_official_defaults

ROOT = Path(__file__).resolve().parents[1]
AMINO = "ACDEFGHIKLMNPQRSTVWY"


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def some_files(fmt_name: str) -> dict:
    """A files mapping with keys the format accepts (the files need not exist)."""
    fmt = registry()[fmt_name]
    keys = [key.pattern for key in fmt.files if key.required] or ["train_src" if fmt_name == "deepsol" else "train"]
    files = {key: f"/nonexistent/{key}" for key in keys}
    if fmt_name == "deepsol":
        files["train_tgt"] = "/nonexistent/train_tgt"
    return files


def required_options(fmt_name: str) -> dict:
    fields = registry()[fmt_name].options.model_fields
    return {name: "x" for name, field in fields.items() if field.is_required()}


# --- declarations: unknown keys, types, check_source -------------------------------------------------------


@pytest.mark.parametrize("fmt_name", sorted(registry()))
def test_every_format_rejects_unknown_options_before_reading(fmt_name):
    fmt = registry()[fmt_name]
    options = {**required_options(fmt_name), "no_such_option": 1}
    with pytest.raises(InputError, match=r"(unknown options|takes no options).*no_such_option"):
        fmt(some_files(fmt_name), options)
    if fmt.kind:
        fmt.resolve_options({"kind": fmt.kind, **required_options(fmt_name)})  # kind selects the format: allowed


@pytest.mark.parametrize("fmt_name", sorted(registry()))
def test_every_format_rejects_unknown_files_keys_or_reads_any_split(fmt_name):
    fmt = registry()[fmt_name]
    files = {**some_files(fmt_name), "bogus_key": "/nonexistent/x"}
    if any(key.pattern == "{split}" for key in fmt.files):
        fmt.check_files(files)  # any split name is a key
    else:
        with pytest.raises(InputError, match=r"unknown files keys \['bogus_key'\]"):
            fmt(files, required_options(fmt_name))


def test_option_types_are_checked():
    with pytest.raises(InputError, match="option mask_disordered must be true or false, not 'no'"):
        import_source({"format": "netsurfp_csv", "files": {"test": "x"}, "options": {"mask_disordered": "no"}}, "s")
    with pytest.raises(InputError, match="option seed must be an integer, not 1.5"):
        import_source(
            {"format": "topcons_3line", "files": {"pool": "x"}, "options": {"split": {"a": 1}, "seed": 1.5}}, "s"
        )
    with pytest.raises(InputError, match="option header must be true or false, not 1"):
        import_source({"format": "table", "files": {"a": "x.csv"}, "options": {"header": 1}}, "s")


def test_the_registry_is_explicit_and_each_format_has_one_options_model():
    package = ROOT / "plus" / "data" / "task_data" / "importers"
    assert not any("pkgutil" in path.read_text() for path in package.glob("*.py"))
    for name, fmt in registry().items():
        assert name == fmt.name
        assert issubclass(fmt.options, FormatOptions)
        assert fmt.options.model_config["extra"] == "forbid"


def test_options_are_validated_into_the_formats_model_with_defaults():
    options = registry()["tape_json"].resolve_options({"label_field": "stability_score"})
    assert isinstance(options, registry()["tape_json"].options)
    assert (options.label_field, options.valid_mask) == ("stability_score", "respect")
    assert registry()["deeploc"].resolve_options(None).tags == {"test": "test"}
    assert registry()["plus_fasta:label"].resolve_options({"kind": "label"}) == registry()["plus_fasta:label"].options()


@pytest.mark.parametrize(
    ("fmt_name", "options", "message"),
    [
        ("tape_json", {}, "format 'tape_json': options.label_field is required: record field used as label"),
        ("tape_json", {"label_field": 3}, "format 'tape_json': option label_field must be a string, not 3"),
        ("table", {"format": "xml"}, r"option format must be one of \['fasta', 'csv', 'tsv', None\], not 'xml'"),
        ("table", {"split_column": True}, "option split_column must be a string or an integer or null, not True"),
        ("flip_fasta", {"sets": {"train": ""}}, "format 'flip_fasta': options.sets must map SET values to split"),
        ("topcons_3line", {"sep": ","}, r"unknown options \['sep'\]; allowed: \['split', 'seed', 'map'\]"),
        ("tape_csv", {"sep": ","}, r"format 'tape_csv': takes no options, got \['sep'\]"),
    ],
)
def test_a_bad_option_is_one_line_naming_it(fmt_name, options, message):
    with pytest.raises(InputError, match=message) as error:
        registry()[fmt_name].resolve_options(options)
    assert "\n" not in str(error.value)


def check(source: dict) -> None:
    check_source(source, "tasks.x.sources[0]")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"format": "tape_csvs", "files": {"train": "a"}}, "unknown import format 'tape_csvs'"),
        ({"format": "plus_fasta", "files": {"train": "a"}}, "needs options.kind"),
        ({"format": "deeploc", "files": {"fasta": "a"}, "options": {"tag": {}}}, r"unknown options \['tag'\]"),
        ({"format": "deeploc", "files": {"fasta": "a"}, "options": {"tags": {"test": 3}}}, "options.tags must map"),
        ({"format": "deeploc", "files": {"train": "a"}}, r"unknown files keys \['train'\]"),
        ({"format": "flip_fasta", "files": {"sequences": "a"}}, r"files keys \['labels'\] are required"),
        ({"format": "deepsol", "files": {"val_src": "a"}}, "val_src and val_tgt must be given together"),
        ({"format": "tape_json", "files": {"train": "a"}}, "options.label_field is required"),
        ({"format": "tape_csv", "files": {"train": {"md5": "x"}}}, "files.train: a file must be a path or a mapping"),
        ({"format": "tape_csv", "files": {"train": {"path": "a.tar", "member": ""}}}, "'member' must be a path"),
        ({"format": "tape_csv", "files": {}}, "'files' must be a non-empty mapping"),
        ({"format": "tape_csv", "files": {"t": "a"}, "option": {}}, r"unknown source keys \['option'\]"),
        ({"format": "topcons_3line", "files": {"pool": "a"}}, "needs options.split"),
        ({"format": "topcons_3line", "files": {"pool": "a"}, "options": {"split": {"train": 0.5}}}, "sum to 1"),
        ({"format": "topcons_3line", "files": {"train": "a"}, "options": {"split": {"train": 1}}}, "only to 'pool'"),
        ({"format": "table", "files": {"train": "a.csv"}, "options": {"columns": {"sequence": "s"}}}, "at least"),
        ({"format": "table", "files": {"train": "a.fa"}, "options": {"split_column": "set"}}, "header_field:N"),
        ({"format": "table", "files": {"train": "a.fa"}, "options": {"fasta_label": "2"}}, "header_field:N"),
    ],
)
def test_check_source_catches_config_mistakes_without_files(source, message):
    with pytest.raises(InputError, match=message) as error:
        check(source)
    assert str(error.value).startswith("tasks.x.sources[0]")


@pytest.mark.parametrize("config_file", ["config/config.yaml", "config/paper.yaml"])
def test_check_source_and_check_task_config_accept_the_shipped_configs(config_file):
    tasks = yaml.safe_load((ROOT / config_file).read_text())["tasks"]
    for name, given in tasks.items():
        entry = with_official_defaults(name, given)  # paper.yaml: the built-in tasks' official sources
        for index, source in enumerate(entry["sources"]):
            check_source(source, f"tasks.{name}.sources[{index}]")  # url specs, files not present: no reads
        imported = {key: value for key, value in entry.items() if key in CONFIG_KEYS}  # not TaskSpec overrides
        check_task_config({**imported, "task": name}, f"tasks.{name}")


def test_check_task_config_catches_import_mistakes():
    base = {"task": "solubility", "sources": [{"format": "deepsol", "files": {"test_src": "a", "test_tgt": "b"}}]}
    check_task_config(base, "c")
    for change, message in (
        ({"label_maps": {}}, r"unknown config keys \['label_maps'\]"),
        ({"label_map": {"a": ["b"]}}, "must be a label or null"),
        ({"valid_from_train": {"fraction": 2}}, "between 0 and 1"),
        ({"expected_sizes": {"test": True}}, "expected_sizes"),
        ({"classes_file": "a.txt", "classes_from_data": True}, "not both"),
        ({"sources": [{"format": "deepsol", "files": {"test_src": "a"}}]}, "test_src and test_tgt"),
    ):
        with pytest.raises(InputError, match=message):
            check_task_config({**base, **change}, "c")


def test_docs_formats_md_is_generated_from_the_declarations(capsys):
    committed = (ROOT / "docs" / "formats.md").read_text()
    assert committed == formats_markdown(), "docs/formats.md is stale: run `plus formats --markdown > docs/formats.md`"
    assert main(["formats", "--markdown"]) == 0
    assert capsys.readouterr().out == committed
    for fmt in registry().values():
        assert f"## `{fmt.name}`" in committed
        for name, field in fmt.options.model_fields.items():
            assert f"| `{name}` | {type_name(field)} |" in committed
            assert field.description, f"{fmt.name}: option {name} has no description"
        for key in fmt.files:
            assert f"| `{key.pattern}`" in committed


# --- splits: data and seed only, identical sequences together, duplicates reported ------------------------


def three_line(records: list[tuple[str, str]]) -> str:
    return "".join(f">{name}\n{sequence}\n{'I' * len(sequence)}\n" for name, sequence in records)


def pool_records(n: int) -> list[tuple[str, str]]:
    rng = random.Random(5)
    return [(f"p{i}", "".join(rng.choice(AMINO) for _ in range(12))) for i in range(n)]


def test_pool_split_depends_on_data_and_seed_not_order(tmp_path):
    records = pool_records(68 * 5)
    shuffled = records[:]
    random.Random(1).shuffle(shuffled)
    config_order = {"train": 0.6, "valid": 0.2, "test": 0.2}
    sorted_order = dict(sorted(config_order.items()))  # what the workflow's JSON (sort_keys) holds
    first = import_source(
        {"format": "topcons_3line", "files": {"pool": write(tmp_path / "a.3line", three_line(records))},
         "options": {"split": config_order, "seed": 2}}, "s")  # fmt: skip
    second = import_source(
        {"format": "topcons_3line", "files": {"pool": write(tmp_path / "b.3line", three_line(shuffled))},
         "options": {"split": sorted_order, "seed": 2}}, "s")  # fmt: skip
    assert {s: len(t) for s, t in first.items()} == {"train": 204, "valid": 68, "test": 68}
    for split in ("train", "valid", "test"):
        assert set(first[split]["id"]) == set(second[split]["id"])


def test_pool_split_keeps_identical_sequences_together(tmp_path):
    records = pool_records(60)
    records += [(f"dup{i}", records[i % 5][1]) for i in range(15)]  # 15 copies of 5 sequences
    tables = import_source(
        {"format": "plus_3line", "files": {"pool": write(tmp_path / "p.3line", three_line(records))},
         "options": {"split": {"train": 0.5, "test": 0.5}, "seed": 0}}, "s")  # fmt: skip
    where = {sequence: split for split, table in tables.items() for sequence in table["sequence"]}
    for split, table in tables.items():
        assert all(where[sequence] == split for sequence in table["sequence"])
    assert sum(len(t) for t in tables.values()) == 75


def test_split_by_sequence_cuts_in_canonical_order():
    sequences = [f"M{AMINO[i % 20]}{AMINO[i // 20]}" for i in range(100)]
    parts = split_by_sequence(sequences, {"zeta": 0.1, "test": 0.2, "train": 0.6, "valid": 0.1}, 7, "x")
    assert list(parts) == ["train", "valid", "test", "zeta"]
    assert [len(v) for v in parts.values()] == [60, 10, 20, 10]
    again = split_by_sequence(list(reversed(sequences)), {"train": 0.6, "valid": 0.1, "test": 0.2, "zeta": 0.1}, 7, "x")
    assert {s: {sequences[i] for i in v} for s, v in parts.items()} == {
        s: {sequences[99 - i] for i in v} for s, v in again.items()
    }


def solubility_sources(tmp_path: Path, train: str, valid: str, test: str) -> list[dict]:
    files = {s: write(tmp_path / f"{s}.fa", text) for s, text in (("train", train), ("valid", valid), ("test", test))}
    return [{"format": "plus_fasta", "options": {"kind": "label"}, "files": files}]


def test_duplicates_across_splits_are_reported(tmp_path):
    train = ">a 1\nMKVLA\n>b 0\nGGGGA\n>c 1\nWWWWA\n"
    valid = ">d 1\nmkvla\n"
    test = ">e 0\nGGGGA\n>f 1\nMKVLA\n>g 0\nPPPPA\n"
    config = {"task": "solubility", "sources": solubility_sources(tmp_path, train, valid, test)}
    summary = import_task(config, tmp_path / "out", "c")
    assert summary["duplicates_across_splits"] == {
        "train/valid": {"sequences": 1, "examples": [["a", "d"]]},
        "train/test": {"sequences": 2, "examples": [["a", "f"], ["b", "e"]]},
        "valid/test": {"sequences": 1, "examples": [["d", "f"]]},
    }


def test_plus_import_task_runs_its_typed_job_as_import_task_runs_the_same_config(tmp_path):
    train = ">a 1\nMKVLAMKVLA\n>b 0\nGGGGA\n>c 1\nWWWWA\n>h 0\nPPPPAK\n>i 1\nKKKKAR\n"
    sources = solubility_sources(tmp_path, train, ">d 1\nMKVLW\n", ">e 0\nGGGGAW\n>f 1\nMKVLAW\n")
    del sources[0]["files"]["valid"]  # carved from train
    with zipfile.ZipFile(tmp_path / "test.zip", "w") as archive:
        archive.write(sources[0]["files"]["test"], "inner/test.fa")
    sources[0]["files"]["test"] = {"path": str(tmp_path / "test.zip"), "member": "inner/test.fa"}
    config = {
        "task": BUILTIN_TASKS["solubility"].to_dict(),
        "sources": sources,
        "label_map": {"1": "1", "0": "0"},
        "valid_from_train": {"fraction": 0.3, "seed": 2},
        "max_length": {"keep_ends": 6},
    }
    write(tmp_path / "job.json", json.dumps(config))
    assert main(["import-task", "--settings", str(tmp_path / "job.json"), "--out", str(tmp_path / "cli")]) == 0
    import_task(config, tmp_path / "direct", "task solubility")
    written = sorted(path.name for path in (tmp_path / "direct").iterdir() if path.name != "config.json")
    assert written == sorted(path.name for path in (tmp_path / "cli").iterdir() if path.name != "config.json")
    assert "max_length" in json.loads((tmp_path / "cli" / "summary.json").read_text())
    for name in written:
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "direct" / name).read_bytes(), name
    record = json.loads((tmp_path / "cli" / "config.json").read_text())["settings"]
    assert record["sources"][0]["files"]["test"] == {"path": str(tmp_path / "test.zip"), "member": "inner/test.fa"}


def test_an_import_job_is_checked_like_a_config(tmp_path):
    source = {"format": "plus_fasta", "options": {"kind": "label", "sep": ","}, "files": {"train": "a.fa"}}
    job = {"task": BUILTIN_TASKS["solubility"].to_dict(), "sources": [source]}
    with pytest.raises(InputError, match=r"sources\[0\] \(plus_fasta\): format 'plus_fasta:label': takes no options"):
        import_job(parse_settings(ImportJob, job), tmp_path / "out", "task solubility")
    with pytest.raises(InputError, match="give classes_file or classes_from_data, not both"):
        parse_settings(ImportJob, {**job, "classes_file": "c.txt", "classes_from_data": True})


def test_duplicates_match_an_independent_count_on_real_tape_stability(realdata: Path, tmp_path):
    files = {s: str(realdata / "tape_stability" / f"{s}.csv") for s in ("train", "valid", "test")}
    config = {"task": "stability", "sources": [{"format": "tape_csv", "files": files}]}
    summary = import_task(config, tmp_path / "out", "c")
    frames = {s: pd.read_csv(f) for s, f in files.items()}
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        shared = set(frames[a]["seq"].str.upper()) & set(frames[b]["seq"].str.upper())
        assert summary["duplicates_across_splits"].get(f"{a}/{b}", {"sequences": 0})["sequences"] == len(shared)


# --- truncation -----------------------------------------------------------------------------------------------


def test_fasta_without_final_newline_is_flagged_in_summary(tmp_path):
    train = ">a 1\nMKVLA\n>b 0\nGGGGA"  # cut after a residue: the last record may be incomplete
    config = {"task": "solubility", "sources": solubility_sources(tmp_path, train, ">d 1\nMKV\n", ">e 0\nGGA\n")}
    summary = import_task(config, tmp_path / "out", "c")
    assert summary["warnings"] == [
        f"{tmp_path / 'train.fa'}: the last line has no newline; the file may be truncated (its last record was kept)"
    ]


def test_import_task_logs_its_warnings(tmp_path, caplog):
    train = ">a 1\nMKVLA\n>b 0\nGGGGA"
    job = {
        "task": BUILTIN_TASKS["solubility"].to_dict(),
        "sources": solubility_sources(tmp_path, train, ">d 1\nMKV\n", ">e 0\nGGA\n"),
    }
    write(tmp_path / "job.json", json.dumps(job))
    with caplog.at_level(logging.WARNING):
        assert main(["import-task", "--settings", str(tmp_path / "job.json"), "--out", str(tmp_path / "out")]) == 0
    warned = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warned == [f"solubility: {tmp_path / 'train.fa'}: the last line has no newline; the file may be truncated "
                      "(its last record was kept)"]  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "text", "message"),
    [
        ("tape_csv", "seq,label,num_mutations\nMKV,0.5,1\nLLA,1.5", r"line 3: 2 fields where the first line has 3"),
        ("tape_csv", "seq,label\nMKV,0.5\nLLA", r"line 3: (empty label|1 fields)"),
        ("netsurfp_csv", "input, dssp8, disorder, cb513_mask\nM K, C C, 1 1, 1 1\nM K, C C", "line 3: 2 fields"),
        ("topcons_3line", ">a\nMKV\nIII\n>b\nMKVL\nII", "line 6: record 'b': topology has 2 letters"),
    ],
)
def test_records_cut_off_mid_line_are_errors(tmp_path, fmt, text, message):
    with pytest.raises(InputError, match=message):
        get_importer(fmt)({"test": write(tmp_path / "f.txt", text)}, {})


def test_csv_without_final_newline_but_complete_row_is_a_warning(tmp_path):
    table = get_importer("tape_csv")({"test": write(tmp_path / "f.csv", "seq,label\nMKV,0.5\nLLA,1.5")}, {})["test"]
    assert table.attrs["warnings"] == [f"{tmp_path / 'f.csv'}: the last line has no newline; the file may be "
                                       "truncated (its last record was kept)"]  # fmt: skip


# --- label dropping and classes ------------------------------------------------------------------------------


def test_label_map_null_drops_records_and_counts_them(tmp_path):
    train = ">a 1\nMKV\n>b 0\nGGA\n>c X\nWWA\n"
    config = {
        "task": "solubility",
        "sources": solubility_sources(tmp_path, train, ">d 1\nMKV\n>e X\nAAA\n", ">f 0\nGGA\n"),
        "label_map": {"X": None, "0": "1"},
    }
    summary = import_task(config, tmp_path / "out", "c")
    assert summary["dropped"] == {"label X (label_map: null)": 2}
    assert summary["mapped"] == {"label 0 -> 1": 2}
    assert {s: v["n"] for s, v in summary["splits"].items()} == {"train": 2, "valid": 1, "test": 1}
    assert pd.read_parquet(tmp_path / "out" / "train.parquet")["id"].tolist() == ["a", "b"]


def many_class_config(tmp_path: Path, **extra) -> dict:
    spec = {"name": "fold", "shape": "protein_classification", "classes": ["placeholder", "classes"]}
    train = "".join(f">t{i} f{i % 7}\nMKV{AMINO[i % 20]}\n" for i in range(30))
    valid = ">v f1\nMKV\n"
    test = ">x f2\nMKV\n>y f3\nGGA\n"
    return {"task": spec, "sources": solubility_sources(tmp_path, train, valid, test), **extra}


def test_classes_from_the_train_data(tmp_path):
    summary = import_task(many_class_config(tmp_path, classes_from_data=True), tmp_path / "out", "c")
    expected = [f"f{i}" for i in range(7)]
    assert summary["classes"] == {"from": "train data", "names": expected}
    assert list(summary["splits"]["train"]["class_balance"]) == expected
    assert classes_in_task_dir(tmp_path / "out") == tuple(expected)


def test_classes_from_a_file(tmp_path):
    classes = write(tmp_path / "folds.txt", "".join(f"f{i}\n" for i in range(7)) + "\nf7\n")
    summary = import_task(many_class_config(tmp_path, classes_file=classes), tmp_path / "out", "c")
    assert summary["classes"]["names"] == [f"f{i}" for i in range(8)]
    assert summary["splits"]["test"]["class_balance"]["f7"] == 0
    short = write(tmp_path / "short.txt", "f0\nf1\n")
    with pytest.raises(InputError, match=r"train.fa: line 5 \(id 't2'\): unknown class 'f2'"):
        import_task(many_class_config(tmp_path, classes_file=short), tmp_path / "out2", "c")


def test_classes_file_errors(tmp_path):
    with pytest.raises(InputError, match="line 3: class 'a' already listed on line 1"):
        read_classes_file(write(tmp_path / "c.txt", "a\nb\na\n"))
    with pytest.raises(InputError, match="at least two classes"):
        read_classes_file(write(tmp_path / "c.txt", "a\n\n"))
    with pytest.raises(InputError, match="classes file not found"):
        read_classes_file(tmp_path / "absent.txt")
    with pytest.raises(InputError, match="1 distinct label"):
        classes_in_data({"train": pd.DataFrame({"label": ["a", "a"]})})


# --- DeepLoc tags, generic FASTA splits ----------------------------------------------------------------------


def test_deeploc_third_tag_maps_to_a_split(tmp_path):
    fasta = write(tmp_path / "d.fa", ">A Nucleus-U\nMKV\n>B Cytoplasm-S new_test_set\nMKL\n>C Plastid-M test\nGG\n")
    with pytest.raises(InputError, match=r"line 3: header .* TAG one of \['test'\]"):
        get_importer("deeploc")({"fasta": fasta}, {})
    tables = get_importer("deeploc")({"fasta": fasta}, {"tags": {"test": "test", "new_test_set": "test_new"}})
    assert {s: t["id"].tolist() for s, t in tables.items()} == {"train": ["A"], "test_new": ["B"], "test": ["C"]}


def test_real_deeploc_with_default_tags(realdata: Path):
    tables = get_importer("deeploc")({"fasta": str(realdata / "deeploc" / "deeploc_test_set.fasta")}, {})
    assert list(tables) == ["test"] and len(tables["test"]) == 2768


def test_generic_fasta_takes_the_split_from_a_header_field(tmp_path):
    path = write(tmp_path / "all.fasta", ">a 0.5 train\nMKV\n>b 1.5 test\nGGA\n>c 2.5 train\nLLA\n")
    tables = get_importer("table")({"all": path}, {"split_column": "header_field:2"})
    assert {s: t["id"].tolist() for s, t in tables.items()} == {"train": ["a", "c"], "test": ["b"]}
    with pytest.raises(InputError, match="header 'b 1.5' has no field 2 for the split"):
        get_importer("table")(
            {"all": write(tmp_path / "b.fasta", ">a 1 x\nMK\n>b 1.5\nGG\n")}, {"split_column": "header_field:2"}
        )
    with pytest.raises(InputError, match="are FASTA, where split_column must be 'header_field:N'"):
        get_importer("table")({"all": path}, {"split_column": "set"})


# --- FLIP ----------------------------------------------------------------------------------------------------


def flip_zip(path: Path, labels: str | None = None) -> Path:
    sequences = ">p1\nMKVLA\n>p2\nGGSAA\n>p3\nWWYYA\n>p4\nPPPPP\n"
    labels = labels or (
        ">p1 SET=train VALIDATION=False\nHHEEC\n>p2 SET=train VALIDATION=True\nCCCHH\n"
        ">p3 SET=test VALIDATION=False\nEEECC\n"
    )
    mask = ">p1\n01111\n>p2\n11111\n>p3\n11110\n>p4\n11111\n"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in (("sequences.fasta", sequences), ("sampled.fasta", labels), ("mask.fasta", mask)):
            archive.writestr(f"splits/{name}", text)
    return path


def flip_files(archive: Path) -> dict:
    return {key: {"path": str(archive), "member": f"splits/{name}.fasta"}
            for key, name in (("sequences", "sequences"), ("labels", "sampled"), ("mask", "mask"))}  # fmt: skip


def test_flip_three_parallel_fasta_files_in_a_zip(tmp_path):
    archive = flip_zip(tmp_path / "splits.zip")
    spec = {"name": "ss3", "shape": "residue_classification", "classes": ["H", "E", "C"]}
    summary = import_task({"task": spec, "sources": [{"format": "flip_fasta", "files": flip_files(archive)}]},
                          tmp_path / "out", "c")  # fmt: skip
    assert {s: v["n"] for s, v in summary["splits"].items()} == {"train": 1, "valid": 1, "test": 1}
    assert pd.read_parquet(tmp_path / "out" / "train.parquet")["label"].tolist() == [".HEEC"]
    assert pd.read_parquet(tmp_path / "out" / "test.parquet")["label"].tolist() == ["EEEC."]
    assert summary["mapped"] == {"residues masked by mask file": 2}
    assert summary["dropped"] == {"sequences not in the labels file": 1}


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (">p1 SET=dev VALIDATION=False\nHHEEC\n", r"sampled.fasta: line 1: SET=dev is not one of \['test', 'train'\]"),
        (">p1 VALIDATION=False\nHHEEC\n", "line 1: header has no SET"),
        (">p1 SET=train VALIDATION=maybe\nHHEEC\n", "VALIDATION=maybe is not True or False"),
        (">p9 SET=train\nHHEEC\n", "id 'p9' has no sequence"),
        (">p1 SET=train\nHHEE\n", "'p1' has 4 labels but its sequence has 5"),
        (">p1 SET=train\nHHEEC\n>p1 SET=test\nHHEEC\n", "line 3: id 'p1' already on line 1"),
    ],
)
def test_flip_bad_input(tmp_path, labels, message):
    archive = flip_zip(tmp_path / "splits.zip", labels)
    with pytest.raises(InputError, match=message):
        get_importer("flip_fasta")(flip_files(archive), {})


# --- SCOPe pairs ---------------------------------------------------------------------------------------------


def astral(n_per_family: int = 3) -> str:
    rng = random.Random(0)
    lines, k = [], 0
    for cls in "ab":
        for fold in (1, 2):
            for superfamily in (1, 2):
                for family in (1, 2):
                    for _ in range(n_per_family):
                        k += 1
                        sequence = "".join(rng.choice(AMINO) for _ in range(20))
                        lines.append(f">d{k:03d}a_ {cls}.{fold}.{superfamily}.{family} (A:) x {{y}}\n{sequence}\n")
    return "".join(lines)


def test_similarity_counts_shared_sccs_levels():
    assert [similarity("a.1.1.1", other) for other in ("b.1.1.1", "a.2.1.1", "a.1.2.1", "a.1.1.2", "a.1.1.1")] == [
        0, 1, 2, 3, 4,
    ]  # fmt: skip


def test_scope_pairs_levels_order_independence_and_import(tmp_path, capsys):
    text = astral()
    fasta = write(tmp_path / "astral.fa", text)
    blocks = [">" + block for block in text.split(">")[1:]]
    random.Random(3).shuffle(blocks)
    shuffled = write(tmp_path / "shuffled.fa", "".join(blocks))
    out = tmp_path / "pairs.tsv"
    args = ["scope-pairs", "--fasta", fasta, "--out", str(out), "--pairs-per-level", "20", "--seed", "4"]
    assert main(args) == 0
    pairs = pd.read_csv(out, sep="\t")
    assert list(pairs.columns) == ["pdb_id_A", "pdb_id_B", "sequence_A", "sequence_B", "similarity"]
    assert pairs["similarity"].value_counts().sort_index().tolist() == [20, 20, 20, 20, 20]
    sccs = {line.split()[0][1:]: line.split()[1] for line in text.splitlines() if line.startswith(">")}
    assert all(similarity(sccs[a], sccs[b]) == s for a, b, s in pairs[["pdb_id_A", "pdb_id_B", "similarity"]].values)
    assert not pairs.duplicated(["pdb_id_A", "pdb_id_B"]).any() and (pairs["pdb_id_A"] != pairs["pdb_id_B"]).all()
    scope_pairs(shuffled, tmp_path / "again.tsv", 20, 4)
    assert (tmp_path / "again.tsv").read_text() == out.read_text()
    scope_pairs(fasta, tmp_path / "other.tsv", 20, 5)
    assert (tmp_path / "other.tsv").read_text() != out.read_text()
    table = get_importer("scope_bepler")({"train": fasta, "test": str(out)}, {})["test"]
    assert len(table) == 100 and table["id"].iloc[0] == f"{pairs['pdb_id_A'][0]}|{pairs['pdb_id_B'][0]}"


def test_scope_pairs_small_levels_give_all_their_pairs():
    ids = ["d1", "d2", "d3", "d4"]
    pairs = sample_pairs(ids, ["a.1.1.1", "a.1.1.1", "a.1.1.2", "b.1.1.1"], 50, 0)
    assert pairs.groupby("similarity").size().to_dict() == {0: 3, 3: 2, 4: 1}


def test_scope_pairs_bad_input(tmp_path, capsys):
    bad = write(tmp_path / "bad.fa", ">d1 a.1.1.1\nMKV\n>d2 not-sccs\nMKV\n")
    assert main(["scope-pairs", "--fasta", bad, "--out", str(tmp_path / "p.tsv")]) == 2
    assert "bad.fa: line 3: header 'd2 not-sccs' must be '>domain sccs" in capsys.readouterr().err
    assert not (tmp_path / "p.tsv").exists()


def test_carve_valid_depends_on_ids_and_seed_not_row_order():
    from plus.data.task_data.canonical import carve_valid
    from plus.data.task_data.importers import new_table

    ids = [f"p{i}" for i in range(100)]
    table = new_table({"id": ids, "sequence": ["MKV"] * 100, "label": ["1"] * 100})
    reversed_table = new_table({"id": ids[::-1], "sequence": ["MKV"] * 100, "label": ["1"] * 100})
    first = carve_valid({"train": table}, 0.2, 3)["valid"]
    second = carve_valid({"train": reversed_table}, 0.2, 3)["valid"]
    assert len(first) == 20 and set(first["id"]) == set(second["id"])
