import gzip
import io
from pathlib import Path

import pytest
from Bio import SeqIO

import plus.data.fasta as fasta_module
from plus.data.fasta import FastaRecord, looks_like_html, read_fasta
from plus.errors import InputError


@pytest.fixture(scope="module")
def pfam_seeds(realdata: Path) -> Path:
    return realdata / "pfam_seed" / "derived_Pfam-A_fasta_format_from_seeds.fasta"


def test_real_pfam_file_matches_biopython(pfam_seeds: Path):
    records = list(read_fasta(pfam_seeds))
    expected = list(SeqIO.parse(pfam_seeds, "fasta"))
    assert len(records) == len(expected) == 283
    for ours, theirs in zip(records, expected, strict=True):
        assert ours.header == theirs.description
        assert ours.sequence == str(theirs.seq)
    lines = pfam_seeds.read_text().splitlines()
    assert all(lines[record.line - 1] == ">" + record.header for record in records)


@pytest.mark.parametrize("block", [1, 7, 100, 4096])
def test_block_boundaries_do_not_matter(pfam_seeds: Path, monkeypatch, block):
    monkeypatch.setattr(fasta_module, "BLOCK_CHARS", block)
    expected = [(r.description, str(r.seq)) for r in SeqIO.parse(pfam_seeds, "fasta")]
    assert [(r.header, r.sequence) for r in read_fasta(pfam_seeds)] == expected
    text = "\n\n>a\nAC\n\nDE \n>b\n>c x\nK"
    assert list(read_fasta(io.StringIO(text))) == [
        FastaRecord("a", "ACDE", 3),
        FastaRecord("b", "", 7),
        FastaRecord("c x", "K", 8),
    ]


def test_gzip_detected_by_content_and_line_numbers(tmp_path):
    path = tmp_path / "no_suffix"
    path.write_bytes(gzip.compress(b">a first\nAC\nDE\n\n>b\r\nFG\r\n>empty\n"))
    assert list(read_fasta(path)) == [
        FastaRecord("a first", "ACDE", 1),
        FastaRecord("b", "FG", 5),
        FastaRecord("empty", "", 7),
    ]


def test_text_stream_uses_given_name():
    stream = io.StringIO("ACGT\n>x\nAA\n")
    with pytest.raises(InputError, match=r"^mine\.fa: line 1: sequence data before the first '>' header"):
        list(read_fasta(stream, name="mine.fa"))


def test_sequence_before_first_header_names_file_and_line(tmp_path):
    path = tmp_path / "bad.fa"
    path.write_text("\n\nMKV\n>a\nAA\n")
    with pytest.raises(InputError, match=rf"{path}: line 3: sequence data before"):
        list(read_fasta(path))


def test_truncated_gzip_is_a_clear_error(pfam_seeds: Path, tmp_path):
    data = gzip.compress(pfam_seeds.read_bytes())
    path = tmp_path / "cut.fasta.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=rf"{path}: truncated compressed file"):
        list(read_fasta(path))


def test_corrupt_gzip_is_a_clear_error(pfam_seeds: Path, tmp_path):
    path = tmp_path / "corrupt.fasta.gz"
    data = bytearray(gzip.compress(pfam_seeds.read_bytes()))
    data[100:140] = b"\x00" * 40
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=rf"{path}: corrupt compressed file"):
        list(read_fasta(path))


@pytest.mark.parametrize("page", ["<!DOCTYPE html>\n<html><body>404</body></html>\n", "  <HTML>\n<p>error\n"])
def test_html_page_instead_of_fasta(tmp_path, page):
    path = tmp_path / "Pfam-A.fasta"
    path.write_text(page)
    with pytest.raises(InputError, match=rf"{path}: line \d: an HTML page"):
        list(read_fasta(path))
    assert looks_like_html(page.encode())


def test_binary_file_is_a_clear_error(tmp_path):
    path = tmp_path / "binary.fa"
    path.write_bytes(b">a\nAC\n\xff\xfe\x00\x80\n")
    with pytest.raises(InputError, match=rf"{path}: line 3: not a UTF-8 text file"):
        list(read_fasta(path))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        list(read_fasta(tmp_path / "absent.fa"))
