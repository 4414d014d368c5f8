"""Faulty inputs get a message naming the real cause, or are accepted where they should be; nothing is dropped
or counted wrongly without a word: damaged gzip, byte-order marks, bad residues and bytes, non-archives,
directories and link loops, long class lists, label whitespace, duplicate ids, spaces inside sequences,
non-canonical residues and ragged Stockholm rows."""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import struct
from pathlib import Path

import pytest

import plus.data.corpus.pfam as pfam_module
import plus.data.fasta as fasta_module
from plus.data.corpus.pfam import prepare_pfam
from plus.data.corpus.stockholm import fasta_records
from plus.data.fasta import read_fasta
from plus.data.task_data import archives
from plus.data.task_data.classes import read_classes_file
from plus.data.task_data.importers import get_importer, open_text
from plus.data.task_data.importing import import_task
from plus.errors import InputError
from plus.io import read_config
from plus.settings import PfamSettings, parse_settings

AMINO = "ACDEFGHIKLMNPQRSTVWY"
BOM = "\ufeff"
PFAM = {"release": "t", "min_length": 5, "min_family_size": 1, "test_fraction": 0.3, "seed": 1, "n_test_pairs": 4}


def run(fmt: str, files: dict, options: dict | None = None) -> dict:
    options = options or {}
    return get_importer(fmt, options)(files, options)


def with_bad_crc(text: str) -> bytes:
    """gzip of `text` whose CRC does not match: what a flipped bit that garbled `text` looks like."""
    packed = bytearray(gzip.compress(text.encode()))
    crc = struct.unpack("<I", packed[-8:-4])[0]
    packed[-8:-4] = struct.pack("<I", crc ^ 0xFFFF)
    return bytes(packed)


def pfam_text(n: int, families: int = 3) -> str:
    rng = random.Random(0)
    records = []
    for i in range(n):
        sequence = "".join(rng.choice(AMINO) for _ in range(30))
        records.append(f">S{i}/1-30 Q{i}.1 PF{i % families:05d}.1;Fam{i % families};\n{sequence}\n")
    return "".join(records)


def solubility_files(tmp_path: Path, train: str) -> dict:
    files = {"train": tmp_path / "train.fa", "valid": tmp_path / "valid.fa", "test": tmp_path / "test.fa"}
    files["train"].write_text(train)
    files["valid"].write_text(">v 1\nMKVLA\n")
    files["test"].write_text(">t 0\nGGGAA\n")
    return {
        "task": "solubility",
        "sources": [{"format": "plus_fasta:label", "files": {k: str(v) for k, v in files.items()}}],
    }


# --- damaged gzip: the damage, not the record it garbled ---------------------------------------------------------


def test_bad_crc_is_reported_instead_of_the_record_it_garbled(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "CHUNK_BYTES", 64)
    monkeypatch.setattr(fasta_module, "BLOCK_CHARS", 64)
    records = [f">p{i} 1\nMKVLA\n" for i in range(4000)]
    garbled = "".join(records[:1000]) + ">p\x01 1 2\nMKVLA\n" + "".join(records[1000:])
    path = tmp_path / "train.fa.gz"
    path.write_bytes(with_bad_crc(garbled))
    with pytest.raises(InputError, match=rf"^{path}: .*corrupt compressed file \(CRC check failed"):
        run("plus_fasta:label", {"train": str(path)})
    with pytest.raises(InputError, match=rf"^{path}: .*corrupt compressed file \(CRC check failed"):
        list(read_fasta(path))


def test_bad_crc_in_pfam_is_reported_instead_of_a_malformed_header(tmp_path, monkeypatch):
    monkeypatch.setattr(pfam_module, "BLOCK_BYTES", 256)
    path = tmp_path / "Pfam-A.fasta.gz"
    path.write_bytes(with_bad_crc(pfam_text(40) + ">garbled\x01\nMKVLAMKVLA\n" + pfam_text(40)))
    with pytest.raises(InputError, match=rf"^{path}: corrupt compressed file \(CRC check failed"):
        prepare_pfam(path, tmp_path / "out", parse_settings(PfamSettings, PFAM, "pfam"), progress=False)
    assert not (tmp_path / "out").exists()


# --- a byte-order mark before the first line is skipped, in every text reader ------------------------------------


@pytest.mark.parametrize(
    ("fmt", "text", "options"),
    [
        ("plus_fasta:label", ">a 1\nMKVLA\n", {}),
        ("deeploc", ">Q1 Nucleus-S test\nMKVLA\n", {}),
        ("scope_bepler", ">d1 a.1.1.1\nMKVLA\n", {}),
        ("tape_csv", "seq,label\nMKVLA,1.5\n", {}),
        (
            "table",
            "id,sequence,label\na,MKVLA,1\n",
            {"columns": {"id": "id", "sequence": "sequence", "label": "label"}},
        ),
        ("topcons_3line", ">p\nMKVLA\nIIMMO\n", {}),
    ],
)
@pytest.mark.parametrize("packed", [False, True])
def test_a_byte_order_mark_is_skipped(tmp_path, fmt, text, options, packed):
    path = tmp_path / ("train.txt.gz" if packed else "train.txt")
    data = (BOM + text).encode()
    path.write_bytes(gzip.compress(data) if packed else data)
    key = "test" if fmt == "deeploc" else "train"
    files = {"fasta": str(path)} if fmt == "deeploc" else {key: str(path)}
    tables = run(fmt, files, options)
    table = next(iter(tables.values()))
    assert table["sequence"].tolist() == ["MKVLA"] and not str(table["id"].iloc[0]).startswith(BOM)


def test_a_byte_order_mark_is_skipped_by_the_other_readers(tmp_path):
    fasta = tmp_path / "a.fa"
    fasta.write_text(BOM + ">a x\nMKV\n", encoding="utf-8")
    assert [(r.header, r.sequence, r.line) for r in read_fasta(fasta)] == [("a x", "MKV", 1)]
    assert [r.header for r in read_fasta(io.StringIO(BOM + ">b\nMK\n"))] == ["b"]
    classes = tmp_path / "classes.txt"
    classes.write_text(BOM + "f1\nf2\n", encoding="utf-8")
    assert read_classes_file(classes) == ("f1", "f2")
    config = tmp_path / "c.yaml"
    config.write_text(BOM + "a: 1\n", encoding="utf-8")
    assert read_config(config) == {"a": 1}
    pfam = tmp_path / "Pfam-A.fasta.gz"
    pfam.write_bytes(gzip.compress((BOM + pfam_text(30)).encode()))
    summary = prepare_pfam(pfam, tmp_path / "pfam", parse_settings(PfamSettings, PFAM, "pfam"), progress=False)
    assert summary["counts"]["read"] == 30


# --- the offending character, line or kind of file ----------------------------------------------------------------


def test_an_invalid_residue_is_shown_with_its_position(tmp_path):
    sequence = "M" * 60 + "*" + "K" * 30
    config = solubility_files(tmp_path, f">a 1\n{sequence}\n>b 0\nMKV\n")
    with pytest.raises(InputError, match=r"train.fa: line 1 \(id 'a'\): sequence has '\*' at position 61") as error:
        import_task(config, tmp_path / "out", "c")
    assert "MMMMMMMMMMMMMMMMMMMM*KKKKKKKKKKKKKKKKKKKK" in str(error.value)


def test_a_byte_that_is_not_utf8_names_its_line(tmp_path):
    lines = [f"f{i}\n".encode() for i in range(9)]
    classes = tmp_path / "classes.txt"
    classes.write_bytes(b"".join(lines[:5]) + b"f\xe9\n" + b"".join(lines[5:]))
    with pytest.raises(InputError, match=r"classes.txt: line 6: not a UTF-8 text file \(byte 0xe9"):
        read_classes_file(classes)
    config = tmp_path / "c.yaml"
    config.write_bytes(b"a: 1\nb: 2\nc: \xff\n")
    with pytest.raises(InputError, match=r"c.yaml: line 3: not a UTF-8 text file \(byte 0xff"):
        read_config(config)
    fasta = tmp_path / "a.fa"
    fasta.write_bytes(b">a\nMK\n>b\nM\xffK\n")
    with pytest.raises(InputError, match=r"a.fa: line 4: not a UTF-8 text file"):
        list(read_fasta(fasta))


def test_a_text_file_named_zip_is_not_an_archive(tmp_path):
    path = tmp_path / "data.zip"
    path.write_text(">a 1\nMKV\n")
    with pytest.raises(InputError, match=r"data.zip: not a zip or tar archive \(named like one"):
        open_text({"path": str(path), "member": "train.fa"})


@pytest.mark.parametrize("kind", ["directory", "loop"])
def test_a_directory_or_a_link_loop_is_named_as_such(tmp_path, kind):
    path = tmp_path / "train.fa"
    if kind == "directory":
        path.mkdir()
        expected = "train.fa: is a directory"
    else:
        os.symlink(tmp_path / "other", path)
        os.symlink(path, tmp_path / "other")
        expected = "train.fa: symbolic link loop"
    for read in (
        lambda: open_text(path),
        lambda: list(read_fasta(path)),
        lambda: open_text({"path": str(path), "member": "x"}),
        lambda: read_classes_file(path),
        lambda: read_config(path),
        lambda: prepare_pfam(path, tmp_path / "o", parse_settings(PfamSettings, PFAM, "pfam"), progress=False),
    ):
        with pytest.raises(InputError, match=expected):
            read()


# --- class lists and label whitespace ----------------------------------------------------------------------------


def fold_config(tmp_path: Path, label: str, fmt: str) -> dict:
    spec = {"name": "fold", "shape": "protein_classification", "classes": [str(i) for i in range(1195)]}
    files = {}
    for split in ("train", "valid", "test"):
        files[split] = str(tmp_path / f"{split}.csv")
        Path(files[split]).write_text(f"seq,label\nMKVLA,{label}\nGGGAA,7\n")
    options = {"columns": {"sequence": "seq", "label": "label"}} if fmt == "table" else {}
    return {"task": spec, "sources": [{"format": fmt, "files": files, "options": options}]}


def test_a_long_class_list_is_shortened_in_messages(tmp_path):
    with pytest.raises(InputError, match=r"unknown class 'x12'") as error:
        import_task(fold_config(tmp_path, "x12", "tape_csv"), tmp_path / "out", "c")
    message = str(error.value)
    assert "'9', ...] (1,195 classes)" in message and "'1194'" not in message and len(message) < 400


@pytest.mark.parametrize("fmt", ["tape_csv", "table"])
def test_label_whitespace_follows_one_rule_in_every_importer(tmp_path, fmt):
    summary = import_task(fold_config(tmp_path, " 12", fmt), tmp_path / "out", "c")
    assert summary["splits"]["train"]["class_balance"]["12"] == 1


# --- nothing silent: duplicates, spaces, non-canonical residues, ragged rows -------------------------------------


def test_a_duplicated_domain_in_an_astral_train_fasta_is_an_error(tmp_path):
    train = tmp_path / "train.fa"
    train.write_text(">d1 a.1.1.1\nMKVLA\n>d2 a.1.1.2\nGGAAK\n>d1 a.1.1.1\nMKVLA\n")
    pairs = {}
    for split in ("valid", "test", "test_2.07"):
        pairs[split] = tmp_path / f"{split}.tsv"
        pairs[split].write_text("sequence_A\tsequence_B\tsimilarity\nMKVLA\tGGAAK\t2\n")
    files = {"train": str(train), **{k: str(v) for k, v in pairs.items()}}
    config = {"task": "homology", "sources": [{"format": "scope_bepler", "files": files}]}
    with pytest.raises(InputError, match=r"train.fa: line 5 \(id 'd1'\): id 'd1' appears twice \(first: .*line 1"):
        import_task(config, tmp_path / "out", "c")


def test_a_repeated_pfam_record_is_counted_in_the_summary(tmp_path):
    text = pfam_text(30)
    path = tmp_path / "Pfam-A.fasta"
    path.write_text(text + text.split(">")[3].join([">", ""]))
    summary = prepare_pfam(path, tmp_path / "out", parse_settings(PfamSettings, PFAM, "pfam"), progress=False)
    assert summary["counts"]["read"] == 31 and summary["counts"]["repeated_names"] == 1
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["counts"]["repeated_names"] == 1


def test_a_space_inside_a_sequence_line_is_an_error(tmp_path):
    config = solubility_files(tmp_path, ">a 1\nMKVLA\nMKV LA\n>b 0\nMKV \n")
    with pytest.raises(InputError, match=r"train.fa: line 3: a space inside a sequence line"):
        import_task(config, tmp_path / "out", "c")
    assert [r.sequence for r in read_fasta(io.StringIO(">a\nMKV \nLA\t\n"))] == ["MKVLA"]  # trailing: harmless
    path = tmp_path / "Pfam-A.fasta"
    text = pfam_text(10)
    path.write_text(text + ">S99/1-9 Q99.1 PF00001.1;Fam1;\nMKVLA\nMK\tVLA\n")
    with pytest.raises(InputError, match=r"Pfam-A.fasta: line 23: a space inside a sequence line"):
        prepare_pfam(path, tmp_path / "pfam", parse_settings(PfamSettings, PFAM, "pfam"), progress=False)


def test_non_canonical_residues_are_counted_per_split(tmp_path):
    config = solubility_files(tmp_path, f">a 1\n{'X' * 265}\n>b 0\nMKVBZUOJ\n")
    summary = import_task(config, tmp_path / "out", "c")
    assert summary["splits"]["train"]["noncanonical_residues"] == {"X": 265, "B": 1, "Z": 1, "U": 1, "O": 1, "J": 1}
    assert summary["splits"]["test"]["noncanonical_residues"] == dict.fromkeys("XBZUOJ", 0)


def test_a_ragged_stockholm_row_is_an_error_naming_it():
    text = "# STOCKHOLM 1.0\n#=GF ID Fam\n#=GF AC PF00001.1\ns1/1-8 MKVL-AGQ\ns2/1-7 MKV--AG\ns3/1-8 MKVLAAGQ\n//\n"
    with pytest.raises(InputError, match=r"s.sto: line 5: row 's2/1-7' has 7 aligned columns where row 's1/1-8' has 8"):
        b"".join(fasta_records(io.BytesIO(text.encode()), "s.sto"))
