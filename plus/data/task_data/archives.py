"""Reading members of tar and zip archives safely: regular files only, sizes capped, streamed in chunks.

Limits (module constants, so a site or a test can change them):
- `MAX_UNPACKED_BYTES`: the most bytes read out of one member or one decompressed file (default 64 GiB);
- `DISK_RESERVE_BYTES`: free space that extraction to disk always leaves on the target file system;
- `DISK_SHARE`: the share of the remaining free space one extraction may fill.

A member is read with a limit of min(its declared size, MAX_UNPACKED_BYTES) and, when extracted, of
DISK_SHARE of the free space. It is refused with an InputError naming the archive and member when it is a
symbolic or hard link, a device, a FIFO or a sparse file, when its declared size exceeds a limit, or when its
data is shorter or longer than its header says (a zip member whose header under-declares its size, as a lying
header or a zip bomb does, is told apart from a corrupt one). Extraction never reads a member whole:
it copies `CHUNK_BYTES` at a time and only under the target directory, by the member's base name.
"""

from __future__ import annotations

import copy
import io
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from plus.errors import InputError
from plus.io import require_file

MAX_UNPACKED_BYTES = 64 << 30
DISK_RESERVE_BYTES = 256 << 20
DISK_SHARE = 0.5
CHUNK_BYTES = 1 << 20
ZIP_MAGIC = b"PK\x03\x04"
ARCHIVE_ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError)


@dataclass(frozen=True)
class Member:
    """A regular-file member: its name in the archive, `archive:name` for messages, declared size, an opener."""

    name: str
    where: str
    size: int
    open: Callable[[], BinaryIO]


class LimitedReader(io.RawIOBase):
    """A raw stream that raises InputError once more than `limit` bytes have been read from `inner`."""

    def __init__(self, inner: BinaryIO, limit: int, name: str, on_close: Callable[[], None] | None = None) -> None:
        self._inner = inner
        self._limit = limit
        self._name = name
        self._on_close = on_close
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:
        data = self._inner.read(len(buffer))
        self.bytes_read += len(data)
        if self.bytes_read > self._limit:
            raise InputError(
                f"{self._name}: more than {self._limit} bytes when unpacked "
                "(plus.data.task_data.archives.MAX_UNPACKED_BYTES); refusing to read on"
            )
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            finally:
                if self._on_close is not None:
                    self._on_close()
        super().close()


def over_declared(where: str, size: int) -> InputError:
    """The error for a member holding more data than its header declares."""
    return InputError(
        f"{where}: holds more data than the {size} bytes its header declares (a lying header or an archive bomb); "
        "refusing to read on"
    )


class ZipMemberReader(io.RawIOBase):
    """A zip member's data; a failed CRC check at its declared end is reported as more data than declared when the
    member does hold more (zipfile stops at the declared size and only sees a wrong CRC)."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> None:
        self._archive = archive
        self._info = info
        self._where = where
        self._inner = archive.open(info)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:
        try:
            data = self._inner.read(len(buffer))
        except zipfile.BadZipFile:
            if self._holds_more():
                raise over_declared(self._where, self._info.file_size) from None
            raise
        self.bytes_read += len(data)
        buffer[: len(data)] = data
        return len(data)

    def _holds_more(self) -> bool:
        """True when the member's data goes on past its declared size (read again, one byte past it at most)."""
        probe = copy.copy(self._info)
        probe.file_size = self._info.file_size + 1
        del probe.CRC  # no CRC check: only the length is in question
        try:
            with self._archive.open(probe) as handle:
                left = probe.file_size
                while left > 0:
                    block = handle.read(min(CHUNK_BYTES, left))
                    if not block:
                        return False
                    left -= len(block)
        except (*ARCHIVE_ERRORS, zlib.error):
            return False
        return True

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()


def one_line(error: BaseException) -> str:
    """An exception's message on one line (tarfile lists each method it tried on its own line)."""
    return " ".join(str(error).split())


def is_zip(path: Path) -> bool:
    """True if the file starts like a zip archive."""
    with open(path, "rb") as handle:
        return handle.read(4) == ZIP_MAGIC


def _named_like(path: Path) -> str:
    """A note for a file whose name says archive although its content is not one."""
    name = path.name.lower()
    if name.endswith((".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
        return " (named like one, but its content is not)"
    return ""


def _tar_kind(info: tarfile.TarInfo) -> str | None:
    """Why a tar member is not a plain regular file, or None when it is one."""
    if info.issym():
        return f"a symbolic link (to {info.linkname!r})"
    if info.islnk():
        return f"a hard link (to {info.linkname!r})"
    if info.isdir():
        return "a directory"
    if info.ischr() or info.isblk() or info.isfifo():
        return "a device or FIFO"
    if info.issparse():
        return "a sparse file"
    if not info.isfile():
        return f"of tar type {info.type!r}"
    return None


def _zip_kind(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member is not a plain regular file, or None when it is one."""
    mode = info.external_attr >> 16  # Unix mode bits when the archive was made on Unix, else 0
    if info.is_dir():
        return "a directory"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return "a device, FIFO or socket"
    return None


def _clean(name: str) -> str:
    return name.removeprefix("./").rstrip("/")


class Archive:
    """An open tar or zip archive whose regular-file members can be listed, opened and extracted."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        require_file(self.path, "archive")
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        try:
            if is_zip(self.path):
                self._zip = zipfile.ZipFile(self.path)
                self._entries: list[tuple[str, str | None, int, object]] = [
                    (_clean(info.filename), _zip_kind(info), info.file_size, info) for info in self._zip.infolist()
                ]
            else:
                self._tar = tarfile.open(self.path, "r:*")
                self._entries = [(_clean(i.name), _tar_kind(i), i.size, i) for i in self._tar.getmembers()]
        except (*ARCHIVE_ERRORS, OSError) as error:
            self.close()
            if not is_zip(self.path) and str(error).startswith("file could not be opened successfully"):
                raise InputError(
                    f"{self.path}: not a zip or tar archive{_named_like(self.path)}; 'member' needs an archive"
                ) from error
            kind = "zip" if is_zip(self.path) else "tar"
            raise InputError(f"{self.path}: not a readable {kind} archive ({one_line(error)})") from error

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the archive file."""
        for handle in (self._zip, self._tar):
            if handle is not None:
                handle.close()

    def names(self) -> list[str]:
        """Every member name (without a leading './')."""
        return [name for name, *_ in self._entries]

    def _member(self, name: str, kind: str | None, size: int, info: object) -> Member:
        where = f"{self.path}:{name}"
        if kind is not None:
            raise InputError(f"{where}: is {kind}, not a regular file; refusing to read it")
        if size > MAX_UNPACKED_BYTES:
            raise InputError(
                f"{where}: declares {size} bytes, more than the limit of {MAX_UNPACKED_BYTES} "
                "(plus.data.task_data.archives.MAX_UNPACKED_BYTES)"
            )
        if self._zip is not None:
            archive_zip = self._zip
            return Member(name, where, size, lambda: ZipMemberReader(archive_zip, info, where))  # type: ignore[arg-type]
        archive_tar = self._tar
        assert archive_tar is not None

        def open_tar() -> BinaryIO:
            handle = archive_tar.extractfile(info)  # type: ignore[arg-type]
            if handle is None:
                raise InputError(f"{where}: not a regular file in the archive")
            return handle

        return Member(name, where, size, open_tar)

    def member(self, wanted: str) -> Member:
        """The regular-file member named `wanted` (a leading './' is ignored); InputError if absent or not a file."""
        target = _clean(wanted)
        for entry in self._entries:
            if entry[0] == target:
                return self._member(*entry)
        base = target.rsplit("/", 1)[-1]
        similar = [name for name in self.names() if name.rsplit("/", 1)[-1] == base]
        hint = f"; members with that name: {similar[:5]}" if similar else ""
        raise InputError(f"{self.path}: archive has no member {wanted!r}{hint}")

    def members_under(self, prefix: str) -> list[Member]:
        """The member named `prefix` itself, or else every member inside the directory `prefix`."""
        target = _clean(prefix)
        exact = [entry for entry in self._entries if entry[0] == target and entry[1] != "a directory"]
        inside = [entry for entry in self._entries if entry[0].startswith(target + "/") and entry[1] != "a directory"]
        return [self._member(*entry) for entry in (exact or inside)]


def open_member(path: str | Path, name: str) -> BinaryIO:
    """A member of a tar or zip archive as a binary stream capped at its declared size; closing it closes all."""
    archive = Archive(path)
    try:
        member = archive.member(name)
        stream = LimitedReader(member.open(), member.size, member.where, archive.close)
    except BaseException:
        archive.close()
        raise
    return io.BufferedReader(stream, buffer_size=CHUNK_BYTES)  # type: ignore[return-value]


def free_bytes(directory: Path) -> int:
    """Bytes a new file under `directory` may use, keeping DISK_RESERVE_BYTES free."""
    return shutil.disk_usage(directory).free - DISK_RESERVE_BYTES


def extract(members: list[Member], target: Path, where: str) -> list[Path]:
    """Stream members into `target` by base name, in chunks, after checking their sizes against the free disk."""
    total = sum(member.size for member in members)
    free = free_bytes(target)
    available = int(max(free, 0) * DISK_SHARE)
    if total > available:
        raise InputError(
            f"{where}: members declare {total} bytes but only {available} may be extracted under {target} "
            f"({DISK_SHARE:.0%} of the {max(free, 0)} bytes free beyond a reserve of {DISK_RESERVE_BYTES}; "
            "plus.data.task_data.archives.DISK_SHARE)"
        )
    if total > MAX_UNPACKED_BYTES:
        raise InputError(f"{where}: members declare {total} bytes, more than the limit of {MAX_UNPACKED_BYTES}")
    written = []
    for member in members:
        base = member.name.rsplit("/", 1)[-1]
        if base in ("", ".", ".."):
            raise InputError(f"{where}: member name {member.name!r} has no usable file name")
        destination = target / base
        if destination.exists():
            raise InputError(f"{where}: two members share the file name {base!r}")
        _copy(member, destination)
        written.append(destination)
    return written


def _copy(member: Member, destination: Path) -> None:
    where = member.where
    copied = 0
    try:
        with member.open() as source, open(destination, "wb") as out:
            while True:
                block = source.read(min(CHUNK_BYTES, member.size - copied + 1))
                if not block:
                    break
                copied += len(block)
                if copied > member.size:
                    raise over_declared(where, member.size)
                out.write(block)
    except ARCHIVE_ERRORS as error:
        raise InputError(f"{where}: corrupt or truncated archive member ({error})") from error
    if copied != member.size:
        raise InputError(f"{where}: holds {copied} bytes but its header declares {member.size} (truncated archive?)")
