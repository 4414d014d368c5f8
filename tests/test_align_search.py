"""The shared search (plus align-task): one scoring pass gives what the leakage audit and the alignment baseline
each computed on their own, and both give byte-identical outputs when they read it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plus.analysis import search
from plus.analysis.alignment import AlignmentIndex, SearchHit, map_each
from plus.analysis.search import HIT_COLUMNS, parts_dir, query_sequences, read_hits, search_splits, search_task
from plus.cli import main as cli_main
from plus.settings import as_json
from plus.tasks import SECSTR8, resolve_task

RESIDUES = np.array(list("ARNDCQEGHILKMFPSTWYV"))


def random_protein(rng: np.random.Generator, length: int) -> str:
    return "".join(rng.choice(RESIDUES, length))


def mutate(rng: np.random.Generator, sequence: str, n: int) -> str:
    residues = list(sequence)
    for position in rng.choice(len(residues), n, replace=False):
        residues[position] = str(rng.choice(RESIDUES))
    return "".join(residues)


def queries_of(rng: np.random.Generator, train: list[str]) -> list[str]:
    """Exact copies (one lower case), fragments, mutants, ties (a repeated training sequence) and unrelated ones."""
    return [
        train[0],
        train[1].lower(),
        train[2][10:40],
        mutate(rng, train[3], 8),
        mutate(rng, train[4], 25),
        train[5],  # train[5] == train[6]: ties go to the first
        random_protein(rng, 50),
        random_protein(rng, 70) + "U",
    ]


def test_one_search_equals_both_separate_searches() -> None:
    rng = np.random.default_rng(0)
    train = [random_protein(rng, int(rng.integers(40, 90))) for _ in range(60)]
    train[6] = train[5]
    index = AlignmentIndex(train)
    for query in queries_of(rng, train):
        found = index.search(query)
        assert found.by_score == index.nearest_by_score(query)
        assert found.by_identity == index.nearest_by_identity(query)
        assert found.pair == index.align(query, [found.by_score.index])[0]


def test_each_distinct_query_is_searched_once_across_splits() -> None:
    rng = np.random.default_rng(1)
    train = [random_protein(rng, 50) for _ in range(20)]
    shared = mutate(rng, train[0], 5)
    tables = {
        "test": pd.DataFrame({"id": ["a", "b", "c"], "sequence": [shared, shared.lower(), train[1]]}),
        "test_2": pd.DataFrame({"id": ["d"], "sequence": [shared], "sequence_b": [train[2]]}),
    }
    searched: list[str] = []
    index = AlignmentIndex(train)
    original = index.search

    def counting(query: str, top_k: int = 10) -> SearchHit:
        searched.append(query)
        return original(query, top_k)

    index.search = counting  # type: ignore[method-assign]
    hits = search_splits(index, tables, threads=2)
    assert sorted(searched) == sorted({shared, train[1], train[2]})
    assert list(hits["test"]) == [shared, train[1]] and list(hits["test_2"]) == [shared, train[2]]


def write_task(root: Path, splits: dict[str, pd.DataFrame]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for split, table in splits.items():
        table.to_parquet(root / f"{split}.parquet", index=False)
    return root


def family(rng: np.random.Generator, parents: list[str], labels: list, n: int, prefix: str) -> pd.DataFrame:
    rows = [
        {"id": f"{prefix}{i}_{j}", "sequence": mutate(rng, parent, len(parent) // 6), "label": label}
        for i, (parent, label) in enumerate(zip(parents, labels, strict=True))
        for j in range(n)
    ]
    return pd.DataFrame(rows)


def regression_task(root: Path) -> Path:
    rng = np.random.default_rng(2)
    parents = [random_protein(rng, 48) for _ in range(8)]
    values = [float(v) for v in range(8)]
    train = family(rng, parents, values, 3, "tr")
    test = family(rng, parents, values, 2, "te")
    test.loc[0, "sequence"] = train.loc[0, "sequence"]  # an exact copy: the audit's identity 1.0
    valid = family(rng, parents, values, 1, "va")
    return write_task(root, {"train": train, "valid": valid, "test": test})


def residue_task(root: Path) -> Path:
    rng = np.random.default_rng(3)
    parents = [random_protein(rng, 60) for _ in range(4)]
    structures = ["".join(rng.choice(list(SECSTR8), 60)) for _ in parents]
    splits = {"train": family(rng, parents, structures, 2, "tr"), "valid": family(rng, parents, structures, 1, "va")}
    for split in ("test_cb513", "test_casp12", "test_ts115"):
        splits[split] = family(rng, parents, structures, 1, split)
    return write_task(root, splits)


@pytest.mark.parametrize(("task", "make"), [("stability", regression_task), ("secstr", residue_task)])
def test_audit_and_baseline_from_the_hits_are_byte_identical(
    tmp_path: Path, task: str, make: Callable[[Path], Path]
) -> None:
    data = make(tmp_path / "tasks" / task)
    spec = as_json(resolve_task(task))
    hits = tmp_path / "align" / "hits.parquet"
    assert cli_main(["align-task", "--data", str(data), "--task-spec", spec, "--out", str(hits), "--threads", "2"]) == 0
    for name, extra in (("alone", []), ("shared", ["--hits", str(hits)])):
        assert cli_main(["audit-leakage", "--data", str(data), "--out", str(tmp_path / name / "audit"), *extra]) == 0
        base = ["alignment-baseline", "--data", str(data), "--task-spec", spec, "--out", str(tmp_path / name / "base")]
        assert cli_main([*base, *extra]) == 0
    for file in ("audit/identity.parquet", "base/metrics.json", "base/predictions.parquet"):
        assert (tmp_path / "alone" / file).read_bytes() == (tmp_path / "shared" / file).read_bytes(), file
    found, settings = read_hits(hits)
    assert settings["top_k"] == 10 and settings["n_reference"] == len(pd.read_parquet(data / "train.parquet"))
    assert set(found) == set(resolve_task(task).test_splits)
    assert list(pd.read_parquet(hits).columns) == list(HIT_COLUMNS)


def test_hits_of_another_training_split_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = regression_task(tmp_path / "tasks" / "stability")
    hits = tmp_path / "hits.parquet"
    assert cli_main(["align-task", "--data", str(data), "--out", str(hits)]) == 0
    train = pd.read_parquet(data / "train.parquet")
    train.iloc[:-1].to_parquet(data / "train.parquet", index=False)
    assert cli_main(["audit-leakage", "--data", str(data), "--out", str(tmp_path / "a"), "--hits", str(hits)]) == 2
    assert "rerun `plus align-task`" in capsys.readouterr().err
    (tmp_path / "bad.parquet").write_text("not parquet")
    args = ["alignment-baseline", "--data", str(data), "--task-spec", "stability", "--out", str(tmp_path / "b")]
    assert cli_main([*args, "--hits", str(tmp_path / "bad.parquet")]) == 2
    assert "cannot read the search hits" in capsys.readouterr().err


def test_progress_lines_give_the_rate_and_an_eta(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="plus.analysis.alignment"):
        assert map_each(str.lower, ["A", "B", "C", "D", "E"], threads=2, every=2, what="test") == list("abcde")
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(" aligned")[0] for line in lines] == ["test: 2 of 5", "test: 4 of 5", "test: 5 of 5"]
    assert all("queries/s, ETA" in line for line in lines)


class Interrupted(Exception):
    """Stands in for a kill in the middle of a search."""


def counted_searches(monkeypatch: pytest.MonkeyPatch, fail_after: int | None = None) -> list[str]:
    """Record every query AlignmentIndex.search scores; raise Interrupted once `fail_after` are done."""
    searched: list[str] = []
    original = AlignmentIndex.search

    def search(self: AlignmentIndex, query: str, top_k: int = 10) -> SearchHit:
        if fail_after is not None and len(searched) >= fail_after:
            raise Interrupted
        searched.append(query)
        return original(self, query, top_k)

    monkeypatch.setattr(AlignmentIndex, "search", search)
    return searched


def test_a_killed_search_resumes_from_its_finished_chunks_with_identical_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = regression_task(tmp_path / "tasks" / "stability")
    whole, resumed = tmp_path / "whole" / "hits.parquet", tmp_path / "resumed" / "hits.parquet"
    search_task(data, whole)
    monkeypatch.setattr(search, "CHUNK_QUERIES", 5)
    with monkeypatch.context() as patch:
        counted_searches(patch, fail_after=7)  # the first chunk of 5 finishes, the second does not
        with pytest.raises(Interrupted):
            search_task(data, resumed)
    assert not resumed.exists() and len(list(parts_dir(resumed).glob("*.parquet"))) == 1
    searched = counted_searches(monkeypatch)
    search_task(data, resumed)
    total = len(query_sequences(pd.read_parquet(data / "test.parquet")))
    assert len(searched) == total - 5  # the finished chunk is read, not searched again
    assert resumed.read_bytes() == whole.read_bytes()
    assert not parts_dir(resumed).exists()


def test_parts_made_from_other_data_or_settings_are_not_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = regression_task(tmp_path / "tasks" / "stability")
    out = tmp_path / "hits.parquet"
    monkeypatch.setattr(search, "CHUNK_QUERIES", 5)
    with monkeypatch.context() as patch:
        counted_searches(patch, fail_after=7)
        with pytest.raises(Interrupted):
            search_task(data, out)
    train = pd.read_parquet(data / "train.parquet")
    train.loc[3, "sequence"] = train.loc[3, "sequence"][::-1]  # same size, other data
    train.to_parquet(data / "train.parquet", index=False)
    searched = counted_searches(monkeypatch)
    search_task(data, out)
    assert len(searched) == len(query_sequences(pd.read_parquet(data / "test.parquet")))
    fresh = tmp_path / "fresh.parquet"
    search_task(data, fresh)
    assert out.read_bytes() == fresh.read_bytes()
    with monkeypatch.context() as patch:
        counted_searches(patch, fail_after=7)
        with pytest.raises(Interrupted):
            search_task(data, out, top_k=3)
    searched.clear()
    search_task(data, out, top_k=4)  # other settings: the top_k=3 part is not read
    assert len(searched) == len(query_sequences(pd.read_parquet(data / "test.parquet")))
