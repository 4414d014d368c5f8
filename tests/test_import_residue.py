"""Per-residue importers: NetSurfP-2.0 CSV (real CB513/TS115), PLUS secstr FASTA, TOPCONS2 and PLUS 3-line."""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plus.data.task_data.canonical import read_split, validate_split, write_task
from plus.data.task_data.importers import get_importer, import_source
from plus.data.task_data.importers.labels import (
    dssp8_to_secstr8,
    map_topology,
    secstr_digits_to_letters,
    ss8_ints_to_letters,
    topology_map,
)
from plus.data.task_data.importers.residue import (
    import_netsurfp_csv,
    import_plus_3line,
    import_plus_secstr,
    import_topcons_3line,
)
from plus.data.task_data.importing import import_task
from plus.errors import InputError
from plus.tasks import BUILTIN_TASKS, SECSTR3_OF_8, SECSTR8, TaskSpec

SECSTR_LETTERS = set(SECSTR8) | {"."}
AMINO = "ACDEFGHIKLMNPQRSTVWY"


@pytest.fixture(scope="module")
def cb513(realdata: Path) -> Path:
    return realdata / "secondary_structure" / "CB513_HHblits.csv"


@pytest.fixture(scope="module")
def ts115(realdata: Path) -> Path:
    return realdata / "secondary_structure" / "TS115_HHblits.csv"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# label conversions -----------------------------------------------------------------------------------------


def test_ss8_ints_follow_ghibestc_order_and_mask():
    assert ss8_ints_to_letters(list(range(8)), None) == "GHIBESTC"
    assert ss8_ints_to_letters([1, 1, 4, 7], [1, 0, True, False]) == "H.E."
    assert ss8_ints_to_letters(np.array([4.0, 2.0]), [1, 1]) == "EI"


@pytest.mark.parametrize(
    ("ints", "mask", "message"),
    [
        ([0, 8], None, "not in 0..7"),
        ([-1], None, "not in 0..7"),
        ([0, 1], [1], "lengths must match"),
        ([0.5], None, "integers"),
        ([[0, 1]], None, "flat list"),
    ],
)
def test_ss8_bad_values_are_input_errors(ints, mask, message):
    with pytest.raises(InputError, match=message):
        ss8_ints_to_letters(ints, mask, where="f.json: record 3")


def test_dssp_coil_spellings_become_c_and_unknown_letters_fail():
    assert dssp8_to_secstr8("GHIBESTC") == "GHIBESTC"
    assert dssp8_to_secstr8("-L PH") == "CCCCH"
    assert dssp8_to_secstr8(["E", "-"]) == "EC"
    with pytest.raises(InputError, match="'Q' at position 2"):
        dssp8_to_secstr8("HHQ", where="x.csv: line 4")


def test_secstr_digits_and_q3_groups():
    letters = secstr_digits_to_letters("01234567")
    assert letters == "GHIBESTC"
    assert "".join(SECSTR3_OF_8[SECSTR8.index(letter)] for letter in letters) == "HHHEECCC"
    with pytest.raises(InputError, match="'8' at position 1"):
        secstr_digits_to_letters("08")


def test_topology_map_default_and_overrides():
    label, counts = map_topology("SSIOMLXm", topology_map(None))
    assert label == "..IOM..."
    assert counts == {"topology S -> .": 2, "topology L -> .": 1, "topology X -> .": 1, "topology m -> .": 1}
    label, _ = map_topology("SSIM", topology_map({"S": "O"}))
    assert label == "OOIM"
    with pytest.raises(InputError, match="targets must be one of"):
        topology_map({"S": "Q"})
    with pytest.raises(InputError, match="always kept"):
        topology_map({"I": "O"})
    with pytest.raises(InputError, match="single letters"):
        topology_map({"SP": "."})


# NetSurfP-2.0 CSV on the real CB513 and TS115 files ---------------------------------------------------------


@pytest.fixture(scope="module")
def netsurfp_tables(cb513: Path, ts115: Path):
    return import_netsurfp_csv({"test_cb513": str(cb513), "test_ts115": str(ts115)}, {})


def _raw(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, skipinitialspace=True)


def test_netsurfp_real_counts_lengths_and_letters(netsurfp_tables):
    cb513, ts115 = netsurfp_tables["test_cb513"], netsurfp_tables["test_ts115"]
    assert len(cb513) == 511
    assert len(ts115) == 115
    spec = BUILTIN_TASKS["secstr"]
    for split, table in netsurfp_tables.items():
        assert (table["label"].str.len() == table["sequence"].str.len()).all()
        assert set("".join(table["label"])) <= SECSTR_LETTERS
        assert table["id"].is_unique
        clean, stats = validate_split(table, split, spec)  # the canonical checks accept it
        assert stats["n"] == len(table)
    assert cb513["sequence"].str.len().min() == 20 and cb513["sequence"].str.len().max() == 874


def test_netsurfp_real_three_class_distribution_is_plausible(netsurfp_tables):
    for table in netsurfp_tables.values():
        counts = Counter("".join(table["label"]))
        q3 = Counter()
        for letter, n in counts.items():
            if letter != ".":
                q3[SECSTR3_OF_8[SECSTR8.index(letter)]] += n
        total = sum(q3.values())
        assert 0.28 < q3["H"] / total < 0.45
        assert 0.15 < q3["E"] / total < 0.30
        assert 0.35 < q3["C"] / total < 0.50


def test_netsurfp_masks_match_the_raw_columns(cb513: Path, netsurfp_tables):
    raw = _raw(cb513)
    mask = np.concatenate([np.array(v.split(), dtype=float) for v in raw["cb513_mask"]]) == 1
    ordered = np.concatenate([np.array(v.split(), dtype=float) for v in raw["disorder"]]) == 1
    labels = "".join(netsurfp_tables["test_cb513"]["label"])
    dots = np.frombuffer(labels.encode(), dtype=np.uint8) == ord(".")
    assert (dots == ~(mask & ordered)).all()
    mapped = netsurfp_tables["test_cb513"].attrs["mapped"]
    assert mapped["residues masked by cb513_mask"] == int((~mask).sum()) == 60020
    assert mapped["disordered residues masked"] == int((mask & ~ordered).sum())
    assert mapped["proteins with every residue masked"] == 2
    dssp = "".join(raw["dssp8"].str.replace(" ", ""))
    kept = np.flatnonzero(~dots)
    assert all(labels[i] == dssp[i] for i in kept[:5000])  # letters already GHIBESTC in this file
    assert netsurfp_tables["test_ts115"].attrs["mapped"] == {"disordered residues masked": 2203}


def test_netsurfp_options_turn_masking_off(ts115: Path):
    tables = import_netsurfp_csv({"test": str(ts115)}, {"mask_disordered": False, "id_prefix": "ts"})
    assert "." not in "".join(tables["test"]["label"])
    assert tables["test"]["id"].iloc[0] == "ts_0"


def test_netsurfp_authors_options_label_every_residue(tmp_path):
    csv = write(
        tmp_path / "x.csv",
        "input, dssp3, dssp8, disorder, cb513_mask\nM K L V, C C H H, - L H G, 1 1 1 0, 1 0 1 1\n",
    )
    table = import_netsurfp_csv({"train": str(csv)}, {"mask_column": None, "mask_disordered": False})["train"]
    assert table["label"].tolist() == ["CCHG"]  # the PLUS authors' files label (and score) every residue


def test_netsurfp_maps_coil_spellings_and_counts_them(tmp_path):
    csv = write(
        tmp_path / "x.csv",
        "input, dssp3, dssp8, disorder, cb513_mask\nM K L V, C C H H, - L H G, 1 1 1 0, 1 0 1 1\n",
    )
    table = import_netsurfp_csv({"train": str(csv)}, {})["train"]
    assert table["label"].tolist() == ["C.H."]
    assert table["sequence"].tolist() == ["MKLV"]
    assert table.attrs["mapped"]["dssp8 '-' -> C"] == 1
    assert table.attrs["mapped"]["dssp8 'L' -> C"] == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("input, dssp8, disorder\nM K, C C, 1 1\n", r"missing columns \['cb513_mask'\]"),
        ("input, dssp8, disorder, cb513_mask\nM K, C C, 1 1, 1 1\nM K L, C C, 1 1 1, 1 1 1\n", "line 3: dssp8"),
        ("input, dssp8, disorder, cb513_mask\nM K, C C, 1 1, 1 2\n", "line 2: cb513_mask must hold 0/1"),
        ("input, dssp8, disorder, cb513_mask\nM K, C C, 1 yes, 1 1\n", "line 2: disorder must hold 0/1"),
        ("input, dssp8, disorder, cb513_mask\nM K, C Q, 1 1, 1 1\n", "line 2: dssp8: DSSP letter 'Q'"),
        ("input, dssp8, disorder, cb513_mask\nMK, C C, 1 1, 1 1\n", "line 2: 'input' must be single"),
        ("input, dssp8, disorder, cb513_mask\n", "no records"),
        ("", "not a readable table"),
        ("input, dssp8, disorder, cb513_mask\nM K, C C, 1 1, 1 1, 0 0\n", "not a readable table"),
    ],
)
def test_netsurfp_bad_input_names_file_and_line(tmp_path, body, message):
    csv = write(tmp_path / "bad.csv", body)
    with pytest.raises(InputError, match=message) as error:
        import_netsurfp_csv({"test": str(csv)}, {})
    assert "bad.csv" in str(error.value)


def test_netsurfp_unknown_option_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="unknown options"):
        import_netsurfp_csv({"test": str(tmp_path / "x.csv")}, {"mask": "x"})
    with pytest.raises(InputError, match="file not found"):
        import_netsurfp_csv({"test": str(tmp_path / "missing.csv")}, {})


# PLUS secstr FASTA -----------------------------------------------------------------------------------------

PLUS_SECSTR = """>1abcA:sequence
MKLV
AG
>1abcA:secstr
012345
>2xyz:B:sequence
mkv
>2xyz:B:secstr
776
"""


def test_plus_secstr_pairs_become_letters(tmp_path):
    path = write(tmp_path / "secstr_train.fa", PLUS_SECSTR)
    importer = get_importer("plus_fasta", {"kind": "secstr"})
    assert importer is import_plus_secstr
    table = importer({"train": str(path)}, {"kind": "secstr"})["train"]
    assert table["id"].tolist() == ["1abcA", "2xyz:B"]
    assert table["sequence"].tolist() == ["MKLVAG", "MKV"]
    assert table["label"].tolist() == ["GHIBES", "CCT"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (">a:sequence\nMK\n>a:sequence\nMK\n>a:secstr\n00\n", "line 1: '>a:sequence' has no secstr"),
        (">a:sequence\nMK\n", "line 1: '>a:sequence' has no secstr"),
        (">a:sequence\nMK\n>b:secstr\n00\n", "line 3: '>b:secstr' does not follow"),
        (">a:sequence\nMK\n>a:secstr\n000\n", "line 3: secstr of 'a' has 3 labels"),
        (">a:sequence\nMK\n>a:secstr\n0H\n", "line 3: secstr character 'H'"),
        (">a\nMK\n", "line 1: header must be"),
        ("", "no records"),
    ],
)
def test_plus_secstr_bad_input(tmp_path, text, message):
    path = write(tmp_path / "s.fa", text)
    with pytest.raises(InputError, match=message) as error:
        import_plus_secstr({"test": str(path)}, {})
    assert "s.fa" in str(error.value)


# TOPCONS2 and PLUS 3-line -----------------------------------------------------------------------------------

TOPCONS = """>sp|P0A1|TM1 signal peptide then a helix
MKKLLAVAVLLAGGSSA
SSSSSIIIIMMMMMOOO
>tr|Q9X2|TM2
MAVLKKLL
OOOMMMII

>odd|Q1|X
MKVL
LLXI
"""


def test_topcons_default_map_masks_signal_peptide_and_other_letters(tmp_path):
    path = write(tmp_path / "train.3line", TOPCONS)
    table = import_topcons_3line({"train": str(path)}, {})["train"]
    assert table["id"].tolist() == ["sp|P0A1|TM1", "tr|Q9X2|TM2", "odd|Q1|X"]
    assert table["label"].tolist() == [".....IIIIMMMMMOOO", "OOOMMMII", "...I"]
    assert table.attrs["mapped"] == {"topology S -> .": 5, "topology L -> .": 2, "topology X -> .": 1}
    assert table["origin"].tolist()[2].endswith("train.3line: line 8")


def test_topcons_map_option(tmp_path):
    path = write(tmp_path / "train.3line", TOPCONS)
    table = import_topcons_3line({"train": str(path)}, {"map": {"S": "O", "L": "I"}})["train"]
    assert table["label"].tolist() == ["OOOOOIIIIMMMMMOOO", "OOOMMMII", "II.I"]
    assert table.attrs["mapped"] == {"topology S -> O": 5, "topology L -> I": 2, "topology X -> .": 1}


def test_topcons_reads_a_tar_member(tmp_path):
    inner = write(tmp_path / "TM.3line", TOPCONS)
    archive = tmp_path / "transmembrane.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(inner, arcname="data/TOPCONS2_datasets/TM.3line")
    files = {"test": {"path": str(archive), "member": "data/TOPCONS2_datasets/TM.3line"}}
    table = import_topcons_3line(files, {})["test"]
    assert len(table) == 3
    assert "transmembrane.tar.gz:data/TOPCONS2_datasets/TM.3line: line 1" in table["origin"].iloc[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (">a\nMKV\nIIMM\n", r"line 3: record 'a': topology has 4 letters but the sequence has 3"),
        (">a\nMKV\nIII\n>b\nMKV\n>c\nMK\nII\n", "line 4: record 'b' has no topology line"),
        (">a\nMKV\n", "line 1: record 'a' has no topology line .found end of file"),
        (">a\n>b\nMK\nII\n", "line 1: record 'a' has no sequence line"),
        ("MKV\nIII\n", "line 1: expected a '>name' header"),
        (">\nMKV\nIII\n", "line 1: expected a '>name' header"),
        ("\n\n", "no records"),
    ],
)
def test_three_line_malformed_records(tmp_path, text, message):
    path = write(tmp_path / "bad.3line", text)
    for importer in (import_topcons_3line, import_plus_3line):
        with pytest.raises(InputError, match=message) as error:
            importer({"test": str(path)}, {})
        assert "bad.3line" in str(error.value)


def test_plus_3line_accepts_only_iom(tmp_path):
    good = write(tmp_path / "transmembrane_train.3line", ">a\nMKVL\nIMMO\n>b\nMK\nOO\n")
    table = import_plus_3line({"train": str(good)}, {})["train"]
    assert table["label"].tolist() == ["IMMO", "OO"]
    bad = write(tmp_path / "transmembrane_test.3line", ">a\nMKVL\nIMMO\n>b\nMKV\nSOO\n")
    with pytest.raises(InputError, match=r"line 4: record 'b': topology letters \['S'\]"):
        import_plus_3line({"test": str(bad)}, {})


def test_topcons_pool_split_is_deterministic_and_complete(tmp_path):
    # distinct sequences: identical ones always share a split (test_pool_split_keeps_identical_sequences_together)
    records = "".join(f">p{i}\nMK{AMINO[i // 10]}{AMINO[i % 10]}A\nIIMMO\n" for i in range(50))
    path = write(tmp_path / "pool.3line", records)
    options = {"split": {"train": 0.8, "valid": 0.1, "test": 0.1}, "seed": 3}
    first = import_topcons_3line({"pool": str(path)}, options)
    again = import_topcons_3line({"pool": str(path)}, options)
    other = import_topcons_3line({"pool": str(path)}, {**options, "seed": 4})
    assert {split: len(t) for split, t in first.items()} == {"train": 40, "valid": 5, "test": 5}
    ids = [set(t["id"]) for t in first.values()]
    assert set.union(*ids) == {f"p{i}" for i in range(50)} and sum(map(len, ids)) == 50
    assert all(first[s]["id"].tolist() == again[s]["id"].tolist() for s in first)
    assert first["valid"]["id"].tolist() != other["valid"]["id"].tolist()


def test_topcons_several_pool_files_are_concatenated_before_splitting(tmp_path):
    tm = write(tmp_path / "TM.3line", "".join(f">tm{i}\nMK{AMINO[i]}\nIMO\n" for i in range(6)))
    glob = write(tmp_path / "Globular.3line", "".join(f">g{i}\nGG{AMINO[i]}\nOOO\n" for i in range(4)))
    files = {"pool_tm": str(tm), "pool_globular": str(glob)}
    tables = import_topcons_3line(files, {"split": {"train": 0.7, "test": 0.3}, "seed": 0})
    assert len(tables["train"]) == 7 and len(tables["test"]) == 3
    assert set(tables["train"]["id"]) | set(tables["test"]["id"]) == {f"tm{i}" for i in range(6)} | {
        f"g{i}" for i in range(4)
    }


@pytest.mark.parametrize(
    ("files", "options", "message"),
    [
        ("pool", {"split": {"train": 0.8, "valid": 0.3}}, "sum to 1"),
        ("pool", {"split": {"train": 1.0, "valid": 0.0}}, "positive"),
        ("pool", {"split": {"train": "most"}}, "must be numbers"),
        ("pool", {}, "needs options.split"),
        ("pool", {"split": {"train": 1.0}, "seed": "x"}, "seed must be an integer"),
        ("both", {"split": {"train": 1.0}}, "cannot be combined"),
        ("train", {"split": {"train": 1.0}}, "applies only to 'pool' files"),
        ("train", {"mapping": {}}, "unknown options"),
    ],
)
def test_topcons_bad_options(tmp_path, files, options, message):
    path = str(write(tmp_path / "x.3line", ">a\nMK\nII\n"))
    spec = {"pool": {"pool": path}, "both": {"pool": path, "test": path}, "train": {"train": path}}[files]
    with pytest.raises(InputError, match=message):
        import_topcons_3line(spec, options)


def test_transmembrane_task_written_canonically(tmp_path):
    paths = {split: str(write(tmp_path / f"{split}.3line", TOPCONS)) for split in ("train", "valid", "test")}
    tables = import_source({"format": "topcons_3line", "files": paths}, "sources[0]")
    summary = write_task(tmp_path / "task", BUILTIN_TASKS["transmembrane"], tables)
    assert summary["splits"]["test"]["n"] == 3
    assert summary["mapped"]["topology S -> ."] == 15
    assert summary["splits"]["train"]["class_balance"]["."] == 8
    written = read_split(tmp_path / "task", "test")
    assert list(written.columns) == ["id", "sequence", "label"]
    assert written["label"].iloc[0] == ".....IIIIMMMMMOOO"


def test_secstr_task_validates_real_netsurfp_as_every_split(cb513: Path, ts115: Path, tmp_path):
    spec = TaskSpec.from_dict(
        {**BUILTIN_TASKS["secstr"].to_dict(), "test_splits": ["test_cb513", "test_ts115"], "name": "secstr_real"}
    )
    tables = import_netsurfp_csv(
        {"train": str(ts115), "valid": str(ts115), "test_cb513": str(cb513), "test_ts115": str(ts115)}, {}
    )
    summary = write_task(tmp_path / "secstr", spec, tables, expected_sizes={"test_cb513": 511, "test_ts115": 115})
    assert summary["splits"]["test_cb513"]["class_balance"]["."] == 60584
    assert read_split(tmp_path / "secstr", "test_cb513")["label"].str.len().sum() == 144011


def test_secstr_demo_layout_tape_json_plus_netsurfp(cb513: Path, ts115: Path, tmp_path):
    records = [
        {"id": "p1", "primary": "MKVLA", "ss8": [1, 1, 4, 7, 0], "valid_mask": [True, True, True, False, True]},
        {"id": "p2", "primary": "GGS", "ss8": [6, 5, 2], "valid_mask": [1, 1, 1]},
    ]
    tape = {split: str(write(tmp_path / f"ss_{split}.json", json.dumps(records))) for split in ("a", "b", "c")}
    config = {
        "task": "secstr",
        "sources": [
            {
                "format": "tape_json",
                "files": {"train": tape["a"], "valid": tape["b"], "test_casp12": tape["c"]},
                "options": {"label_field": "ss8"},
            },
            {"format": "netsurfp_csv", "files": {"test_cb513": str(cb513), "test_ts115": str(ts115)}},
        ],
        "expected_sizes": {"test_cb513": 511, "test_ts115": 115},
    }
    summary = import_task(config, tmp_path / "secstr", "secstr.yaml")
    assert summary["splits"]["train"]["class_balance"]["."] == 1
    assert read_split(tmp_path / "secstr", "train")["label"].tolist() == ["HHE.G", "TSI"]
    assert summary["splits"]["test_ts115"]["mapped"] == {"disordered residues masked": 2203}
