"""Official data recognised by content: split fingerprints, the shipped table, import-task's record, the report."""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from plus.data.task_data.canonical import validate_split
from plus.data.task_data.fingerprint import (
    DIFFERS,
    DOWNLOADED,
    OFFICIAL,
    OFFICIAL_TABLE,
    UNVERIFIED,
    official_splits,
    read_official,
    split_fingerprint,
)
from plus.data.task_data.importers import import_source
from plus.data.task_data.importing import import_task
from plus.errors import InputError
from plus.jobs import plan_workflow
from plus.metrics.task import task_metrics
from plus.report.build import build_report
from plus.report.collect import collect
from plus.report.provenance import Provenance, content_provenance, infer_provenance, task_provenance
from plus.settings import ReportJob, parse_settings
from plus.tasks import resolve_task

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ("train", "valid", "test")
AMINO = "ACDEFGHIKLMNPQRSTVWY"


@pytest.fixture(scope="module")
def tape_stability(realdata: Path) -> Path:
    return realdata / "tape_stability"


def canonical(source: dict, task: str = "stability") -> dict[str, pd.DataFrame]:
    """A source's splits read by its importer and validated as `plus import-task` validates them."""
    spec = resolve_task(task)
    return {split: validate_split(table, split, spec)[0] for split, table in import_source(source, "test").items()}


def table_config(files: dict[str, Path]) -> dict:
    options = {"columns": {"sequence": "seq", "label": "label"}}
    return {
        "task": "stability",
        "sources": [{"format": "table", "files": {k: str(v) for k, v in files.items()}, "options": options}],
    }


def random_rows(n: int, seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    sequences = ["".join(rng.choice(AMINO) for _ in range(rng.randint(8, 20))) for _ in range(n)]
    labels = np.float32(np.random.default_rng(seed).normal(size=n)).astype(float)
    return pd.DataFrame({"seq": sequences, "label": labels})


def test_fingerprint_ignores_ids_row_order_and_file_format_and_sees_one_label(tmp_path: Path) -> None:
    rows = random_rows(40)
    rows.to_csv(tmp_path / "copy.csv", index=False)
    shuffled = rows.sample(frac=1, random_state=1)
    records = [
        {"id": f"other_{i}", "primary": seq, "stability_score": [float(np.float32(label))]}
        for i, (seq, label) in enumerate(zip(shuffled["seq"], shuffled["label"], strict=True))
    ]
    (tmp_path / "copy.json").write_text(json.dumps(records))
    from_csv = canonical(table_config({"test": tmp_path / "copy.csv"})["sources"][0])["test"]
    from_json = canonical(
        {
            "format": "tape_json",
            "files": {"test": str(tmp_path / "copy.json")},
            "options": {"label_field": "stability_score"},
        }
    )["test"]
    assert list(from_csv["id"]) != list(from_json["id"])
    assert split_fingerprint(from_csv) == split_fingerprint(from_json)
    assert split_fingerprint(from_csv.assign(sequence=from_csv["sequence"].str.lower())) == split_fingerprint(from_csv)
    changed = from_csv.copy()
    changed.loc[7, "label"] += 0.01
    assert split_fingerprint(changed) != split_fingerprint(from_csv)
    assert split_fingerprint(from_csv.iloc[1:]) != split_fingerprint(from_csv)


def test_regression_labels_are_compared_as_float32_and_pairs_include_sequence_b() -> None:
    printed = pd.DataFrame({"sequence": ["MKV"], "label": [-0.209999993443489]})  # a CSV printing TAPE's float32
    assert split_fingerprint(printed) == split_fingerprint(printed.assign(label=[-0.21]))
    assert split_fingerprint(printed) != split_fingerprint(printed.assign(label=[-0.2101]))
    pairs = pd.DataFrame({"sequence": ["MKV", "AAA"], "sequence_b": ["GGG", "CCC"], "label": [1, 3]})
    swapped = pairs.assign(sequence_b=["CCC", "GGG"])
    assert split_fingerprint(pairs) != split_fingerprint(swapped)
    residue = pd.DataFrame({"sequence": ["MKV"], "label": ["HE."]})
    assert split_fingerprint(residue) != split_fingerprint(residue.assign(label=["HEC"]))
    with pytest.raises(InputError, match="lacks columns"):
        split_fingerprint(pd.DataFrame({"seq": ["MKV"]}))


def test_shipped_table_has_one_row_per_official_split_with_the_published_sizes() -> None:
    shipped = {(entry.task, entry.split): entry for entry in official_splits()}
    assert len(shipped) == len(official_splits()) == 11
    sizes = {key: entry.n for key, entry in shipped.items()}
    assert sizes[("stability", "train")] == 53614 and sizes[("stability", "test")] == 12851
    assert [sizes[("fluorescence", split)] for split in SPLITS] == [21446, 5362, 27217]
    assert sizes[("solubility", "test")] == 2001 and sizes[("localization", "test")] == 2768
    assert all(len(entry.fingerprint) == 64 for entry in shipped.values())


def test_a_malformed_official_table_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "bad.tsv").write_text("task\tsplit\tn\nstability\ttest\tmany\n")
    with pytest.raises(InputError, match="line 2: expected columns"):
        read_official(tmp_path / "bad.tsv")
    with pytest.raises(InputError, match="cannot read"):
        read_official(tmp_path / "absent.tsv")


def test_the_benchmark_script_reproduces_the_shipped_table(realdata: Path, tmp_path: Path, benchmark_module) -> None:
    official_fingerprints = benchmark_module("official_fingerprints")
    official_fingerprints.main(["--realdata", str(realdata), "--out", str(tmp_path / "table.tsv")])
    assert (tmp_path / "table.tsv").read_text() == OFFICIAL_TABLE.read_text()


def test_fluorescence_valid_rebuilt_from_sarkisyan_has_tape_valid_fingerprint(realdata: Path, tmp_path: Path) -> None:
    """The float32 rule: labels rebuilt from Sarkisyan's doubles fingerprint as TAPE's float32 valid.csv."""
    gfp = realdata / "gfp_sarkisyan2016"
    wild = "".join((gfp / "avGFP_wt.fasta").read_text().split("\n")[1:]).strip()
    variants = pd.read_csv(gfp / "avgfp.tsv", sep="\t")

    def mutate(variant: object) -> str:
        residues = list(wild)
        for change in str(variant).split(",") if isinstance(variant, str) and variant != "_wt" else []:
            residues[int(change[1:-1])] = change[-1]
        return "".join(r for r in residues if r != "*")

    score = dict(zip(variants["variant"].map(mutate), variants["score"], strict=True))
    valid = pd.read_csv(realdata / "tape_fluorescence" / "valid.csv")
    pd.DataFrame({"seq": valid["seq"], "label": valid["seq"].map(score)}).to_csv(tmp_path / "valid.csv", index=False)
    rebuilt = canonical(table_config({"valid": tmp_path / "valid.csv"})["sources"][0], "fluorescence")["valid"]
    shipped = {(entry.task, entry.split): entry for entry in official_splits()}[("fluorescence", "valid")]
    assert split_fingerprint(rebuilt) == shipped.fingerprint


def test_tape_stability_imported_as_a_local_table_is_official(tape_stability: Path, tmp_path: Path) -> None:
    summary = import_task(table_config({s: tape_stability / f"{s}.csv" for s in SPLITS}), tmp_path / "stability", "t")
    splits = summary["content"]["splits"]
    assert {split: record["status"] for split, record in splits.items()} == dict.fromkeys(SPLITS, OFFICIAL)
    assert splits["test"]["official"] == "TAPE stability test" and splits["test"]["n"] == 12851
    task, provenance = infer_provenance(tmp_path / "stability" / "summary.json")
    assert task == "stability" and provenance.comparable_to_published
    assert provenance.text() == "official (TAPE stability train, valid, test splits, content-verified)"


def test_a_copy_with_one_test_row_dropped_is_reported_split_by_split(tape_stability: Path, tmp_path: Path) -> None:
    pd.read_csv(tape_stability / "test.csv").iloc[1:].to_csv(tmp_path / "test.csv", index=False)
    files = {
        "train": tape_stability / "train.csv",
        "valid": tape_stability / "valid.csv",
        "test": tmp_path / "test.csv",
    }
    summary = import_task(table_config(files), tmp_path / "stability", "t")
    status = {split: record["status"] for split, record in summary["content"]["splits"].items()}
    assert status == {"train": OFFICIAL, "valid": OFFICIAL, "test": DIFFERS}
    provenance = infer_provenance(tmp_path / "stability" / "summary.json")[1]
    assert provenance.kind == "local" and not provenance.comparable_to_published
    assert "content: train, valid verified as TAPE stability; test is not TAPE stability test (12851 rows)" in (
        provenance.detail
    )


def synthetic_solubility(root: Path) -> dict:
    """A tiny solubility task in DeepSol line files: no official fingerprint matches it."""
    rng = random.Random(0)
    files = {}
    for part, n in (("train", 12), ("val", 4), ("test", 4)):
        sequences = ["".join(rng.choice(AMINO) for _ in range(15)) for _ in range(n)]
        (root / f"{part}_src").write_text("\n".join(sequences) + "\n")
        (root / f"{part}_tgt").write_text("\n".join(str(i % 2) for i in range(n)) + "\n")
        files.update({f"{part}_src": str(root / f"{part}_src"), f"{part}_tgt": str(root / f"{part}_tgt")})
    return {"task": "solubility", "sources": [{"format": "deepsol", "files": files}]}


def test_fingerprints_of_a_download_without_shipped_ones_are_recorded_not_verified(tmp_path: Path) -> None:
    config = synthetic_solubility(tmp_path)
    downloaded = import_task({**config, "downloaded_from": ["example.org"]}, tmp_path / "downloaded", "t")
    content = downloaded["content"]
    assert content["downloaded_from"] == ["example.org"]
    assert content["splits"]["train"]["status"] == DOWNLOADED  # no shipped fingerprint for DeepSol train
    assert content["splits"]["test"]["status"] == DIFFERS  # the shipped DeepSol test is not this
    given = {"solubility": {"kind": "official", "detail": "downloaded from example.org"}}
    provenance = task_provenance(["solubility"], [tmp_path / "downloaded" / "summary.json"], given)["solubility"]
    assert provenance.kind == "official"  # the pinned download stays official; the note tells what content shows
    assert "train: fingerprint recorded from the download, no official one shipped" in provenance.detail
    assert "test is not DeepSol test (2001 rows)" in provenance.detail
    local = import_task(config, tmp_path / "local", "t")
    assert local["content"]["splits"]["train"]["status"] == UNVERIFIED
    assert "train: no official fingerprint shipped" in infer_provenance(tmp_path / "local" / "summary.json")[1].detail
    with pytest.raises(InputError, match="downloaded_from must be a list"):
        import_task({**config, "downloaded_from": "example.org"}, tmp_path / "bad", "t")


def test_content_verification_takes_precedence_and_bad_content_is_an_error() -> None:
    base = Provenance("local", "files a.csv")
    verified = {"splits": {"test": {"status": OFFICIAL, "dataset": "DeepSol"}}}
    assert content_provenance(base, verified, "s") == Provenance("official", "DeepSol test splits, content-verified")
    assert content_provenance(base, None, "s") == base
    generated = Provenance("synthetic", "plus synthetic generator")
    assert content_provenance(generated, {"splits": {"test": {"status": DIFFERS}}}, "s") == generated
    with pytest.raises(InputError, match="s: content must be"):
        content_provenance(base, {"splits": ["test"]}, "s")


def test_the_workflow_tells_import_task_which_tasks_are_downloaded() -> None:
    paper = plan_workflow(yaml.safe_load((ROOT / "config" / "paper.yaml").read_text()))
    assert paper.import_task("stability").downloaded_from == ["s3.amazonaws.com"]
    demo = plan_workflow(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
    assert demo.import_task("stability").downloaded_from == []


def stability_report(root: Path, summary: Path) -> Path:
    """A report of one alignment-baseline run on stability, its provenance from the task's summary.json only."""
    spec = resolve_task("stability")
    rng = np.random.default_rng(0)
    target = rng.normal(size=50)
    predictions = pd.DataFrame(
        {
            "split": "test",
            "id": [f"s{i}" for i in range(50)],
            "target": target,
            "prediction": target + rng.normal(size=50),
        }
    )
    run = root / "evaluate" / "nn" / "stability" / "seed0"
    run.mkdir(parents=True)
    predictions.to_parquet(run / "predictions.parquet", index=False)
    metrics = task_metrics(spec, predictions)
    record = {
        "task": "stability",
        "model": "nn",
        "seed": 0,
        "shape": spec.shape,
        "splits": {"test": metrics},
        "headline": {"metric": spec.headline_metric, "split": "test", "value": metrics[spec.headline_metric]},
    }
    (run / "metrics.json").write_text(json.dumps(record))
    models = [{"name": "nn", "label": "Alignment NN", "objective": "alignment", "preset": "alignment"}]
    job = parse_settings(
        ReportJob, {"models": models, "runs": [{"model": "nn", "task": "stability", "seed": 0}]}, "report"
    )
    (root / "tasks" / "stability").mkdir(parents=True)
    shutil.copy(summary, root / "tasks" / "stability" / "summary.json")
    data = collect(job, ROOT / "config" / "published_results.tsv", root)
    build_report(data, root / "tables", root / "figures", root / "summary.md", bootstrap_resamples=50)
    return root / "tables"


def test_the_report_sets_published_numbers_beside_content_verified_data_only(
    tape_stability: Path, tmp_path: Path
) -> None:
    import_task(table_config({s: tape_stability / f"{s}.csv" for s in SPLITS}), tmp_path / "official", "t")
    tables = stability_report(tmp_path / "a", tmp_path / "official" / "summary.json")
    with open(tables / "main.csv", newline="") as handle:
        main = {row["Model"]: row for row in csv.DictReader(handle)}
    assert float(main["TAPE Transformer"]["Stability ρ"]) == 0.73
    assert (
        "Stability: official (TAPE stability train, valid, test splits, content-verified)"
        in (tables / "main.md").read_text()
    )
    pd.read_csv(tape_stability / "valid.csv").iloc[1:].to_csv(tmp_path / "valid.csv", index=False)
    files = {
        "train": tape_stability / "train.csv",
        "valid": tmp_path / "valid.csv",
        "test": tape_stability / "test.csv",
    }
    import_task(table_config(files), tmp_path / "modified", "t")
    tables = stability_report(tmp_path / "b", tmp_path / "modified" / "summary.json")
    with open(tables / "main.csv", newline="") as handle:
        assert {row["Model"] for row in csv.DictReader(handle)} == {"Alignment NN"}
