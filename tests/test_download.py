import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from plus.cli import main
from plus.data.download import download, fetch_source, md5_from_listing, part_path
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
