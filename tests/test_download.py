import hashlib
import http.server
import json
import threading
from pathlib import Path

import pytest

from plus.cli import main
from plus.data.download import download, fetch_source, md5_from_listing, meta_path, part_path
from plus.errors import InputError

PAYLOAD = bytes(range(256)) * 4000  # about 1 MB, several read chunks
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()
HTML = b"<!DOCTYPE html>\n<html><body>Service unavailable</body></html>\n"


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves `files`; honours Range unless `ignore_range`; `cut_after` bytes ends the next response early."""

    files: dict[str, bytes] = {}
    requests: list[tuple[str, str | None]] = []
    cut_after: int | None = None
    ignore_range = False

    def do_GET(self):
        range_header = self.headers.get("Range")
        type(self).requests.append((self.path, range_header))
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if range_header and not self.ignore_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        chunk = body[start:]
        if type(self).cut_after is not None:
            chunk = chunk[: type(self).cut_after]
            type(self).cut_after = None
            self.close_connection = True
        self.wfile.write(chunk)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.files = {"/Pfam-A.fasta.gz": PAYLOAD, "/error.html": HTML}
    Handler.requests = []
    Handler.cut_after = None
    Handler.ignore_range = False
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_http_download_with_md5(server, tmp_path):
    dest = download(f"{server}/Pfam-A.fasta.gz", tmp_path / "sub" / "Pfam-A.fasta.gz", PAYLOAD_MD5, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert not part_path(dest).exists()
    assert len(Handler.requests) == 1
    download(f"{server}/Pfam-A.fasta.gz", dest, PAYLOAD_MD5, progress=False)
    assert len(Handler.requests) == 1  # already there and verified: no second request


def test_interrupted_download_resumes_with_range(server, tmp_path):
    dest = tmp_path / "Pfam-A.fasta.gz"
    Handler.cut_after = 300_000
    with pytest.raises(InputError, match="run again to resume"):
        download(f"{server}/Pfam-A.fasta.gz", dest, PAYLOAD_MD5, progress=False)
    assert not dest.exists()
    assert part_path(dest).stat().st_size == 300_000
    download(f"{server}/Pfam-A.fasta.gz", dest, PAYLOAD_MD5, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert Handler.requests[-1] == ("/Pfam-A.fasta.gz", "bytes=300000-")


def test_server_without_range_support_restarts(server, tmp_path):
    dest = tmp_path / "f.gz"
    part_path(dest).write_bytes(b"stale bytes from elsewhere")
    Handler.ignore_range = True
    download(f"{server}/Pfam-A.fasta.gz", dest, PAYLOAD_MD5, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_complete_part_file_is_verified_not_refetched(server, tmp_path):
    dest = tmp_path / "f.gz"
    part_path(dest).write_bytes(PAYLOAD)
    download(f"{server}/Pfam-A.fasta.gz", dest, PAYLOAD_MD5, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert Handler.requests == [("/Pfam-A.fasta.gz", f"bytes={len(PAYLOAD)}-")]


def test_wrong_md5_is_never_moved_into_place(server, tmp_path):
    dest = tmp_path / "Pfam-A.fasta.gz"
    url = f"{server}/Pfam-A.fasta.gz"
    with pytest.raises(InputError) as error:
        download(url, dest, "0" * 32, progress=False)
    message = str(error.value)
    assert url in message and "0" * 32 in message and PAYLOAD_MD5 in message
    assert not dest.exists() and not part_path(dest).exists()


def test_html_error_page_is_rejected(server, tmp_path):
    with pytest.raises(InputError, match=r"error\.html: got an HTML page instead of data"):
        download(f"{server}/error.html", tmp_path / "Pfam-A.fasta.gz", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_http_error_is_a_clear_error(server, tmp_path):
    with pytest.raises(InputError, match=r"missing\.gz: download failed: HTTP 404"):
        download(f"{server}/missing.gz", tmp_path / "x.gz", progress=False)


def test_file_url_and_unsupported_scheme(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(PAYLOAD)
    dest = download(source.as_uri(), tmp_path / "copy.bin", PAYLOAD_MD5, progress=False)
    assert dest.read_bytes() == PAYLOAD
    with pytest.raises(InputError, match="unsupported URL scheme 'gopher'"):
        download("gopher://example.org/x", tmp_path / "y", progress=False)


def test_md5_listing_over_http_and_from_path(server, tmp_path):
    listing = f"{'a' * 32}  Pfam-A.hmm.gz\n{PAYLOAD_MD5}  Pfam-A.fasta.gz\n".encode()
    Handler.files["/md5_checksums"] = listing
    assert md5_from_listing(f"{server}/md5_checksums", "Pfam-A.fasta.gz") == PAYLOAD_MD5
    (tmp_path / "md5_checksums").write_bytes(listing)
    assert md5_from_listing(str(tmp_path / "md5_checksums"), "Pfam-A.hmm.gz") == "a" * 32
    with pytest.raises(InputError, match="no md5 for 'Pfam-C.gz'"):
        md5_from_listing(str(tmp_path / "md5_checksums"), "Pfam-C.gz")
    dest = fetch_source(
        {"url": f"{server}/Pfam-A.fasta.gz", "md5_list": f"{server}/md5_checksums"},
        tmp_path / "out.gz",
        progress=False,
    )
    assert dest.read_bytes() == PAYLOAD


def test_local_path_source(tmp_path):
    source = tmp_path / "held" / "Pfam-A.fasta.gz"
    source.parent.mkdir()
    source.write_bytes(PAYLOAD)
    dest = fetch_source({"path": str(source), "md5": PAYLOAD_MD5}, tmp_path / "resources" / "Pfam-A.fasta.gz")
    assert dest.read_bytes() == PAYLOAD
    with pytest.raises(InputError, match=rf"{source}: md5 mismatch: expected {'f' * 32}, got {PAYLOAD_MD5}"):
        fetch_source({"path": str(source), "md5": "f" * 32}, tmp_path / "other.gz")
    assert not (tmp_path / "other.gz").exists()
    (tmp_path / "page.gz").write_bytes(HTML)
    with pytest.raises(InputError, match="page.gz: got an HTML page"):
        fetch_source({"path": str(tmp_path / "page.gz")}, tmp_path / "third.gz")
    with pytest.raises(InputError, match="local source file not found"):
        fetch_source({"path": str(tmp_path / "absent.gz")}, tmp_path / "fourth.gz")
    with pytest.raises(InputError, match="exactly one of 'url' or 'path'"):
        fetch_source({"path": "a", "url": "b"}, tmp_path / "fifth.gz")
    with pytest.raises(InputError, match="unknown key"):
        fetch_source({"path": "a", "sha": "b"}, tmp_path / "fifth.gz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["held", "page.gz", "resources"]


def test_cli(server, tmp_path, capsys):
    out = tmp_path / "Pfam-A.fasta.gz"
    url = f"{server}/Pfam-A.fasta.gz"
    assert main(["download", "--url", url, "--md5", PAYLOAD_MD5, "--out", str(out), "--no-progress"]) == 0
    assert out.read_bytes() == PAYLOAD
    bad = ["download", "--url", url, "--md5", "1" * 32, "--out", str(tmp_path / "b.gz"), "--no-progress"]
    assert main(bad) == 2
    assert "md5 mismatch" in capsys.readouterr().err
    local = ["download", "--path", str(out), "--md5", PAYLOAD_MD5, "--out", str(tmp_path / "c" / "copy.gz")]
    assert main(local) == 0
    assert Path(tmp_path / "c" / "copy.gz").read_bytes() == PAYLOAD


# --- resuming only what the server confirms ------------------------------------------------------------------

VERSION_A = bytes(range(256)) * 2000
VERSION_B = bytes(reversed(range(256))) * 2000 + b"a longer second release"


class ResumeHandler(http.server.BaseHTTPRequestHandler):
    """One resource `/data.bin` whose `versions` change between requests (each with its own ETag).

    `honour_if_range`: answer a Range whose If-Range is stale with the whole new version (200), as RFC 9110 says;
    otherwise answer every Range with 206, whatever If-Range says. `ignore_range`: always 200. `send_length`:
    send Content-Length. `cut_after`: end the next body after that many bytes. `stale_416`: answer every Range
    with 416 and the current total.
    """

    versions: list[bytes] = []
    requests: list[dict] = []
    honour_if_range = True
    ignore_range = False
    send_length = True
    cut_after: int | None = None

    def do_GET(self):
        cls = type(self)
        body = cls.versions[min(len(cls.requests), len(cls.versions) - 1)]
        etag = f'"{hashlib.md5(body).hexdigest()[:12]}"'
        cls.requests.append({"range": self.headers.get("Range"), "if_range": self.headers.get("If-Range")})
        start = 0
        range_header = self.headers.get("Range")
        use_range = range_header and not cls.ignore_range
        if use_range and cls.honour_if_range and self.headers.get("If-Range") not in (None, etag):
            use_range = False
        if use_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("ETag", etag)
        if cls.send_length:
            self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        chunk = body[start:]
        if cls.cut_after is not None:
            chunk, cls.cut_after = chunk[: cls.cut_after], None
            self.close_connection = True
        self.wfile.write(chunk)
        self.close_connection = self.close_connection or not cls.send_length

    def log_message(self, *args):
        pass


@pytest.fixture
def resume_server():
    ResumeHandler.versions = [VERSION_A]
    ResumeHandler.requests = []
    ResumeHandler.honour_if_range = True
    ResumeHandler.ignore_range = False
    ResumeHandler.send_length = True
    ResumeHandler.cut_after = None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ResumeHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/data.bin"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def interrupted(url: str, dest: Path, after: int) -> None:
    ResumeHandler.cut_after = after
    with pytest.raises(InputError, match="run again to resume"):
        download(url, dest, progress=False)
    assert part_path(dest).stat().st_size == after


@pytest.mark.parametrize("honour_if_range", [True, False])
def test_resource_that_changes_between_attempts_is_never_spliced(resume_server, tmp_path, honour_if_range):
    dest = tmp_path / "data.bin"
    ResumeHandler.versions = [VERSION_A, VERSION_B]
    ResumeHandler.honour_if_range = honour_if_range
    interrupted(resume_server, dest, 100_000)
    download(resume_server, dest, progress=False)  # no md5: only the validators protect this run
    assert dest.read_bytes() == VERSION_B
    etag_a = f'"{hashlib.md5(VERSION_A).hexdigest()[:12]}"'
    assert ResumeHandler.requests[1] == {"range": "bytes=100000-", "if_range": etag_a}
    assert not part_path(dest).exists() and not meta_path(dest).exists()


def test_unchanged_resource_resumes_with_if_range(resume_server, tmp_path):
    dest = tmp_path / "data.bin"
    interrupted(resume_server, dest, 123_456)
    assert json.loads(meta_path(dest).read_text())["total"] == len(VERSION_A)
    download(resume_server, dest, progress=False)
    assert dest.read_bytes() == VERSION_A
    assert [r["range"] for r in ResumeHandler.requests] == [None, "bytes=123456-"]


def test_server_ignoring_range_restarts_from_zero(resume_server, tmp_path):
    dest = tmp_path / "data.bin"
    interrupted(resume_server, dest, 50_000)
    ResumeHandler.ignore_range = True
    download(resume_server, dest, progress=False)
    assert dest.read_bytes() == VERSION_A


def test_416_with_a_stale_oversized_partial_restarts(resume_server, tmp_path):
    dest = tmp_path / "data.bin"
    part_path(dest).write_bytes(VERSION_B + b"stale tail")  # longer than the resource now is
    download(resume_server, dest, hashlib.md5(VERSION_A).hexdigest(), progress=False)
    assert dest.read_bytes() == VERSION_A
    assert [r["range"] for r in ResumeHandler.requests] == [f"bytes={len(VERSION_B) + 10}-", None]


def test_body_cut_short_without_a_length_header_is_refused_without_md5(resume_server, tmp_path):
    dest = tmp_path / "data.bin"
    ResumeHandler.send_length = False
    ResumeHandler.cut_after = 70_000
    with pytest.raises(InputError, match="gave no length for the file.*give its md5"):
        download(resume_server, dest, progress=False)
    assert not dest.exists() and not part_path(dest).exists()
    ResumeHandler.cut_after = 70_000
    with pytest.raises(InputError, match="md5 mismatch"):
        download(resume_server, dest, hashlib.md5(VERSION_A).hexdigest(), progress=False)
    download(resume_server, dest, hashlib.md5(VERSION_A).hexdigest(), progress=False)
    assert dest.read_bytes() == VERSION_A


def test_empty_body_is_an_error(resume_server, tmp_path, capsys):
    ResumeHandler.versions = [b""]
    dest = tmp_path / "data.bin"
    assert main(["download", "--url", resume_server, "--out", str(dest), "--no-progress"]) == 2
    assert "the server sent an empty file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []
