"""Tests for rnnkit.data.corpora: bundled texts and plain/gzip corpus files."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from rnnkit.data.corpora import BUNDLED, load_corpus
from rnnkit.errors import DataError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EXPECTED = {  # SHA-256 of the uncompressed text, as in corpora/README.md
    "nietzsche": ("23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647", 600_893),
    "shakespeare": ("86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", 1_115_394),
}


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_corpus_is_verbatim(name: str) -> None:
    text = load_corpus(name)
    sha, chars = EXPECTED[name]
    assert len(text) == chars
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == sha


def test_bundled_matches_shared_copy() -> None:
    original = SHARED / "tinyshakespeare" / "input.txt"
    if not original.exists():
        pytest.skip("shared data folder not present")
    assert load_corpus("shakespeare") == original.read_text(encoding="utf-8")


def test_plain_and_gzip_files(tmp_path: Path) -> None:
    text = "Über alles\nsecond line\r\n"
    plain = tmp_path / "c.txt"
    plain.write_bytes(text.encode("utf-8"))
    packed = tmp_path / "c.txt.gz"
    packed.write_bytes(gzip.compress(text.encode("utf-8")))
    odd_name = tmp_path / "no_extension"  # gzip is recognised by content, not by name
    odd_name.write_bytes(gzip.compress(text.encode("utf-8")))
    assert load_corpus(str(plain)) == text
    assert load_corpus(packed) == text
    assert load_corpus(str(odd_name)) == text
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert load_corpus(bom) == text


def test_missing_file_names_it_and_lists_bundled(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(DataError, match=r"nope\.txt.*does not exist.*nietzsche, shakespeare"):
        load_corpus(str(missing))
    with pytest.raises(DataError, match="is a directory"):
        load_corpus(tmp_path)


def test_binary_file_is_refused(tmp_path: Path) -> None:
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"abc\x00\x01\x02" * 10)
    with pytest.raises(DataError, match=r"model\.bin.*NUL byte at offset 3"):
        load_corpus(binary)
    packed = tmp_path / "model.bin.gz"
    packed.write_bytes(gzip.compress(b"\x00" * 10))
    with pytest.raises(DataError, match=r"model\.bin\.gz.*binary"):
        load_corpus(packed)


def test_non_utf8_and_corrupt_gzip(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("café au lait".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.txt.*not UTF-8.*0xe9 at offset 3"):
        load_corpus(latin)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"hello world" * 100)[:20])
    with pytest.raises(DataError, match=r"broken\.gz.*corrupt gzip"):
        load_corpus(broken)


@pytest.mark.parametrize("content", [b"", b"  \n\t\r\n "])
def test_empty_or_whitespace_file_is_refused(tmp_path: Path, content: bytes) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(content)
    with pytest.raises(DataError, match=r"empty\.txt.*empty or whitespace-only"):
        load_corpus(empty)
