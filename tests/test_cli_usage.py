"""The command line as a user meets it: the top-level help, and `plus embed` on good and bad FASTA files."""

from __future__ import annotations

import argparse
import errno
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import plus
import plus.inference.embed
from plus.api import DEFAULT_MAX_RESIDUES
from plus.cli import build_parser, main
from plus.models import build_encoder
from plus.models.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "model.pt"
    torch.manual_seed(0)
    encoder = build_encoder("plus-rnn-tiny")
    save_checkpoint(path, "encoder", encoder.config, encoder.state_dict())
    return path


def test_top_level_help_describes_the_tool(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "pretraining" in text and "fine-tuning" in text and "embeddings" in text
    assert "plus COMMAND --help" in text and "module" not in text.lower()
    groups = set(re.findall(r"[a-z][a-z-]+", text.split("command groups:", 1)[1]))
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) <= groups  # every command is listed in a group
    embed_help = commands["embed"].format_help()
    assert f"default {DEFAULT_MAX_RESIDUES}" in embed_help and "--batch-size" not in embed_help


def test_embed_writes_h5_and_npz_equal_to_the_api(model_path: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(plus.inference.embed, "SEQUENCES_PER_CHUNK", 2)  # several chunks, written as they come
    fasta = tmp_path / "x.fasta"
    records = {"a": "ACDEFGHIK", "b": "MKV", "c": "mkvlaaGGW", "d": "W" * 40, "e": "PPPPPE"}
    fasta.write_text("".join(f">{name} some description\n{seq}\n" for name, seq in records.items()))
    assert main(["embed", "--model", str(model_path), "--fasta", str(fasta), "--out", str(tmp_path / "x.h5")]) == 0
    assert "embedded 5 sequences" in capsys.readouterr().out
    expected = plus.load(model_path).embed(list(records.items())).numpy()
    with h5py.File(tmp_path / "x.h5") as handle:
        assert sorted(handle) == sorted(records) and handle.attrs["representation"] == "h"
        for name, residues, protein in zip(expected.ids, expected.residues, expected.proteins, strict=True):
            np.testing.assert_allclose(handle[f"{name}/residues"][()], residues, atol=1e-6)
            np.testing.assert_allclose(handle[f"{name}/protein"][()], protein, atol=1e-6)
    argv = ["embed", "--model", str(model_path), "--fasta", str(fasta), "--out", str(tmp_path / "x.npz")]
    assert main([*argv, "--representation", "z", "--max-residues", "20"]) == 0
    arrays = np.load(tmp_path / "x.npz")
    assert arrays["d/residues"].shape == (40, 16) and arrays["b/protein"].shape == (16,)
    assert all(np.isfinite(arrays[key]).all() for key in arrays.files)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            ">a\nMKV*\n",
            r"line 1: record 'a': characters other than the letters A-Z: '\*'; the first, '\*' at position 4 "
            r"\(excerpt 'MKV\*'\)",
        ),
        (
            f">a\n{'M' * 60}*{'K' * 40}\n",
            r"line 1: record 'a': characters other than the letters A-Z: '\*'; the first, '\*' at position 61 "
            r"\(excerpt '\.\.\.MMMMMMMMMMMMMMMMMMMM\*KKKKKKKKKKKKKKKKKKKK\.\.\.'\)",
        ),
        (
            ">a\nMKV\n>b\nMK12V\n",
            r"line 3: record 'b': characters other than the letters A-Z: '12'; the first, '1' at position 3 "
            r"\(excerpt 'MK12V'\)",
        ),
        (
            ">a\nMKV\n>b\nMKVÉL\n",
            r"line 3: record 'b': characters other than the letters A-Z: 'É'; the first, 'É' at position 4 "
            r"\(excerpt 'MKVÉL'\)",
        ),
        (">a\nMKV\n>\nMKV\n", r"line 3: empty header \(a record needs an id after '>'\)"),
        (">a\nMKV\n>   \nMKV\n", r"line 3: empty header \(a record needs an id after '>'\)"),
        (">a\nMKV\n>b\n>c\nMKV\n", r"line 3: record 'b': empty sequence"),
        (">a\nMKV\n>b\n", r"line 3: record 'b': empty sequence"),
        (">a x\nMKV\n>b\nMM\n>a y\nWW\n", r"line 5: duplicate id 'a' \(first at line 1\)"),
    ],
)
def test_embed_bad_records_exit_2_with_one_line(
    model_path: Path, tmp_path: Path, capsys, text: str, message: str
) -> None:
    fasta = tmp_path / "bad.fasta"
    fasta.write_text(text, encoding="utf-8")
    out = tmp_path / "x.h5"
    assert main(["embed", "--model", str(model_path), "--fasta", str(fasta), "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0]
    assert re.fullmatch(rf"plus embed: error: {re.escape(str(fasta))}: {message}", lines[0]), lines[0]
    assert not out.exists() and not list(tmp_path.glob(".x.h5*"))


def test_embed_bad_output_or_model_exit_2(model_path: Path, tmp_path: Path, capsys) -> None:
    fasta = tmp_path / "x.fasta"
    fasta.write_text(">a\nMKV\n")
    assert main(["embed", "--model", str(model_path), "--fasta", str(fasta), "--out", str(tmp_path / "x.csv")]) == 2
    assert capsys.readouterr().err.strip().endswith("x.csv: output must end in .h5 or .npz")
    assert main(["embed", "--model", str(fasta), "--fasta", str(fasta), "--out", str(tmp_path / "x.h5")]) == 2
    assert "not a PLUS checkpoint" in capsys.readouterr().err


def test_a_full_disk_is_one_line_not_a_traceback(tmp_path: Path, monkeypatch, capsys) -> None:
    """torch's zip writer reports a full disk as `unexpected pos`; the command says what happened in one line."""
    import torch

    from plus.cli import main
    from plus.models import build_encoder
    from plus.models.checkpoint import save_checkpoint

    def full_disk(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 34624 vs 34512")

    encoder = build_encoder("plus-rnn-tiny")
    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError) as caught:
        save_checkpoint(tmp_path / "model.pt", "encoder", encoder.config, encoder.state_dict())
    assert caught.value.errno == errno.ENOSPC and not (tmp_path / "model.pt").exists()

    def no_space(args):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "model.pt"))

    monkeypatch.setattr("plus.cli.settings_schema.write_schema", no_space)
    parser_main = main(["settings-schema", "--out", str(tmp_path / "schema.json")])
    err = capsys.readouterr().err.strip()
    assert parser_main == 2 and err.count("\n") == 0 and "no space left on the disk" in err


def test_report_needs_at_least_one_worker(tmp_path: Path, capsys) -> None:
    missing = str(tmp_path / "missing")
    arguments = ["--results", missing, "--published", missing, "--settings", "{}", "--tables", missing]
    arguments += ["--figures", missing]
    assert main(["report", *arguments, "--summary", missing, "--workers", "0"]) == 2
    assert capsys.readouterr().err.strip().endswith("--workers 0: must be at least 1")
