"""An output directory is replaced only when a plus command wrote it: a user's folder, the working directory and
its parents are refused with a one-line error, and nothing in them is touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plus.cli import main
from plus.data.task_data.importing import import_task
from plus.errors import InputError
from plus.io import atomic_path
from plus.tasks import resolve_task


def solubility_config(tmp_path: Path) -> dict:
    files = {}
    for split, text in (("train", ">a 1\nMKVLA\n>b 0\nGGGGA\n"), ("valid", ">c 1\nWWWWA\n"), ("test", ">d 0\nPPPPA\n")):
        files[split] = str(tmp_path / f"{split}.fa")
        Path(files[split]).write_text(text)
    return {"task": "solubility", "sources": [{"format": "plus_fasta", "options": {"kind": "label"}, "files": files}]}


def test_a_users_folder_is_not_emptied(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    with pytest.raises(InputError, match=r"mine: exists and was not written by plus \(no config.json of plus\)"):
        import_task(solubility_config(tmp_path), out, "c")
    (out / "config.json").write_text('{"_name_or_path": "a Hugging Face model"}')
    with pytest.raises(InputError, match="mine: exists and was not written by plus"):
        import_task(solubility_config(tmp_path), out, "c")
    assert (out / "notes.txt").read_text() == "my notes" and sorted(p.name for p in out.iterdir()) == [
        "config.json",
        "notes.txt",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mine.")]


def test_a_directory_plus_wrote_is_replaced(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    config = solubility_config(tmp_path)
    settings.write_text(json.dumps({**config, "task": resolve_task("solubility").to_dict()}))
    out = tmp_path / "out"
    assert main(["import-task", "--settings", str(settings), "--out", str(out)]) == 0
    (out / "stale.txt").write_text("from before")
    assert main(["import-task", "--settings", str(settings), "--out", str(out)]) == 0
    assert (out / "config.json").is_file() and not (out / "stale.txt").exists()
    empty = tmp_path / "empty"
    (empty / "left" / "by" / "snakemake").mkdir(parents=True)  # declared outputs removed, their folders kept
    with atomic_path(empty, directory=True) as tmp:
        (tmp / "x").write_text("x")
    assert sorted(p.name for p in empty.iterdir()) == ["config.json", "x"]


@pytest.mark.parametrize("where", [".", "..", "sub/.."])
def test_the_working_directory_and_its_parents_are_refused(where: str, tmp_path: Path, monkeypatch, capsys) -> None:
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "keep.txt").write_text("keep")
    (work / "config.json").write_text('{"plus_version": "0"}')  # even a directory plus wrote is refused as the cwd
    monkeypatch.chdir(work)
    assert main(["synthetic", "--out", where]) == 2
    assert "working directory or one of its parents" in capsys.readouterr().err
    assert (work / "keep.txt").read_text() == "keep" and (work / "sub").is_dir()


def test_a_file_or_symlink_is_not_replaced_by_a_directory(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("data")
    with pytest.raises(InputError, match="file.txt: exists and is not a directory"):
        with atomic_path(target, directory=True):
            pass
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    with pytest.raises(InputError, match="link: is a symbolic link"):
        with atomic_path(link, directory=True):
            pass
    assert target.read_text() == "data" and link.is_symlink()
