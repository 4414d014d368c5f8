"""Hostile and damaged inputs: pickles that run code, archive bombs and links, corrupt compression, truncation."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import re
import shutil
import struct
import tarfile
import zipfile
from pathlib import Path

import lmdb
import numpy as np
import pytest

from plus.cli import main
from plus.data.task_data import archives, safe_pickle
from plus.data.task_data.importers import get_importer, open_text
from plus.errors import InputError
from plus.tasks import BUILTIN_TASKS


def run(fmt: str, files: dict, options: dict | None = None):
    options = options or {}
    return get_importer(fmt, options)(files, options)


class RunsCommand:
    """Pickles as a call of os.system, which an unrestricted pickle.loads would make."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def write_lmdb(path: Path, values: list[bytes], count: bytes | None = None) -> Path:
    environment = lmdb.open(str(path), map_size=1 << 24, subdir=True)
    with environment.begin(write=True) as transaction:
        transaction.put(b"num_examples", count if count is not None else pickle.dumps(len(values)))
        for index, value in enumerate(values):
            transaction.put(str(index).encode(), value)
    environment.close()
    return path


def tar_directory(archive: Path, directory: Path, arcname: str) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory, arcname=arcname)
    return archive


def tape_record(index: int) -> dict:
    return {
        "id": f"rec{index}",
        "primary": "MKVLA",
        "protein_length": 5,
        "stability_score": np.array([0.5 + index], dtype=np.float32),
        "ss8": np.array([1, 1, 4, 7, 0], dtype=np.int64),
        "valid_mask": np.array([True, True, False, True, True]),
        "evolutionary": np.zeros((5, 30), dtype=np.float32),
        "scalar": np.float32(2.5),
    }


# --- restricted unpickling of TAPE LMDB records -----------------------------------------------------------


@pytest.mark.parametrize("as_member", [False, True])
def test_lmdb_record_that_would_run_a_command_is_refused_and_nothing_runs(tmp_path, as_member):
    marker = tmp_path / "pwned"
    bad = pickle.dumps(RunsCommand(f"touch {marker}"))
    database = write_lmdb(tmp_path / "stability_train.lmdb", [pickle.dumps(tape_record(0)), bad])
    files = {"train": str(database)}
    if as_member:
        archive = tar_directory(tmp_path / "stability.tar.gz", database, "stability/stability_train.lmdb")
        files = {"train": {"path": str(archive), "member": "stability/stability_train.lmdb"}}
    with pytest.raises(InputError, match=r"stability_train.lmdb: record 1: refusing to load posix.system") as error:
        run("tape_lmdb", files, {"label_field": "stability_score"})
    assert "\n" not in str(error.value)
    assert not marker.exists()


def test_pickled_count_is_restricted_too(tmp_path):
    marker = tmp_path / "pwned"
    database = write_lmdb(tmp_path / "x.lmdb", [], count=pickle.dumps(RunsCommand(f"touch {marker}")))
    with pytest.raises(InputError, match="num_examples: refusing to load"):
        run("tape_lmdb", {"train": str(database)}, {"label_field": "stability_score"})
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_real_looking_tape_records_with_numpy_arrays_still_load(tmp_path, protocol):
    records = [pickle.dumps(tape_record(i), protocol=protocol) for i in range(3)]
    database = write_lmdb(tmp_path / "secondary_structure_train.lmdb", records)
    secstr = run("tape_lmdb", {"train": str(database)}, {"label_field": "ss8"})["train"]
    assert secstr["id"].tolist() == ["rec0", "rec1", "rec2"]
    assert secstr["label"].tolist() == ["HH.CG"] * 3
    stability = run("tape_lmdb", {"train": str(database)}, {"label_field": "stability_score"})["train"]
    assert stability["label"].tolist() == [0.5, 1.5, 2.5]
    loaded = safe_pickle.loads(records[0], "here")
    assert loaded["evolutionary"].shape == (5, 30) and loaded["scalar"] == np.float32(2.5)


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(eval),  # a builtin that is not a data type
        b"cos\nsystem\n(S'true'\ntR.",  # protocol 0 GLOBAL opcode
        pickle.dumps(Path("x")),  # an ordinary class from the standard library
        b"\x80\x04\x95",  # truncated
    ],
)
def test_other_names_and_broken_pickles_are_input_errors(payload):
    with pytest.raises(InputError, match=r"^f.lmdb: record 3: "):
        safe_pickle.loads(payload, "f.lmdb: record 3")


# --- archive members: size caps, links, streaming -----------------------------------------------------------


def bomb_tar(path: Path, name: str, declared: int, data: bytes, compress: bool) -> Path:
    """A tar whose member header declares `declared` bytes but which holds only `data` (a few bytes)."""
    info = tarfile.TarInfo(name)
    info.size = declared
    raw = info.tobuf(format=tarfile.GNU_FORMAT) + data + b"\0" * (1024 - len(data))
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


@pytest.mark.parametrize("compress", [False, True])
def test_member_declaring_a_huge_size_is_refused_before_anything_is_written(tmp_path, monkeypatch, compress):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    archive = bomb_tar(tmp_path / "stability.tar", "stability/stability_train.lmdb", 1 << 41, b"x" * 10, compress)
    files = {"train": {"path": str(archive), "member": "stability/stability_train.lmdb"}}
    assert archive.stat().st_size < 2048
    with pytest.raises(InputError, match=r"stability.tar") as error:
        run("tape_lmdb", files, {"label_field": "stability_score"})
    assert any(words in str(error.value) for words in ("declare", "not a readable tar archive"))
    assert list(scratch.iterdir()) == []
    with pytest.raises(InputError, match="stability.tar"):
        open_text(files["train"]).read()


def test_member_shorter_than_declared_is_a_truncation_error(tmp_path):
    archive = bomb_tar(tmp_path / "t.tar", "data.txt", 5000, b"MKV\n" * 3, compress=False)
    with pytest.raises(InputError, match=r"t.tar: not a readable tar archive \(unexpected end of data\)"):
        open_text({"path": str(archive), "member": "data.txt"})


@pytest.mark.parametrize(
    ("data", "words"),
    [(b"A" * 10, "holds 10 bytes but its header declares 20"), (b"A" * 30, "holds more data than the 20 bytes")],
)
def test_extraction_checks_the_bytes_against_the_declared_size(tmp_path, data, words):
    member = archives.Member("d/x.mdb", "a.tar:d/x.mdb", 20, lambda: io.BytesIO(data))
    with pytest.raises(InputError, match=rf"a.tar:d/x.mdb: {words}"):
        archives.extract([member], tmp_path, "a.tar:d")


def test_members_over_the_configured_maximum_are_refused(tmp_path, monkeypatch):
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("big.txt")
        info.size = 4096
        tar.addfile(info, io.BytesIO(b"A" * 4096))
    monkeypatch.setattr(archives, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(InputError, match=r"big.txt: declares 4096 bytes, more than the limit of 1000"):
        open_text({"path": str(archive), "member": "big.txt"})


def test_gzip_bomb_in_a_plain_file_stops_at_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "MAX_UNPACKED_BYTES", 1 << 16)
    path = tmp_path / "train.csv.gz"
    path.write_bytes(gzip.compress(b"seq,label\n" + b"MKV,1\n" * 100_000))
    with pytest.raises(InputError, match=r"train.csv.gz: more than 65536 bytes when unpacked"):
        run("tape_csv", {"train": str(path)})


def link_tar(path: Path, kind: bytes) -> Path:
    with tarfile.open(path, "w") as tar:
        data = b">a\nMKV\n"
        target = tarfile.TarInfo("real.fa")
        target.size = len(data)
        tar.addfile(target, io.BytesIO(data))
        link = tarfile.TarInfo("data/link.fa")
        link.type = kind
        link.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else "real.fa"
        if kind in (tarfile.CHRTYPE, tarfile.FIFOTYPE):
            link.linkname = ""
        tar.addfile(link)
    return path


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        (tarfile.SYMTYPE, "a symbolic link"),
        (tarfile.LNKTYPE, "a hard link"),
        (tarfile.CHRTYPE, "a device or FIFO"),
        (tarfile.FIFOTYPE, "a device or FIFO"),
    ],
)
def test_link_and_device_members_are_refused(tmp_path, kind, words):
    archive = link_tar(tmp_path / "links.tar", kind)
    spec = {"path": str(archive), "member": "data/link.fa"}
    with pytest.raises(InputError, match=rf"links.tar:data/link.fa: is {words}.*not a regular file"):
        open_text(spec)
    with pytest.raises(InputError, match=rf"links.tar:data/link.fa: is {words}"):
        run("tape_lmdb", {"train": spec}, {"label_field": "ss8"})


def test_zip_members_are_read_and_zip_symlinks_refused(tmp_path):
    archive = tmp_path / "splits.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("splits/train.csv", "seq,label\nMKV,0.5\nLLA,1.5\n")
        link = zipfile.ZipInfo("splits/link.csv")
        link.external_attr = (0o120777) << 16
        handle.writestr(link, "/etc/passwd")
    table = run("tape_csv", {"train": {"path": str(archive), "member": "splits/train.csv"}})["train"]
    assert table["label"].tolist() == ["0.5", "1.5"]
    assert table["origin"].iloc[0] == f"{archive}:splits/train.csv: line 2"
    with pytest.raises(InputError, match=r"splits.zip:splits/link.csv: is a symbolic link"):
        open_text({"path": str(archive), "member": "splits/link.csv"})
    with pytest.raises(InputError, match=r"splits.zip: archive has no member 'train.csv'.*splits/train.csv"):
        open_text({"path": str(archive), "member": "train.csv"})


def test_corrupt_zip_member_is_a_one_line_error(tmp_path):
    archive = tmp_path / "c.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as handle:
        handle.writestr("a.fa", ">a\n" + "MKV" * 1000 + "\n")
    data = bytearray(archive.read_bytes())
    data[200] ^= 0xFF  # inside the stored member: the CRC check fails at its end
    archive.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"c.zip:a.fa: (after line \d+: )?corrupt or truncated archive member"):
        run("table", {"test": {"path": str(archive), "member": "a.fa"}}, {})


# --- corrupt and truncated compression, in every reader -----------------------------------------------------

CONTENTS = {
    "table": ("train.csv", "name,aa,y\n" + "".join(f"p{i},MKVLA,{i}\n" for i in range(4000))),
    "tape_csv": ("train.csv", "seq,label\n" + "".join(f"MKVLA,{i}\n" for i in range(4000))),
    "netsurfp_csv": (
        "train.csv",
        "input, dssp3, dssp8, disorder, cb513_mask\n" + "M K V, C C H, C C H, 1 1 1, 1 1 1\n" * 4000,
    ),
    "topcons_3line": ("train.3line", "".join(f">p{i}\nMKVLA\nIIMMO\n" for i in range(4000))),
    "deepsol": ("train_src", "MKVLA\n" * 4000),
    "scope_bepler": ("train.fa", "".join(f">d{i} a.1.1.1\nMKVLA\n" for i in range(4000))),
}
OPTIONS = {"table": {"columns": {"id": "name", "sequence": "aa", "label": "y"}}}


def files_for(fmt: str, path: Path, tmp_path: Path) -> dict:
    if fmt == "deepsol":
        target = tmp_path / "train_tgt"
        target.write_text("1\n" * 4000)
        return {"train_src": str(path), "train_tgt": str(target)}
    return {"train": str(path)}


def damaged(data: bytes, how: str) -> bytes:
    packed = gzip.compress(data)
    if how == "truncated":
        return packed[: len(packed) // 2]
    corrupt = bytearray(packed)
    corrupt[len(corrupt) // 2] ^= 0xFF
    return bytes(corrupt)


@pytest.mark.parametrize("how", ["truncated", "corrupt"])
@pytest.mark.parametrize("fmt", sorted(CONTENTS))
def test_damaged_gzip_is_a_one_line_error_in_every_reader(tmp_path, fmt, how):
    name, text = CONTENTS[fmt]
    path = tmp_path / f"{name}.gz"
    path.write_bytes(damaged(text.encode(), how))
    with pytest.raises(InputError, match=rf"^{path}: ") as error:
        run(fmt, files_for(fmt, path, tmp_path), OPTIONS.get(fmt))
    assert "\n" not in str(error.value)
    if how == "truncated":
        assert re.search(r"(after line \d+: )?truncated compressed file", str(error.value))
    else:  # a flipped bit fails decompression (CRC at the latest), reported even where it garbled a record first
        assert re.search(r"(corrupt|truncated) compressed file", str(error.value))


@pytest.mark.parametrize("fmt", sorted(CONTENTS))
def test_truncated_tar_gz_member_is_a_one_line_error_in_every_reader(tmp_path, fmt):
    name, text = CONTENTS[fmt]
    archive = tmp_path / "data.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo(f"d/{name}")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text.encode()))
        filler = os.urandom(1 << 16)  # incompressible, so that the cut below lands after the member's header
        info = tarfile.TarInfo("d/zz")
        info.size = len(filler)
        tar.addfile(info, io.BytesIO(filler))
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 3])
    spec = {"path": str(archive), "member": f"d/{name}"}
    files = files_for(fmt, tmp_path / name, tmp_path)
    files["train_src" if fmt == "deepsol" else "train"] = spec
    with pytest.raises(InputError, match=r"data.tar.gz") as error:
        run(fmt, files, OPTIONS.get(fmt))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("fmt", sorted(CONTENTS))
def test_bytes_that_are_not_utf8_name_the_line(tmp_path, fmt):
    name, text = CONTENTS[fmt]
    lines = text.splitlines(keepends=True)
    path = tmp_path / name
    path.write_bytes("".join(lines[:7]).encode() + b"\xff\xfe" + "".join(lines[7:]).encode())
    with pytest.raises(InputError, match=rf"{name}: line 8: not a UTF-8 text file \(byte 0xff: "):
        run(fmt, files_for(fmt, path, tmp_path), OPTIONS.get(fmt))


def test_extraction_needs_the_declared_bytes_free_on_disk(tmp_path, monkeypatch):
    database = write_lmdb(tmp_path / "x.lmdb", [pickle.dumps(tape_record(0))])
    archive = tar_directory(tmp_path / "x.tar.gz", database, "x.lmdb")
    monkeypatch.setattr(archives, "DISK_RESERVE_BYTES", archives.free_bytes(tmp_path) + archives.DISK_RESERVE_BYTES)
    with pytest.raises(InputError, match=r"x.tar.gz:x.lmdb: members declare \d+ bytes but only 0 may be extracted"):
        run("tape_lmdb", {"train": {"path": str(archive), "member": "x.lmdb"}}, {"label_field": "ss8"})


def test_extraction_may_fill_only_a_share_of_the_free_disk(tmp_path, monkeypatch):
    database = write_lmdb(tmp_path / "x.lmdb", [pickle.dumps(tape_record(0))])
    archive = tar_directory(tmp_path / "x.tar.gz", database, "x.lmdb")
    size = sum(f.stat().st_size for f in database.iterdir())
    free = int(size * 1.5)  # room for the members, but more than half of it
    usage = shutil.disk_usage(tmp_path)._replace(free=free + archives.DISK_RESERVE_BYTES)
    monkeypatch.setattr(archives.shutil, "disk_usage", lambda path: usage)
    files, options = {"train": {"path": str(archive), "member": "x.lmdb"}}, {"label_field": "ss8"}
    with pytest.raises(InputError, match=rf"members declare {size} bytes but only {free // 2} may be extracted .*50%"):
        run("tape_lmdb", files, options)
    monkeypatch.setattr(archives, "DISK_SHARE", 1.0)
    assert len(run("tape_lmdb", files, options)["train"]) == 1


def lying_zip(path: Path, name: str, data: bytes, declared: int, method: int) -> Path:
    """A zip whose member headers (local and central) declare `declared` bytes for `data`."""
    with zipfile.ZipFile(path, "w", compression=method) as handle:
        handle.writestr(name, data)
    raw = bytearray(path.read_bytes())
    raw[22:26] = struct.pack("<I", declared)  # local file header: uncompressed size
    central = raw.find(b"PK\x01\x02")
    raw[central + 24 : central + 28] = struct.pack("<I", declared)  # central directory: uncompressed size
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_zip_member_under_declaring_its_size_is_refused_as_such(tmp_path, method):
    archive = lying_zip(tmp_path / "lie.zip", "a.fa", b">a\n" + b"MKV" * 20000 + b"\n", 100, method)
    words = (
        r"lie.zip:a.fa: holds more data than the 100 bytes its header declares \(a lying header or an archive bomb\)"
    )
    with pytest.raises(InputError, match=words) as error:
        run("table", {"test": {"path": str(archive), "member": "a.fa"}}, {})
    assert "\n" not in str(error.value)
    with archives.Archive(archive) as opened, pytest.raises(InputError, match=words):
        archives.extract(opened.members_under("a.fa"), tmp_path, "lie.zip:a.fa")


def test_corrupt_lmdb_file_is_an_input_error(tmp_path):
    path = tmp_path / "bad.lmdb"
    path.write_bytes(os.urandom(16384))
    with pytest.raises(InputError, match="bad.lmdb"):
        run("tape_lmdb", {"train": str(path)}, {"label_field": "ss8"})


def test_import_task_command_refuses_the_crafted_lmdb_with_exit_2(tmp_path, capsys):
    marker = tmp_path / "pwned"
    database = write_lmdb(tmp_path / "stability_train.lmdb", [pickle.dumps(RunsCommand(f"touch {marker}"))])
    job = {
        "task": BUILTIN_TASKS["stability"].to_dict(),
        "sources": [
            {"format": "tape_lmdb", "files": {"train": str(database)}, "options": {"label_field": "stability_score"}}
        ],
    }
    settings = tmp_path / "job.json"
    settings.write_text(json.dumps(job))
    assert main(["import-task", "--settings", str(settings), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "record 0: refusing to load posix.system" in err[0]
    assert not marker.exists() and not (tmp_path / "out").exists()
