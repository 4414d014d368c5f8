"""Atomic file writes and config loading shared by every command."""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from plus.errors import InputError
from plus.version import __version__

WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def _temporary_prefix(target: Path) -> str:
    """`.<name>.<host>-<pid>.`: a temporary sibling names its writer, so a later writer can tell a dead one's."""
    return f".{target.name}.{socket.gethostname()}-{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    """True when a process with this id runs on this host (or may: one of another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_temporaries(target: Path) -> list[Path]:
    """Remove the temporary siblings of `target` that a writer on this host left when it was killed."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(?P<host>.+)-(?P<pid>\d+)\.[^.]+\.tmp")
    removed = []
    host = socket.gethostname()
    for sibling in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        match = pattern.fullmatch(sibling.name)
        if match is None or match["host"] != host or _pid_alive(int(match["pid"])):
            continue
        if sibling.is_dir() and not sibling.is_symlink():
            shutil.rmtree(sibling, ignore_errors=True)
        else:
            sibling.unlink(missing_ok=True)
        removed.append(sibling)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], directory: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; on success move it into place, on failure remove it.

    Temporaries a killed writer left beside `path` are removed first; an OSError of a full disk or a read-only
    directory names `path`, not the temporary."""
    target = Path(path)
    tmp: Path | None = None
    try:
        if directory:
            check_replaceable(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_dead_temporaries(target)
        prefix = _temporary_prefix(target)
        if directory:
            tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=target.parent))
        else:
            fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target.parent)
            os.close(fd)
            tmp = Path(name)
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod((0o777 if directory else 0o666) & ~umask)
        yield tmp
        if directory:
            _mark_as_ours(tmp)
            if target.exists():
                check_replaceable(target)
                shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException as error:
        if tmp is not None and tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp is not None:
            tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno in WRITE_ERRORS and _names_no_other_file(error, target):
            raise OSError(error.errno, error.strerror, str(target)) from error
        raise


def _names_no_other_file(error: OSError, target: Path) -> bool:
    """True when an OSError names no file, or the target, its directory or a temporary sibling of it."""
    if error.filename is None:
        return True
    named = Path(error.filename)
    temporary = named.parent == target.parent and named.name.startswith(f".{target.name}.") and named.suffix == ".tmp"
    return temporary or named in (target, target.parent)


RUN_MARKER = "config.json"


def _mark_as_ours(directory: Path) -> None:
    """Give a directory a plus wrote a config.json (the command then writes its full run record over it)."""
    marker = directory / RUN_MARKER
    if not marker.exists():
        marker.write_text(json.dumps({"plus_version": __version__}) + "\n")


def written_by_plus(directory: Path) -> bool:
    """True when `directory` holds a config.json a plus command wrote (a JSON object with plus_version)."""
    try:
        record = json.loads((directory / RUN_MARKER).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and "plus_version" in record


def _holds_files(directory: Path) -> bool:
    """True when anything but (nested) empty directories is under `directory`: a file, a link or another entry."""
    for root, folders, files in os.walk(directory):
        if files or any(os.path.islink(os.path.join(root, name)) for name in folders):
            return True
    return False


def check_replaceable(target: Path) -> None:
    """Refuse to replace `target` unless it is absent, holds no files (only empty folders, as a workflow leaves
    after removing a job's declared outputs), or is a directory a plus command wrote (its config.json).

    The working directory and its parents are never replaced."""
    resolved = target.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise InputError(f"{target}: is the working directory or one of its parents; give a new output directory")
    if target.is_symlink():
        raise InputError(f"{target}: is a symbolic link; not replacing it (give a new output directory)")
    if not target.exists():
        return
    if not target.is_dir():
        raise InputError(f"{target}: exists and is not a directory; not replacing it (give a new output directory)")
    if written_by_plus(target) or not _holds_files(target):
        return
    raise InputError(
        f"{target}: exists and was not written by plus (no {RUN_MARKER} of plus); not replacing it (choose another)"
    )


def require_file(path: str | os.PathLike[str], what: str = "file") -> None:
    """InputError unless `path` is a readable regular file: says "is a directory", "symbolic link loop",
    "broken symbolic link" or "not found"."""
    path = Path(path)
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise InputError(f"{path}: symbolic link loop, not a {what}") from error
        if path.is_symlink():
            raise InputError(f"{path}: broken symbolic link (to {os.readlink(path)!r}), not a {what}") from error
        if error.errno == errno.EACCES:
            raise InputError(f"{path}: permission denied") from error
        raise InputError(f"{path}: {what} not found") from error
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a {what}")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file (a device, FIFO or socket), not a {what}")


def read_text_file(path: str | os.PathLike[str], what: str = "file") -> str:
    """A whole UTF-8 text file (a leading byte-order mark dropped); InputError naming the line of a byte that is not
    UTF-8, or why the path is not a file."""
    require_file(path, what)
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start]
        raise InputError(f"{path}: line {line}: not a UTF-8 text file (byte 0x{byte:02x}: {error.reason})") from error


def file_md5(path: str | os.PathLike[str]) -> str:
    """Hex md5 of a file, read in 1 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks (what `sha256sum` prints)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: str | os.PathLike[str], value: Any) -> None:
    """Write JSON atomically, pretty-printed."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(value, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_run_record(directory: str | os.PathLike[str], settings: dict[str, Any], inputs: dict[str, Any]) -> Path:
    """Write `directory/config.json`: the resolved settings a command ran with, its inputs and the code version.

    It is the record of what ran; Snakemake re-runs a job whose settings changed (they are its params)."""
    path = Path(directory) / "config.json"
    write_json(path, {"settings": settings, "inputs": inputs, "plus_version": __version__})
    return path


def read_json_object(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON object from `path`, or an InputError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


def read_config(path: str | os.PathLike[str], what: str = "config file") -> dict[str, Any]:
    """Read a JSON or YAML file holding a mapping into a dict, with a clear error naming the file."""
    path = Path(path)
    text = read_text_file(path, what)
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not valid YAML/JSON: {error}") from error
    if not isinstance(value, dict):
        raise InputError(f"{path}: a {what} must hold a mapping, not {type(value).__name__}")
    return value


def require(config: dict[str, Any], key: str, source: str) -> Any:
    """config[key], or an InputError naming the missing key and the file it should be in."""
    if key not in config:
        raise InputError(f"{source}: missing config key {key!r}")
    return config[key]
