"""A fault battery: a kill during checkpoint writes, a full disk, a read-only results directory, two Snakemake
runs on one directory and a download cut off mid-body. Each ends with nothing lost and a one-line message.

The full disk and the read-only directory are real tmpfs mounts where this process may mount (root with
CAP_SYS_ADMIN); elsewhere the same errors are raised where the write happens (monkeypatched)."""

from __future__ import annotations

import errno
import hashlib
import http.server
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plus.cli import main
from plus.data.download import download, part_path
from plus.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def mount_tmpfs(where: Path, size: str, read_only: bool = False) -> bool:
    """Mount a tmpfs of `size` at `where` (read-only when asked); False when this process may not mount."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


def unmount(where: Path) -> None:
    """Undo mount_tmpfs."""
    subprocess.run(["umount", str(where)], capture_output=True, check=True)


def run_cli(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """A plus command's exit status and its stderr, stripped."""
    status = main(arguments)
    return status, capsys.readouterr().err.strip()


# --- a kill during checkpoint writes -------------------------------------------------------------------------

SAVER = """
import sys, torch
from plus.models.checkpoint import save_checkpoint
path = sys.argv[1]
for step in range(1, 10_000):
    save_checkpoint(path, "encoder", {"n": step}, {"w": torch.full((1 << 21,), float(step))}, step=step)
    print(step, flush=True)
"""


def check_complete(path: Path) -> int:
    """The step of a complete checkpoint at `path` (loaded weights-only), checked against its weights."""
    from plus.models.checkpoint import load_checkpoint

    payload = load_checkpoint(path)
    step = payload["step"]
    weights = payload["state_dict"]["w"]
    assert payload["model_config"] == {"n": step} and bool((weights == step).all()) and weights.numel() == 1 << 21
    return step


def partial_writes(directory: Path) -> list[Path]:
    """Temporaries of model.pt that already hold data (a write under way)."""
    return [p for p in directory.glob(".model.pt.*.tmp") if p.is_file() and p.stat().st_size >= 1 << 20]


@pytest.mark.parametrize("when", ["at a random time", "mid-write"])
def test_a_checkpoint_killed_mid_write_is_the_old_or_the_new_one(tmp_path: Path, when: str) -> None:
    import torch

    from plus.models.checkpoint import save_checkpoint

    path = tmp_path / "model.pt"
    process = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip()  # one save done
        if when == "mid-write":
            deadline = time.monotonic() + 30
            while not partial_writes(tmp_path):
                assert time.monotonic() < deadline and process.poll() is None, "no write under way was seen"
                time.sleep(0.005)
        else:
            time.sleep(random.Random(24).uniform(0.05, 0.6))
    finally:
        process.kill()
        process.wait()
    check_complete(path)
    litter = [p.name for p in tmp_path.iterdir() if p != path]
    assert all(name.startswith(".model.pt.") and name.endswith(".tmp") for name in litter), litter
    if when == "mid-write":
        assert litter
    save_checkpoint(path, "encoder", {"n": 0}, {"w": torch.zeros(1 << 21)}, step=0)  # the next run's write
    assert check_complete(path) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # the killed writer's temporary is gone


# --- a full disk ---------------------------------------------------------------------------------------------


@pytest.fixture
def full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on a file system with (almost) no space left: a filled 512 KiB tmpfs, or a write that fails."""
    where = tmp_path / "full"
    if mount_tmpfs(where, "512k"):
        try:
            with open(where / "filler", "wb") as filler:
                try:
                    while True:
                        filler.write(b"\0" * 65536)
                        filler.flush()
                except OSError as error:
                    assert error.errno == errno.ENOSPC
            yield where
        finally:
            unmount(where)
        return
    where.mkdir()
    real_write_text = Path.write_text

    def no_space(self: Path, data: str, *args: object, **kwargs: object) -> int:
        if self.parent == where:
            real_write_text(self, data[: len(data) // 2], *args, **kwargs)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write_text(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", no_space)
    yield where


def test_a_full_disk_is_one_line_naming_the_path_and_leaves_nothing_partial(
    full_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = full_disk / "schema.json"
    before = sorted(p.name for p in full_disk.iterdir())
    status, err = run_cli(["settings-schema", "--out", str(target)], capsys)
    assert status == 2 and err == f"plus settings-schema: error: {target}: no space left on the disk"
    assert sorted(p.name for p in full_disk.iterdir()) == before  # no schema.json, no temporary


# --- a read-only results directory ---------------------------------------------------------------------------


@pytest.fixture
def read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A read-only directory (as root chmod does not stop writes): a read-only tmpfs, or creation that fails."""
    where = tmp_path / "results"
    if mount_tmpfs(where, "64k", read_only=True):
        try:
            yield where
        finally:
            unmount(where)
        return
    where.mkdir()
    real_mkstemp = tempfile.mkstemp

    def refused(*args: object, **kwargs: object) -> tuple[int, str]:
        if Path(str(kwargs.get("dir"))) == where:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(where / f"{kwargs['prefix']}a1b2c3d4.tmp"))
        return real_mkstemp(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    yield where


def test_a_read_only_results_directory_is_one_line_naming_the_path(
    read_only: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = read_only / "schema.json"
    status, err = run_cli(["settings-schema", "--out", str(target)], capsys)
    assert status == 2
    assert err == (
        f"plus settings-schema: error: {target}: cannot write here (Read-only file system): a read-only directory "
        "or file?"
    )
    assert not list(read_only.iterdir())


# --- two Snakemake runs on one directory ---------------------------------------------------------------------

SNAKEFILE = """
rule all:
    input: "done.txt"

rule slow:
    output: "done.txt"
    shell: "for i in $(seq 600); do [ -e release ] && break; sleep 0.1; done; echo finished > {output}"
"""  # the job runs until the test has made its second run (60 s at most)


@pytest.mark.skipif(shutil.which("snakemake") is None, reason="needs snakemake")
def test_a_second_snakemake_run_on_the_directory_stops_at_the_lock(tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    command = ["snakemake", "--cores", "1", "all"]
    first = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        locks = tmp_path / ".snakemake" / "locks"
        deadline = time.monotonic() + 60
        while not (locks.is_dir() and any(locks.iterdir())):
            assert time.monotonic() < deadline and first.poll() is None, "the first run never took its lock"
            time.sleep(0.1)
        second = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        (tmp_path / "release").touch()
        assert first.wait(timeout=120) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert second.returncode != 0
    assert "LockException" in second.stderr + second.stdout or "cannot be locked" in second.stderr + second.stdout
    assert (tmp_path / "done.txt").read_text() == "finished\n"  # the first run's output is intact


# --- a download cut off mid-body -----------------------------------------------------------------------------

BODY = os.urandom(300_000)


class CuttingHandler(http.server.BaseHTTPRequestHandler):
    """Serves BODY in full (no Range), except that the first `cuts` responses close the connection midway."""

    cuts = 1

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        if type(self).cuts > 0:
            type(self).cuts -= 1
            self.wfile.write(BODY[: len(BODY) // 3])
            self.close_connection = True
            return
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def cutting_server() -> Iterator[str]:
    CuttingHandler.cuts = 1
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CuttingHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/data.bin"
    httpd.shutdown()
    httpd.server_close()


def test_an_interrupted_download_leaves_no_file_and_a_rerun_completes_checked(
    cutting_server: str, tmp_path: Path
) -> None:
    dest = tmp_path / "data.bin"
    md5 = hashlib.md5(BODY).hexdigest()
    with pytest.raises(InputError) as error:
        download(cutting_server, dest, md5, progress=False)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{cutting_server}: download ") and "run again" in message
    assert not dest.exists() and part_path(dest).stat().st_size == len(BODY) // 3
    assert download(cutting_server, dest, md5, progress=False) == dest
    assert dest.read_bytes() == BODY and not part_path(dest).exists()
    CuttingHandler.cuts = 1
    other = tmp_path / "other.bin"
    with pytest.raises(InputError):
        download(cutting_server, other, md5, progress=False)
    with pytest.raises(InputError, match=r"md5 mismatch: expected 0{32}"):
        download(cutting_server, other, "0" * 32, progress=False)  # the rerun checks the checksum
    assert not other.exists() and not part_path(other).exists()
