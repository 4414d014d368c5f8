"""Leakage audit: identity definition, top-k search, duplicates, outputs, errors, and facts of real benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plus.analysis.alignment import AlignmentIndex, clean, identity_of
from plus.analysis.leakage import IDENTITY_BINS, audit_identity, audit_task, exact_duplicates, identity_bin
from plus.cli import main as cli_main

AA = "ARNDCQEGHILKMFPSTWYV"


def random_protein(rng: np.random.Generator, length: int) -> str:
    return "".join(rng.choice(list(AA), length))


def mutate(rng: np.random.Generator, sequence: str, n: int) -> str:
    letters = list(sequence)
    for position in rng.choice(len(letters), n, replace=False):
        letters[position] = rng.choice([a for a in AA if a != letters[position]])
    return "".join(letters)


def write_task(root: Path, splits: dict[str, pd.DataFrame]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for split, table in splits.items():
        table.to_parquet(root / f"{split}.parquet", index=False)
    return root


def frame(prefix: str, sequences: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"{prefix}{i}" for i in range(len(sequences))], "sequence": sequences, "label": 0.0})


def test_identity_is_identical_residues_over_the_shorter_sequence() -> None:
    rng = np.random.default_rng(0)
    parent = random_protein(rng, 120)
    other = random_protein(rng, 80)
    index = AlignmentIndex([parent, other])
    assert index.nearest_by_identity(parent).identity == 1.0  # exact copy
    fragment = index.nearest_by_identity(parent[30:90])
    assert fragment.index == 0 and fragment.identity == 1.0  # a fragment of a training protein is leakage
    four = index.nearest_by_identity(mutate(rng, parent, 4))
    assert four.index == 0 and four.identity == pytest.approx(116 / 120)
    unrelated = index.nearest_by_identity(random_protein(rng, 100))
    assert unrelated.identity < 0.3
    assert identity_of("MMXMDDMI", 10, 8) == pytest.approx(4 / 8)
    assert clean("mkuo") == "MKXX"  # letters BLOSUM62 lacks become X


def test_top_k_search_equals_aligning_every_training_sequence() -> None:
    rng = np.random.default_rng(1)
    parents = [random_protein(rng, int(rng.integers(40, 160))) for _ in range(30)]
    train = [mutate(rng, p, int(rng.integers(0, 30))) for p in parents for _ in range(4)]
    index = AlignmentIndex(train)
    for parent in parents[:15]:
        query = mutate(rng, parent[5:], 10)
        everything = index.aligner.align(query, index.database, mode="full", algorithm="sw")
        brute = max(identity_of(r.alignment, len(query), len(train[r.target_index])) for r in everything)
        assert index.nearest_by_identity(query, top_k=10).identity == pytest.approx(brute)


def test_pairs_take_the_larger_identity_of_their_two_sides() -> None:
    rng = np.random.default_rng(2)
    known = random_protein(rng, 90)
    splits = {
        "train": frame("d", [known, random_protein(rng, 90)]),
        "test": pd.DataFrame(
            {
                "id": ["p0", "p1"],
                "sequence": [random_protein(rng, 70), random_protein(rng, 70)],
                "label": [0, 0],
                "id_b": ["q0", "q1"],
                "sequence_b": [known, random_protein(rng, 70)],
            }
        ),
    }
    identity = audit_identity(splits)
    assert identity["max_identity"].tolist()[0] == 1.0 and identity["nearest_train_id"].tolist()[0] == "d0"
    assert identity["max_identity"].tolist()[1] < 0.3


def test_exact_duplicates_across_and_within_splits() -> None:
    splits = {
        "train": frame("tr", ["MKVL", "AAAA", "MKVL", "WWWW"]),
        "valid": frame("va", ["AAAA"]),
        "test": frame("te", ["mkvl", "CCCC"]),
    }
    found = exact_duplicates(splits)
    across = {tuple(d["splits"]): d for d in found["across_splits"]}
    assert across[("train", "test")]["sequences"] == 1
    assert across[("train", "test")]["records_train"] == 2 and across[("train", "test")]["examples"] == [["tr0", "te0"]]
    assert across[("train", "valid")]["examples"] == [["tr1", "va0"]]
    assert across[("valid", "test")]["sequences"] == 0
    assert found["within_split"]["train"]["sequences_repeated"] == 1


def test_identity_bins_have_inclusive_lower_edges() -> None:
    labels = identity_bin([0.0, 0.2999, 0.3, 0.5, 0.8999, 0.9, 1.0])
    assert labels.tolist() == ["<30%", "<30%", "30-50%", "50-90%", "50-90%", ">=90%", ">=90%"]
    assert [b[0] for b in IDENTITY_BINS] == ["<30%", "30-50%", "50-90%", ">=90%"]


def test_cli_writes_identity_table_and_summary(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    train = [random_protein(rng, 60) for _ in range(40)]
    test = [train[0], mutate(rng, train[1], 30), random_protein(rng, 60)]
    task = write_task(
        tmp_path / "tasks" / "toy",
        {"train": frame("tr", train), "valid": frame("va", train[:2]), "test": frame("te", test)},
    )
    assert cli_main(["audit-leakage", "--data", str(task), "--out", str(tmp_path / "audit")]) == 0
    identity = pd.read_parquet(tmp_path / "audit" / "identity.parquet")
    assert list(identity.columns[:4]) == ["split", "id", "max_identity", "nearest_train_id"]
    assert set(identity["split"]) == {"test"}  # only test splits by default
    assert identity["max_identity"].iloc[0] == 1.0 and identity["nearest_train_id"].iloc[0] == "tr0"
    assert identity["nearest_train_id"].iloc[1] == "tr1" and 0.3 < identity["max_identity"].iloc[1] < 0.9
    summary = json.loads((tmp_path / "audit" / "summary.json").read_text())
    test_summary = summary["splits"]["test"]
    assert sum(test_summary["histogram"]["counts"]) == 3 and test_summary["full_identity"] == 1
    assert sum(test_summary["bins"].values()) == 3
    pairs = {tuple(d["splits"]): d["sequences"] for d in summary["duplicates"]["across_splits"]}
    assert pairs[("test", "train")] == 1 and pairs[("train", "valid")] == 2


def test_bad_input_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["audit-leakage", "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "o")]) == 2
    assert "absent: task directory not found" in capsys.readouterr().err
    task = write_task(tmp_path / "t", {"test": frame("te", ["MKV"])})
    assert cli_main(["audit-leakage", "--data", str(task), "--out", str(tmp_path / "o")]) == 2
    assert "reference split 'train' not found" in capsys.readouterr().err


# ---------------------------------------------------------------- facts of real benchmarks


def real_csv(path: Path, prefix: str) -> pd.DataFrame:
    table = pd.read_csv(path)
    return table.assign(id=[f"{prefix}{i}" for i in range(len(table))]).rename(columns={"seq": "sequence"})


def test_fluorescence_test_mutants_are_at_least_as_close_as_to_wild_type(realdata: Path) -> None:
    """Every TAPE fluorescence test variant is avGFP with >= 4 mutations, so wild type (in train) bounds it."""
    folder = realdata / "tape_fluorescence"
    train = real_csv(folder / "train_reconstructed_from_sarkisyan.csv", "train_")
    test = real_csv(folder / "test_reconstructed_from_sarkisyan.csv", "test_").sample(40, random_state=0)
    subset = pd.concat([train.sample(600, random_state=0), train[train["num_mutations"] == 0]])
    identity = audit_identity({"train": subset, "test": test.reset_index(drop=True)})
    bound = (237 - test["num_mutations"].to_numpy()) / 237
    assert np.all(identity["max_identity"].to_numpy() >= bound - 1e-9)
    assert identity["max_identity"].min() >= 0.93 and (identity["max_identity"] >= 0.95).mean() > 0.9
    assert (identity_bin(identity["max_identity"]) == ">=90%").all()


def test_stability_test_designs_copied_from_train_are_found(realdata: Path, tmp_path: Path) -> None:
    """TAPE stability test row 37 is the same sequence as train row 42076 (one of 26 such test sequences)."""
    folder = realdata / "tape_stability"
    train = real_csv(folder / "train.csv", "train_")
    test = real_csv(folder / "test.csv", "test_")
    train_subset = pd.concat([train.iloc[[42076, 32162]], train.sample(400, random_state=1)]).drop_duplicates("id")
    test_subset = pd.concat([test.iloc[[37, 480]], test.sample(10, random_state=1)]).drop_duplicates("id")
    task = write_task(tmp_path / "stability", {"train": train_subset, "test": test_subset})
    summary = audit_task(task, tmp_path / "audit")
    identity = pd.read_parquet(tmp_path / "audit" / "identity.parquet").set_index("id")
    assert identity.loc["test_37", "max_identity"] == 1.0
    assert identity.loc["test_37", "nearest_train_id"] == "train_42076"
    assert identity.loc["test_480", "nearest_train_id"] == "train_32162"
    shared = summary["duplicates"]["across_splits"][0]
    assert shared["sequences"] >= 2 and ["test_37", "train_42076"] in shared["examples"]


def test_ts115_is_not_redundant_with_cb513(realdata: Path) -> None:
    """Cross-set identity of the two NetSurfP-2.0 test sets: no TS115 chain is >= 90% identical to a CB513 one."""
    folder = realdata / "secondary_structure"

    def chains(name: str, prefix: str) -> pd.DataFrame:
        table = pd.read_csv(folder / name, skipinitialspace=True)
        return pd.DataFrame(
            {"id": [f"{prefix}{i}" for i in range(len(table))], "sequence": table["input"].str.replace(" ", "")}
        )

    identity = audit_identity(
        {"train": chains("CB513_HHblits.csv", "cb513_"), "test": chains("TS115_HHblits.csv", "ts115_")}
    )
    assert len(identity) == 115
    assert identity["max_identity"].max() < 0.9
    assert (identity["max_identity"] < 0.3).mean() > 0.9


def test_deeploc_test_proteins_also_in_deepsol_are_identical(realdata: Path) -> None:
    """DeepLoc test protein Q9HCY8 is also DeepSol validation line 2349 (one of 8 shared sequences)."""
    fasta = (realdata / "deeploc" / "deeploc_test_set.fasta").read_text().split(">")[1:]
    records = {entry.split()[0]: "".join(entry.splitlines()[1:]) for entry in fasta}
    deepsol = [line.strip() for line in (realdata / "deepsol" / "val_src").read_text().splitlines() if line.strip()]
    train = pd.DataFrame({"id": [f"val_{i}" for i in range(len(deepsol))], "sequence": deepsol}).iloc[2300:2400]
    test = pd.DataFrame({"id": ["Q9HCY8", "P54005"], "sequence": [records["Q9HCY8"], records["P54005"]]})
    identity = audit_identity({"train": train.reset_index(drop=True), "test": test}).set_index("id")
    assert identity.loc["Q9HCY8", "nearest_train_id"] == "val_2348" and identity.loc["Q9HCY8", "max_identity"] == 1.0
    assert identity.loc["P54005", "nearest_train_id"] == "val_2341" and identity.loc["P54005", "max_identity"] == 1.0
