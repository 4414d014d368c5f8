import gzip
import io
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from Bio import SeqIO

import plus.data.corpus.pfam as pfam_module
from plus.cli import main
from plus.data.corpus.pfam import PAPER, is_test, parse_header, prepare_pfam
from plus.data.corpus.store import CorpusStore
from plus.errors import InputError
from plus.settings import PfamSettings, parse_settings
from plus.tokens import decode

CONFIG = {"release": "seeds", "min_length": 20, "min_family_size": 10, "test_fraction": 0.2, "seed": 3}


@pytest.fixture(scope="module")
def pfam_seeds(realdata: Path) -> Path:
    return realdata / "pfam_seed" / "derived_Pfam-A_fasta_format_from_seeds.fasta"


def all_lengths(store: CorpusStore) -> np.ndarray:
    return store.lengths_of(np.arange(len(store)))


def _pfam(values: dict) -> PfamSettings:
    return parse_settings(PfamSettings, values, "pfam")


def expected_counts(path, config):
    """Everything prepare_pfam should report, computed independently with Biopython."""
    records = list(SeqIO.parse(path, "fasta"))
    long_enough = [r for r in records if len(r.seq) >= config["min_length"]]
    side = {r.id: is_test(r.id, config["seed"], config["test_fraction"]) for r in long_enough}
    family = {r.id: r.description.split()[2].split(";")[1] for r in long_enough}
    train_sizes = Counter(family[r.id] for r in long_enough if not side[r.id])
    kept = {f for f, n in train_sizes.items() if n >= config["min_family_size"]}
    return {
        "read": len(records),
        "too_short": len(records) - len(long_enough),
        "families_seen": len({r.description.split()[2] for r in records}),
        "kept_families": kept,
        "train": sorted(str(r.seq) for r in long_enough if family[r.id] in kept and not side[r.id]),
        "test": sorted(str(r.seq) for r in long_enough if family[r.id] in kept and side[r.id]),
        "family": {str(r.seq): family[r.id] for r in long_enough},
    }


def test_real_pfam_seed_file(pfam_seeds: Path, tmp_path):
    summary = prepare_pfam(pfam_seeds, tmp_path / "pfam", _pfam({**CONFIG, "n_test_pairs": 40}), progress=False)
    expected = expected_counts(pfam_seeds, CONFIG)
    assert expected["read"] == 283 and expected["families_seen"] == 8
    counts = summary["counts"]
    assert counts["read"] == 283
    assert counts["too_short"] == expected["too_short"] > 0
    assert summary["families"] == {
        "seen": 8,
        "kept": len(expected["kept_families"]),
        "dropped": 8 - len(expected["kept_families"]),
    }
    assert 0 < len(expected["kept_families"]) < 8  # the filter did something
    train, test = CorpusStore(tmp_path / "pfam" / "train"), CorpusStore(tmp_path / "pfam" / "test")
    assert summary["splits"]["train"]["sequences"] == len(train) == len(expected["train"])
    assert summary["splits"]["test"]["sequences"] == len(test) == len(expected["test"])
    assert counts["kept"] + counts["too_short"] + counts["dropped_small_family"] == 283
    assert sorted(decode(train[i]) for i in range(len(train))) == expected["train"]
    assert sorted(decode(test[i]) for i in range(len(test))) == expected["test"]
    for store in (train, test):
        assert store.family_names == train.family_names
        assert sorted(f["id"] for f in store.family_names) == sorted(expected["kept_families"])
        for i in range(len(store)):
            assert store.family_names[store.families[i]]["id"] == expected["family"][decode(store[i])]
    assert {"accession": "PF00041.20", "id": "fn3"} in train.family_names
    pairs = pd.read_parquet(tmp_path / "pfam" / "test_pairs.parquet")
    assert len(pairs) == 40 and pairs["same_family"].sum() == 20
    same = np.asarray(test.families)[pairs["index_a"]] == np.asarray(test.families)[pairs["index_b"]]
    np.testing.assert_array_equal(same, pairs["same_family"] == 1)
    on_disk = json.loads((tmp_path / "pfam" / "summary.json").read_text())
    assert on_disk == summary
    assert on_disk["paper"] == PAPER and PAPER["sequences"] == 14670860 and PAPER["families"] == 3150
    assert on_disk["release"] == "seeds" and on_disk["ours"]["families"] == len(expected["kept_families"])


def synthetic_pfam(path, n, n_families=12, seed=0, order_seed=None):
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        family = i % n_families
        length = rng.randint(5, 120)
        sequence = "".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(length))
        lines.append((f">SEQ{i}_X/1-{length} Q{i}.1 PF{family:05d}.2;Fam{family};", sequence))
    if order_seed is not None:
        random.Random(order_seed).shuffle(lines)
    text = "".join(f"{header}\n{seq[:60]}\n{seq[60:]}\n" for header, seq in lines)
    with gzip.open(path, "wt") as handle:
        handle.write(text)
    return path


def stored_sequences(directory, split):
    store = CorpusStore(directory / split)
    return sorted(decode(store[i]) for i in range(len(store)))


def test_split_is_a_function_of_name_and_seed_not_file_order(tmp_path):
    config = {"min_family_size": 1, "n_test_pairs": 10, "seed": 11}
    prepare_pfam(synthetic_pfam(tmp_path / "a.fa.gz", 600), tmp_path / "a", _pfam(config), progress=False)
    shuffled = synthetic_pfam(tmp_path / "b.fa.gz", 600, order_seed=5)
    prepare_pfam(shuffled, tmp_path / "b", _pfam(config), progress=False)
    assert stored_sequences(tmp_path / "a", "test") == stored_sequences(tmp_path / "b", "test")
    assert stored_sequences(tmp_path / "a", "train") == stored_sequences(tmp_path / "b", "train")
    summary = prepare_pfam(shuffled, tmp_path / "c", _pfam({**config, "seed": 12}), progress=False)
    assert stored_sequences(tmp_path / "c", "test") != stored_sequences(tmp_path / "a", "test")
    fraction = summary["splits"]["test"]["sequences"] / summary["counts"]["kept"]
    assert 0.15 < fraction < 0.25


def test_small_blocks_give_identical_stores(tmp_path, monkeypatch):
    path = synthetic_pfam(tmp_path / "p.fa.gz", 300, n_families=4)
    config = {"min_family_size": 1, "n_test_pairs": 20}
    whole = prepare_pfam(path, tmp_path / "whole", _pfam(config), progress=False)
    monkeypatch.setattr(pfam_module, "BLOCK_BYTES", 97)  # records straddle many block boundaries
    pieces = prepare_pfam(path, tmp_path / "pieces", _pfam(config), progress=False)
    assert whole["counts"] == pieces["counts"] and whole["splits"] == pieces["splits"]
    for name in ("tokens.bin", "offsets.npy", "families.npy", "family_members.npy", "families.json"):
        for split in ("train", "test"):
            assert (tmp_path / "whole" / split / name).read_bytes() == (tmp_path / "pieces" / split / name).read_bytes()
    bad = tmp_path / "bad.fa"
    bad.write_text("\n\n" + "".join(f">S{i}/1-30 S.1 PF1.1;F1;\n{'A' * 30}\n" for i in range(20)) + ">T/1-3 T.1\nAAA\n")
    with pytest.raises(InputError, match=rf"{bad}: line 43: malformed Pfam header"):
        prepare_pfam(bad, tmp_path / "bad_out", _pfam(config), progress=False)


def test_max_length_and_family_filter(tmp_path):
    path = synthetic_pfam(tmp_path / "p.fa.gz", 500, n_families=5)
    config = {"min_family_size": 1, "max_length": 60, "n_test_pairs": 0}
    summary = prepare_pfam(path, tmp_path / "out", _pfam(config), progress=False)
    lengths = np.concatenate([all_lengths(CorpusStore(tmp_path / "out" / s)) for s in ("train", "test")])
    assert lengths.max() <= 60 and lengths.min() >= 20
    assert summary["counts"]["too_long"] > 0
    assert (
        summary["counts"]["read"]
        == 500
        == sum(summary["counts"][k] for k in ("too_short", "too_long", "dropped_small_family", "kept"))
    )
    with pytest.raises(InputError, match="no family has min_family_size=1000 .* 'min_family_size'"):
        prepare_pfam(path, tmp_path / "none", _pfam({"min_family_size": 1000}), progress=False)
    assert not (tmp_path / "none").exists()


def test_long_sequences_are_dropped_before_the_family_filter_and_test_pairs_use_kept_ones(tmp_path):
    """PLUS-TFM's corpus (docs/fidelity.md, row 13): sequences over max_length go before families are counted."""
    rng = random.Random(7)
    records = []  # (name, family, length): family F1 is large enough only while its long sequences count
    records += [(f"L{i}", 1, 300) for i in range(8)] + [(f"S{i}", 1, 50) for i in range(8)]
    records += [(f"A{i}", family, 40 + i) for family in (2, 3) for i in range(40)]
    residues = "ACDEFGHIKLMNPQRSTVWY"
    text = "".join(
        f">{name}/1-{n} {name}.1 PF{family:05d}.1;F{family};\n{''.join(rng.choice(residues) for _ in range(n))}\n"
        for name, family, n in records
    )
    path = tmp_path / "p.fa"
    path.write_text(text)
    settings = {"min_length": 20, "test_fraction": 0.2, "seed": 3, "n_test_pairs": 400}
    train_f1 = [(n, length) for n, family, length in records if family == 1 and not is_test(f"{n}/1-{length}", 3, 0.2)]
    long_train = sum(length > 256 for _, length in train_f1)
    assert 0 < long_train < len(train_f1)  # the split puts long F1 sequences on the train side (fixed by the seed)
    settings["min_family_size"] = len(train_f1)  # F1 qualifies only if its long sequences are counted

    without = prepare_pfam(path, tmp_path / "rnn", _pfam({**settings, "max_length": None}), progress=False)
    assert without["families"]["kept"] == 3 and all_lengths(CorpusStore(tmp_path / "rnn" / "train")).max() == 300

    summary = prepare_pfam(path, tmp_path / "tfm", _pfam({**settings, "max_length": 256}), progress=False)
    assert summary["families"]["kept"] == 2  # F1 fell below min_family_size once its long sequences were gone
    assert summary["counts"]["too_long"] == 8 and summary["counts"]["dropped_small_family"] == 8
    test = CorpusStore(tmp_path / "tfm" / "test")
    pairs = pd.read_parquet(tmp_path / "tfm" / "test_pairs.parquet")
    assert len(pairs) == 400
    lengths = all_lengths(test)
    assert lengths[pairs["index_a"]].max() <= 256 and lengths[pairs["index_b"]].max() <= 256
    names = {family["id"] for family in json.loads((tmp_path / "tfm" / "test" / "families.json").read_text())}
    assert "F1" not in names


def test_unknown_residues_are_counted(tmp_path):
    path = tmp_path / "x.fa"
    path.write_text(">A/1-30 A.1 PF1.1;F1;\n" + "ACDE" * 5 + "BZJX\n>B/1-25 B.1 PF2.1;F2;\n" + "K" * 25 + "\n")
    summary = prepare_pfam(path, tmp_path / "out", _pfam({"min_family_size": 0, "n_test_pairs": 0}), progress=False)
    assert summary["counts"]["unknown_residues"] == 1  # J; B and Z are ambiguity codes mapped to X
    assert summary["counts"]["sequences_with_unknown_residues"] == 1


def test_malformed_header_names_file_and_line_and_leaves_nothing(tmp_path):
    path = tmp_path / "bad.fa"
    path.write_text(">A/1-30 A.1 PF1.1;F1;\n" + "A" * 30 + "\n>B/1-30 B.1\n" + "C" * 30 + "\n")
    with pytest.raises(InputError, match=rf"{path}: line 3: malformed Pfam header"):
        prepare_pfam(path, tmp_path / "out", _pfam({"min_family_size": 0}), progress=False)
    path.write_text(">A/1-30 A.1 PF1.1;F1;\n" + "A" * 30 + "\n>B/1-30 B.1 F2\n" + "C" * 30 + "\n")
    with pytest.raises(InputError, match=rf"{path}: line 3: malformed Pfam family field"):
        prepare_pfam(path, tmp_path / "out", _pfam({"min_family_size": 0}), progress=False)
    path.write_text(">A/1-30 A.1 PF1.1;F1;\n" + "A" * 30 + "\n>B/1-30 B.1 PF1.1;F9;\n" + "A" * 30 + "\n")
    with pytest.raises(InputError, match=rf"{path}: line 3: family PF1.1 is named 'F9' here but 'F1'"):
        prepare_pfam(path, tmp_path / "out", _pfam({"min_family_size": 0}), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.fa"]


def test_bad_residue_names_line(tmp_path):
    path = tmp_path / "bad.fa"
    path.write_text(">A/1-30 A.1 PF1.1;F1;\n" + "A" * 30 + "\n>B/1-30 B.1 PF1.1;F1;\n" + "AC*" * 10 + "\n")
    with pytest.raises(InputError, match=rf"{path}: line 4: record 'B/1-30': '\*' is not a residue letter"):
        prepare_pfam(path, tmp_path / "out", _pfam({"min_family_size": 0}), progress=False)


def test_failure_keeps_a_previous_output(tmp_path):
    good = synthetic_pfam(tmp_path / "good.fa.gz", 200, n_families=3)
    prepare_pfam(good, tmp_path / "out", _pfam({"min_family_size": 1, "n_test_pairs": 4}), progress=False)
    before = sorted(p.name for p in (tmp_path / "out").iterdir())
    data = good.read_bytes()
    (tmp_path / "cut.fa.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.fa.gz: truncated compressed file"):
        prepare_pfam(tmp_path / "cut.fa.gz", tmp_path / "out", _pfam({"min_family_size": 1}), progress=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.fa.gz", "good.fa.gz", "out"]


def test_html_page_instead_of_pfam(tmp_path):
    for name, data in (
        ("Pfam-A.fasta.gz", b"<!DOCTYPE html><html><body>Not Found</body></html>"),
        ("Pfam-A.fasta", gzip.compress(b"<html><title>503</title>\n")),
    ):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputError, match=rf"{name}: .*HTML page"):
            prepare_pfam(tmp_path / name, tmp_path / "out", _pfam({}), progress=False)
    assert not (tmp_path / "out").exists()


def test_config_validation(pfam_seeds: Path, tmp_path):
    with pytest.raises(InputError, match="pfam.min_len: unknown key"):
        prepare_pfam(pfam_seeds, tmp_path / "o", _pfam({"min_len": 5}), progress=False)
    with pytest.raises(InputError, match="pfam.test_fraction: Input should be less than 1"):
        prepare_pfam(pfam_seeds, tmp_path / "o", _pfam({"test_fraction": 1.5}), progress=False)
    with pytest.raises(InputError, match="pfam.max_length: Input should be greater than or equal to 1"):
        prepare_pfam(pfam_seeds, tmp_path / "o", _pfam({"max_length": 0}), progress=False)
    with pytest.raises(InputError, match="Pfam input file not found"):
        prepare_pfam(tmp_path / "absent.fa.gz", tmp_path / "o", _pfam({}), progress=False)
    assert not (tmp_path / "o").exists()


def test_parse_header():
    header = parse_header("F0S5U5_PSESL/156-195 F0S5U5.1 PF10417.8;1-cysPrx_C;", "f:1")
    assert (header.name, header.accession, header.family_id) == ("F0S5U5_PSESL/156-195", "PF10417.8", "1-cysPrx_C")


def test_cli_with_yaml_settings(pfam_seeds: Path, tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("min_family_size: 10\nseed: 3\nn_test_pairs: 8\nrelease: '27.0'\n")
    code = main(["prepare-pfam", "--settings", str(config), "--input", str(pfam_seeds), "--out", str(tmp_path / "o")])
    assert code == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["release"] == "27.0" and summary["config"]["min_family_size"] == 10
    record = json.loads((tmp_path / "o" / "config.json").read_text())
    assert record["settings"]["min_family_size"] == 10 and record["inputs"]["input"] == str(pfam_seeds)
    config.write_text("min_family_siz: 10\n")
    code = main(["prepare-pfam", "--settings", str(config), "--input", str(pfam_seeds), "--out", str(tmp_path / "p")])
    assert code == 2 and "min_family_siz" in capsys.readouterr().err


# --- damaged endings and Stockholm input ---------------------------------------------------------------------


@pytest.mark.parametrize("text_after", ["", "\n"])
def test_header_without_sequence_at_the_end_is_counted_not_a_crash(tmp_path, capsys, text_after):
    path = tmp_path / "cut.fa"
    path.write_text(">A/1-30 A.1 PF1.1;F1;\n" + "A" * 30 + "\n>B/1-30 B.1 PF1.1;F1;" + text_after)
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"min_family_size": 0, "n_test_pairs": 0}))
    assert main(["prepare-pfam", "--settings", str(config), "--input", str(path), "--out", str(tmp_path / "o")]) == 0
    counts = json.loads((tmp_path / "o" / "summary.json").read_text())["counts"]
    assert counts["read"] == 2 and counts["no_sequence"] == 1 and counts["kept"] == 1
    assert counts["first_no_sequence"] == f"{path}: line 3"
    assert counts["too_short"] == 0


def seeds_stockholm(realdata: Path, path: Path, compress: bool = False) -> Path:
    data = b"".join(p.read_bytes() for p in sorted((realdata / "pfam_seed").glob("*.sto")))
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize("compress", [False, True])
def test_stockholm_seeds_give_the_same_corpus_as_their_fasta(realdata: Path, pfam_seeds: Path, tmp_path, compress):
    sto = seeds_stockholm(realdata, tmp_path / ("seeds.sto.gz" if compress else "seeds.sto"), compress)
    config = _pfam({**CONFIG, "n_test_pairs": 40})
    from_sto = prepare_pfam(sto, tmp_path / "sto", config, progress=False)
    from_fasta = prepare_pfam(pfam_seeds, tmp_path / "fa", config, progress=False)
    assert from_sto["counts"] == from_fasta["counts"] and from_sto["families"] == from_fasta["families"]
    for split in ("train", "test"):
        for name in ("tokens.bin", "offsets.npy", "families.npy", "families.json"):
            assert (tmp_path / "sto" / split / name).read_bytes() == (tmp_path / "fa" / split / name).read_bytes()
    assert pd.read_parquet(tmp_path / "sto" / "test_pairs.parquet").equals(
        pd.read_parquet(tmp_path / "fa" / "test_pairs.parquet")
    )


STOCKHOLM = """# STOCKHOLM 1.0
#=GF ID   Fam1
#=GF AC   PF00001.7
#=GS A_HUMAN/1-40 AC P00001.2
A_HUMAN/1-40   mkv..LAG-
B_MOUSE/3-30   MKVLAGQQ.
A_HUMAN/1-40   WWYY
B_MOUSE/3-30   ..YY
//
"""


def test_stockholm_interleaved_blocks_gaps_and_accessions():
    from plus.data.corpus.stockholm import fasta_records

    records = b"".join(fasta_records(io.BytesIO(STOCKHOLM.encode()), "s.sto")).decode()
    assert records == (
        ">A_HUMAN/1-40 P00001.2 PF00001.7;Fam1;\nMKVLAGWWYY\n>B_MOUSE/3-30 B_MOUSE PF00001.7;Fam1;\nMKVLAGQQYY\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (STOCKHOLM.replace("#=GF AC   PF00001.7\n", ""), r"line 1: the alignment ending on line 8 has no '#=GF AC'"),
        (STOCKHOLM.replace("//\n", ""), "line 1: alignment has no closing '//'"),
        (STOCKHOLM.replace("MKVLAGQQ.", "MKV*AGQQ."), r"line 6: '\*' is not a residue letter or gap"),
        (STOCKHOLM.replace("PF00001.7", "RF00001"), "line 1: .#=GF AC RF00001. is not a Pfam accession"),
        (STOCKHOLM.replace("B_MOUSE/3-30   ..YY", "B_MOUSE/3-30 ..YY extra"), "line 8: expected 'NAME ALIGNED"),
        (STOCKHOLM + "A_HUMAN/1-40 MK\n", "line 10: expected a '# STOCKHOLM 1.0' header"),
    ],
)
def test_bad_stockholm_names_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.sto"
    path.write_text(text)
    with pytest.raises(InputError, match=rf"{path}: {message}"):
        prepare_pfam(path, tmp_path / "out", _pfam({"min_family_size": 0, "n_test_pairs": 0}), progress=False)
    assert not (tmp_path / "out").exists()
