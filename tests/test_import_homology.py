"""Homology importers: Bepler & Berger SCOPe files and the PLUS authors' homology files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from plus.cli import main
from plus.data.task_data.canonical import read_split, write_task
from plus.data.task_data.importers import get_importer, import_source
from plus.data.task_data.importers.homology import (
    import_plus_homology,
    import_plus_homology_pairs,
    import_plus_homology_train,
    import_scope_bepler,
    read_domains,
    read_pairs,
)
from plus.errors import InputError
from plus.tasks import BUILTIN_TASKS

ASTRAL = """>d1dlwa_ a.1.1.1 (A:) Protozoan/Cilate hemoglobin {Paramecium caudatum [TaxId: 5885]}
slfeqlggqaavqavtaqfyaniqadatvatffngidmpnqtnktaaflcaalgg
pnawtg
>d1ux8a_ a.1.1.1 (A:) Protozoan/Cilate hemoglobin {Bacillus subtilis [TaxId: 1423]}
mgqsfnapyeaigeells
>d2gkma_ b.1.18.2 (A:) automated matches {Mus musculus [TaxId: 10090]}
mkvlaaginx
"""

BEPLER_PAIRS = """sequence_A\tsequence_B\tsimilarity
SLFEQLGGQAAVQA\tMGQSFNAPYEAIGE\t4
slfeqlggq\tMKVLAAGIN\t0
MKVLAAGIN\tMKVLAAGIT\t3
"""

PLUS_PAIRS = """pdb_id_A\tpdb_id_B\tsequence_A\tsequence_B\tsimilarity
d1dlwa_\td1ux8a_\tSLFEQLGGQ\tMGQSFNAPY\t4
d1dlwa_\td2gkma_\tSLFEQLGGQ\tMKVLAAGIN\t1
"""


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_astral_train_fasta_gives_domains_with_sccs_labels(tmp_path):
    table = read_domains(write(tmp_path / "astral.train.fa", ASTRAL))
    assert table["id"].tolist() == ["d1dlwa_", "d1ux8a_", "d2gkma_"]
    assert table["label"].tolist() == ["a.1.1.1", "a.1.1.1", "b.1.18.2"]
    assert table["sequence"].iloc[0] == "SLFEQLGGQAAVQAVTAQFYANIQADATVATFFNGIDMPNQTNKTAAFLCAALGGPNAWTG"
    assert table["origin"].iloc[2].endswith("astral.train.fa: line 6")


def test_bepler_pairs_without_domain_ids(tmp_path):
    table = read_pairs(write(tmp_path / "dev.sampledpairs.txt", BEPLER_PAIRS), "valid", require_ids=False)
    assert table["label"].tolist() == [4, 0, 3]
    assert table["id"].tolist() == ["valid_0", "valid_1", "valid_2"]
    assert table["id_b"].tolist() == ["valid_0_b", "valid_1_b", "valid_2_b"]
    assert table["sequence"].iloc[1] == "SLFEQLGGQ"
    assert table["sequence_b"].iloc[2] == "MKVLAAGIT"


def test_scope_bepler_whole_task_written_canonically(tmp_path):
    files = {
        "train": write(tmp_path / "astral-2.06.train.fa", ASTRAL),
        "valid": write(tmp_path / "astral-2.06.dev.sampledpairs.txt", BEPLER_PAIRS),
        "test": write(tmp_path / "astral-2.06.test.sampledpairs.txt", BEPLER_PAIRS),
    }
    gz = tmp_path / "astral-2.07-new.allpairs.txt.gz"
    gz.write_bytes(gzip.compress(BEPLER_PAIRS.encode()))
    files["test_2.07"] = str(gz)
    tables = import_source({"format": "scope_bepler", "files": files}, "sources[0]")
    summary = write_task(tmp_path / "homology", BUILTIN_TASKS["homology"], tables, expected_sizes={"train": 3})
    assert summary["splits"]["test_2.07"]["class_balance"] == {"0": 1, "1": 0, "2": 0, "3": 1, "4": 1}
    assert summary["splits"]["train"]["label_stats"]["distinct_labels"] == 2
    train = read_split(tmp_path / "homology", "train")
    assert list(train.columns) == ["id", "sequence", "label"]
    pairs = read_split(tmp_path / "homology", "test_2.07")
    assert list(pairs.columns) == ["id", "sequence", "label", "id_b", "sequence_b"]
    assert pairs["label"].dtype == "int64"


def test_plus_homology_uses_domain_ids(tmp_path):
    files = {
        "train": write(tmp_path / "homology_train.fa", ">d1dlwa_ a.1.1.1\nSLFEQ\n>d2gkma_ b.1.18.2\nMKV\n"),
        "test": write(tmp_path / "homology_test_2.06_sampledpairs.txt", PLUS_PAIRS),
    }
    tables = import_plus_homology(files, {})
    assert tables["train"]["label"].tolist() == ["a.1.1.1", "b.1.18.2"]
    assert tables["test"]["id"].tolist() == ["d1dlwa_|d1ux8a_", "d1dlwa_|d2gkma_"]
    assert tables["test"]["id_b"].tolist() == ["d1ux8a_", "d2gkma_"]
    assert tables["test"]["label"].tolist() == [4, 1]
    assert tables["test"].attrs["mapped"] == {}
    repeated = PLUS_PAIRS + "d1dlwa_\td1ux8a_\tSLFEQLGGQ\tMGQSFNAPY\t4\nd1dlwa_\td1ux8a_\tSLF\tMGQ\t4\n"
    table = import_plus_homology({"valid": write(tmp_path / "repeated.txt", repeated)}, {})["valid"]
    assert table["id"].tolist()[2:] == ["d1dlwa_|d1ux8a_#2", "d1dlwa_|d1ux8a_#3"]
    assert table.attrs["mapped"] == {"repeated pair ids suffixed": 2}
    with pytest.raises(InputError, match=r"missing columns \['pdb_id_A', 'pdb_id_B'\]"):
        import_plus_homology({"test": write(tmp_path / "bepler.txt", BEPLER_PAIRS)}, {})


def test_plus_fasta_homology_kinds_are_registered(tmp_path):
    assert get_importer("plus_fasta", {"kind": "homology_train"}) is import_plus_homology_train
    assert get_importer("plus_fasta", {"kind": "homology_pairs"}) is import_plus_homology_pairs
    pairs = import_plus_homology_pairs({"valid": write(tmp_path / "dev.txt", PLUS_PAIRS)}, {"kind": "x"})
    assert pairs["valid"]["label"].tolist() == [4, 1]
    domains = import_plus_homology_train({"train": write(tmp_path / "t.fa", ASTRAL)}, {})
    assert len(domains["train"]) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (">d1dlwa_\nMKV\n", "line 1: header 'd1dlwa_' must be '>domain sccs"),
        (">d1dlwa_ a.1.1 (A:) x\nMKV\n", "line 1: header .* must be '>domain sccs"),
        (">d1 a.1.1.1\nMKV\n>d2 1.a.1.1\nMKV\n", "line 3: header"),
        (">d1 a.1.1.1\n>d2 a.1.1.1\nMKV\n", "line 1: domain 'd1' has no sequence"),
        ("MKV\n", "line 1: sequence data before the first"),
        ("", "no records"),
    ],
)
def test_bad_domain_fasta(tmp_path, text, message):
    path = write(tmp_path / "train.fa", text)
    with pytest.raises(InputError, match=message) as error:
        import_scope_bepler({"train": path}, {})
    assert "train.fa" in str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sequence_A\tsequence_B\tsimilarity\nMK\tMV\t5\n", "line 2: similarity '5' is not an integer 0..4"),
        ("sequence_A\tsequence_B\tsimilarity\nMK\tMV\t1\nMK\tMV\tsame\n", "line 3: similarity 'same'"),
        ("sequence_A\tsequence_B\tsimilarity\nMK\tMV\t2.5\n", "line 2: similarity '2.5'"),
        ("sequence_A\tsequence_B\tsimilarity\nMK\tMV\t\n", "line 2: similarity ''"),
        ("sequence_A\tsequence_B\tsimilarity\nMK\t\t1\n", "line 2: sequence_B is empty"),
        ("sequence_A\tsequence_B\nMK\tMV\n", r"missing columns \['similarity'\]"),
        ("sequence_A\tsequence_B\tsimilarity\n", "no pairs"),
        ("", "not a readable table"),
        ("sequence_A\tsequence_B\tsimilarity\nMK\tMV\t1\textra\tcolumns\n", "not a readable"),
    ],
)
def test_bad_pairs_tsv(tmp_path, text, message):
    path = write(tmp_path / "test.sampledpairs.txt", text)
    with pytest.raises(InputError, match=message) as error:
        import_scope_bepler({"test": path}, {})
    assert "test.sampledpairs.txt" in str(error.value)


def test_unknown_option_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="takes no options"):
        import_scope_bepler({"train": str(tmp_path / "x.fa")}, {"min_len": 20})
    with pytest.raises(InputError, match="file not found"):
        import_scope_bepler({"train": str(tmp_path / "absent.fa")}, {})
    with pytest.raises(InputError, match="non-empty mapping"):
        import_scope_bepler({}, {})


def test_import_task_command_end_to_end(tmp_path, capsys):
    files = {
        "train": write(tmp_path / "train.fa", ASTRAL),
        "valid": write(tmp_path / "dev.txt", BEPLER_PAIRS),
        "test": write(tmp_path / "test.txt", BEPLER_PAIRS),
        "test_2.07": write(tmp_path / "new.txt", BEPLER_PAIRS),
    }
    config = {"task": BUILTIN_TASKS["homology"].to_dict(), "sources": [{"format": "scope_bepler", "files": files}]}
    config_path = write(tmp_path / "homology.json", json.dumps(config))
    assert main(["import-task", "--settings", config_path, "--out", str(tmp_path / "out")]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["splits"]["valid"]["n"] == 3 and summary["splits"]["train"]["n"] == 3
    write(tmp_path / "new.txt", BEPLER_PAIRS.replace("\t3\n", "\t7\n"))
    assert main(["import-task", "--settings", config_path, "--out", str(tmp_path / "out2")]) == 2
    assert "new.txt: line 4: similarity '7'" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists()
