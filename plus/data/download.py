"""Resumable, md5-checked, atomic downloads (http, https, ftp, file URLs) and local-file sources."""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tqdm import tqdm

from plus.data.fasta import looks_like_html
from plus.errors import InputError
from plus.io import atomic_path, file_md5

log = logging.getLogger(__name__)

CHUNK = 1 << 20
TIMEOUT_S = 60
USER_AGENT = "plus-bench downloader (+https://github.com/seonwoo-min/PLUS reproduction)"


def part_path(dest: str | os.PathLike[str]) -> Path:
    """Where a download to `dest` accumulates until it is complete and verified."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


def _check_content(path: Path, origin: str, md5: str | None) -> None:
    """Raise InputError if `path` is an HTML page or does not match `md5` (the file is left for the caller)."""
    with open(path, "rb") as handle:
        start = handle.read(1024)
    if looks_like_html(start):
        raise InputError(f"{origin}: got an HTML page instead of data (an error or login page?)")
    if md5 is not None:
        actual = file_md5(path)
        if actual.lower() != md5.lower():
            raise InputError(f"{origin}: md5 mismatch: expected {md5.lower()}, got {actual}")


def _open(url: str, offset: int) -> Any:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)


def _transfer(url: str, part: Path, progress: bool) -> None:
    """Fetch `url` into `part`, continuing from the bytes already there when the server honours Range."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, offset)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            log.info("%s: server says the partial file is already complete", url)
            return
        raise InputError(f"{url}: download failed: HTTP {error.code} {error.reason}") from error
    except (urllib.error.URLError, OSError) as error:
        raise InputError(f"{url}: download failed: {getattr(error, 'reason', error)}") from error
    with response:
        status = getattr(response, "status", None)
        resumed = offset > 0 and status == 206
        if offset and not resumed:
            log.info("%s: server did not resume; starting again", url)
            offset = 0
        length = response.headers.get("Content-Length")
        expected = offset + int(length) if length and length.isdigit() else None
        received = offset
        bar = tqdm(
            total=expected,
            initial=offset,
            unit="B",
            unit_scale=True,
            desc=Path(urllib.parse.urlparse(url).path).name or url,
            disable=not progress,
        )
        with bar, open(part, "ab" if resumed else "wb") as out:
            try:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException) as error:
                raise InputError(
                    f"{url}: download interrupted after {received} bytes ({error}); run again to resume"
                ) from error
    if expected is not None and received != expected:
        raise InputError(f"{url}: download incomplete: {received} of {expected} bytes; run again to resume")


def download(url: str, dest: str | os.PathLike[str], md5: str | None = None, *, progress: bool = True) -> Path:
    """Download `url` to `dest`: resumable via `dest.part`, checked (HTML page, md5), moved into place atomically.

    A file that fails its check is deleted and never moved into place; an existing `dest` that passes is kept.
    """
    dest = Path(dest)
    scheme = urllib.parse.urlparse(url).scheme.lower()
    if scheme not in ("http", "https", "ftp", "file"):
        raise InputError(f"{url}: unsupported URL scheme {scheme!r} (use http, https, ftp or file)")
    if dest.exists():
        try:
            _check_content(dest, str(dest), md5)
        except InputError as error:
            log.warning("%s; downloading it again", error)
        else:
            log.info("%s: already present and verified", dest)
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    _transfer(url, part, progress)
    try:
        _check_content(part, url, md5)
    except InputError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


def md5_from_listing(listing: str, filename: str) -> str:
    """The md5 of `filename` in a Pfam-style `md5_checksums` listing (`<md5>  <name>` lines), URL or path."""
    if "://" in listing:
        try:
            with _open(listing, 0) as response:
                text = response.read().decode("utf-8", errors="replace")
        except (urllib.error.URLError, OSError) as error:
            raise InputError(f"{listing}: cannot read the md5 listing: {getattr(error, 'reason', error)}") from error
    else:
        path = Path(listing)
        if not path.is_file():
            raise InputError(f"{listing}: md5 listing not found")
        text = path.read_text(errors="replace")
    if looks_like_html(text[:1024]):
        raise InputError(f"{listing}: got an HTML page instead of an md5 listing")
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if len(fields) == 2 and fields[1].lstrip("*").lstrip("./") == filename:
            if len(fields[0]) != 32 or any(c not in "0123456789abcdefABCDEF" for c in fields[0]):
                raise InputError(f"{listing}: line {number}: {fields[0]!r} is not an md5")
            return fields[0].lower()
    raise InputError(f"{listing}: no md5 for {filename!r}")


def copy_local(path: str | os.PathLike[str], dest: str | os.PathLike[str], md5: str | None = None) -> Path:
    """Check a local file (HTML page, md5) and hard-link or copy it to `dest` atomically."""
    source = Path(path)
    if not source.is_file():
        raise InputError(f"{source}: local source file not found")
    _check_content(source, str(source), md5)
    dest = Path(dest)
    if dest.exists() and dest.samefile(source):
        return dest
    with atomic_path(dest) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
    return dest


def fetch_source(spec: dict[str, Any], dest: str | os.PathLike[str], *, progress: bool = True) -> Path:
    """Get a file from `{"url": ..., "md5"?, "md5_list"?}` or `{"path": ..., "md5"?}` to `dest`, verified."""
    if not isinstance(spec, dict):
        raise InputError(f"source spec must be a mapping with 'url' or 'path', not {spec!r}")
    unknown = sorted(set(spec) - {"url", "path", "md5", "md5_list"})
    if unknown:
        raise InputError(f"source spec: unknown key(s) {', '.join(unknown)} (known: url, path, md5, md5_list)")
    if ("url" in spec) == ("path" in spec):
        raise InputError(f"source spec needs exactly one of 'url' or 'path', got {sorted(spec)}")
    md5 = spec.get("md5")
    if md5 is None and spec.get("md5_list"):
        target = spec.get("url") or spec["path"]
        md5 = md5_from_listing(spec["md5_list"], Path(urllib.parse.urlparse(target).path).name)
    if "url" in spec:
        return download(spec["url"], dest, md5, progress=progress)
    return copy_local(spec["path"], dest, md5)
