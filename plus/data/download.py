"""Resumable, md5-checked, atomic downloads (http, https, ftp, file URLs) and local-file sources.

A download accumulates in `dest.part`; the server's ETag, Last-Modified and total size are kept beside it in
`dest.part.json`. A later run resumes only when the server confirms it is the same resource and offset
(If-Range, then a 206 with a matching Content-Range); otherwise it starts again from zero. The result must
have the size the server declared (an empty body is always an error) and, when given, the md5, before it is
moved into place.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple

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


def meta_path(dest: str | os.PathLike[str]) -> Path:
    """Where the validators (ETag, Last-Modified, total size) of a partial download are kept beside it."""
    return part_path(dest).with_name(part_path(dest).name + ".json")


class _Partial(NamedTuple):
    """What is known about a partial download: bytes on disk and the server's description of the resource."""

    offset: int
    etag: str | None
    last_modified: str | None
    total: int | None

    @property
    def validator(self) -> str | None:
        """The If-Range value that makes a server send the rest only if the resource is unchanged."""
        return self.etag or self.last_modified


def _read_partial(url: str, part: Path, meta: Path) -> _Partial:
    offset = part.stat().st_size if part.exists() else 0
    try:
        stored = json.loads(meta.read_text()) if meta.is_file() else {}
    except (OSError, ValueError):
        stored = {}
    if not isinstance(stored, dict) or stored.get("url") != url:
        return _Partial(offset, None, None, None)
    total = stored.get("total")
    return _Partial(offset, stored.get("etag"), stored.get("last_modified"), total if isinstance(total, int) else None)


def _open(url: str, offset: int, validator: str | None = None) -> Any:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
        if validator:
            request.add_header("If-Range", validator)
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total) of a `Content-Range: bytes first-last/total` or `bytes */total` header."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*", value or "")
    if match is None:
        return None, None
    first = int(match.group(1)) if match.group(1) is not None else None
    total = int(match.group(3)) if match.group(3) != "*" else None
    return first, total


def _same_resource(headers: Any, partial: _Partial) -> bool:
    """False when the response names the resource with a validator other than the one stored with the partial."""
    etag, modified = headers.get("ETag"), headers.get("Last-Modified")
    if partial.etag and etag and etag != partial.etag:
        return False
    return not (not partial.etag and partial.last_modified and modified and modified != partial.last_modified)


def _transfer(url: str, part: Path, meta: Path, md5: str | None, progress: bool) -> bool:
    """Fetch `url` into `part`; True if the server's length headers confirmed the size of the result.

    Continues from the bytes already there only when the server confirms the same resource and offset
    (If-Range with the stored ETag or Last-Modified, then a 206 whose Content-Range starts at the offset and
    whose total matches); a partial file without stored validators is resumed only when an md5 will check it.
    """
    partial = _read_partial(url, part, meta)
    resume = partial.offset > 0 and (partial.validator is not None or md5 is not None)
    if not resume:
        return _transfer_from(url, part, meta, 0, None, progress)
    try:
        response = _open(url, partial.offset, partial.validator)
    except urllib.error.HTTPError as error:
        if error.code != 416:
            raise InputError(f"{url}: download failed: HTTP {error.code} {error.reason}") from error
        _, total = _content_range(error.headers.get("Content-Range"))
        if total == partial.offset and partial.total in (None, total):
            log.info("%s: server confirms the partial file holds all %d bytes", url, total)
            return True
        log.info("%s: partial file (%d bytes) does not fit the resource (%s bytes)", url, partial.offset, total)
        return _transfer_from(url, part, meta, 0, None, progress)
    except (urllib.error.URLError, OSError) as error:
        raise InputError(f"{url}: download failed: {getattr(error, 'reason', error)}") from error
    first, total = _content_range(response.headers.get("Content-Range"))
    status = getattr(response, "status", None)
    if (
        status == 206
        and first == partial.offset
        and total is not None
        and partial.total in (None, total)
        and _same_resource(response.headers, partial)
    ):
        return _transfer_from(url, part, meta, partial.offset, response, progress)
    response.close()
    log.info("%s: server did not confirm the same resource at byte %d; starting again", url, partial.offset)
    return _transfer_from(url, part, meta, 0, None, progress)


def _transfer_from(url: str, part: Path, meta: Path, offset: int, response: Any, progress: bool) -> bool:
    """Write the body of `response` (or of a fresh full request) into `part` from `offset`; check its size.

    Returns whether a length header (or chunked encoding, whose end http.client checks) confirmed the size."""
    if response is None:
        try:
            response = _open(url, 0)
        except urllib.error.HTTPError as error:
            raise InputError(f"{url}: download failed: HTTP {error.code} {error.reason}") from error
        except (urllib.error.URLError, OSError) as error:
            raise InputError(f"{url}: download failed: {getattr(error, 'reason', error)}") from error
    with response:
        headers = response.headers
        length = headers.get("Content-Length")
        if offset:
            expected = _content_range(headers.get("Content-Range"))[1]
        else:
            expected = int(length) if length and length.strip().isdigit() else None
            validators = {"etag": headers.get("ETag"), "last_modified": headers.get("Last-Modified")}
            meta.write_text(json.dumps({"url": url, **validators, "total": expected}))
        checkable = expected is not None or getattr(response, "chunked", False)
        received = offset
        bar = tqdm(
            total=expected,
            initial=offset,
            unit="B",
            unit_scale=True,
            desc=Path(urllib.parse.urlparse(url).path).name or url,
            disable=not progress,
        )
        with bar, open(part, "ab" if offset else "wb") as out:
            try:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException) as error:
                raise InputError(
                    f"{url}: download interrupted after {received} bytes ({error}); run again to resume"
                ) from error
    if expected is not None and received > expected:
        part.unlink(missing_ok=True)
        raise InputError(f"{url}: the server sent {received} bytes but declared {expected}; run again")
    if expected is not None and received != expected:
        raise InputError(f"{url}: download incomplete: {received} of {expected} bytes; run again to resume")
    return checkable


def download(url: str, dest: str | os.PathLike[str], md5: str | None = None, *, progress: bool = True) -> Path:
    """Download `url` to `dest`: resumable via `dest.part`, checked (size, HTML page, md5), moved into place.

    A file that fails a check is deleted and never moved into place; an existing `dest` that passes is kept.
    Without an md5, a response whose size no header confirms is refused (a cut-off body would look complete).
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
    part, meta = part_path(dest), meta_path(dest)
    sized = _transfer(url, part, meta, md5, progress)
    try:
        if not sized and md5 is None:
            raise InputError(
                f"{url}: the server gave no length for the file, so a truncated download cannot be told from a "
                "complete one; give its md5 (--md5 / md5:) to accept it"
            )
        if part.stat().st_size == 0:
            raise InputError(f"{url}: the server sent an empty file")
        _check_content(part, url, md5)
    except InputError:
        part.unlink(missing_ok=True)
        meta.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    meta.unlink(missing_ok=True)
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
