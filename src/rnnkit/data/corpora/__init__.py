"""Bundled public-domain corpora, and reading a text corpus from a file.

Two texts ship with the package (see README.md in this folder for sources and SHA-256):

- ``nietzsche``: *Beyond Good and Evil* (H. Zimmern translation), 600,893 characters;
- ``shakespeare``: karpathy/char-rnn's tiny Shakespeare, 1,115,394 characters.

Usage::

    from rnnkit.data.corpora import load_corpus
    text = load_corpus("nietzsche")          # a bundled corpus
    text = load_corpus("my_novel.txt.gz")    # any UTF-8 text file, plain or gzip

A bundled name wins over a file of the same name in the working directory; write
``./nietzsche`` to read such a file. The text is returned verbatim (no newline or case
normalisation); only a leading UTF-8 byte-order mark is dropped. How long a corpus must be is
the caller's rule (e.g. the language-model trainer's ``min_chars``).
"""

from __future__ import annotations

import gzip
import zlib
from importlib import resources
from pathlib import Path

from rnnkit.errors import DataError
from rnnkit.validation import check_input_file

__all__ = ["BUNDLED", "load_corpus"]

BUNDLED: tuple[str, ...] = ("nietzsche", "shakespeare")

_GZIP_MAGIC = b"\x1f\x8b"


def load_corpus(name_or_path: str | Path, arg: str = "corpus") -> str:
    """Return the text of a bundled corpus (a name in ``BUNDLED``) or of a text file.

    A file may be plain or gzip-compressed (recognised by its magic bytes, whatever its
    extension) and must be UTF-8 text.

    ``arg`` names the argument in messages (``corpus``, ``val_corpus``, ``data``).

    Raises:
        DataError: the path is empty, the file is missing, under a file, a directory or no
            regular file, is not valid gzip, holds NUL bytes
            (binary), is not UTF-8, or holds only whitespace. The message names the file.
    """
    name = str(name_or_path)
    if name in BUNDLED:
        raw = (resources.files(__name__) / f"{name}.txt.gz").read_bytes()
        return _decode(gzip.decompress(raw), f"bundled corpus {name!r}")

    expected = f"a UTF-8 text file (plain or .gz) or a bundled corpus name: {', '.join(BUNDLED)}"
    path = check_input_file(arg, name, expected)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{arg} {name!r}: cannot be read ({exc.strerror}); expected {expected}") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(
                f"corpus file {str(path)!r}: corrupt gzip data ({exc}); "
                "expected a complete gzip-compressed UTF-8 text file"
            ) from exc
    return _decode(raw, f"corpus file {str(path)!r}")


def _decode(raw: bytes, where: str) -> str:
    """Decode UTF-8 ``raw`` into text, refusing binary data and empty text."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(
            f"{where}: NUL byte at offset {nul} (binary data); expected a UTF-8 text file"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{where}: not UTF-8 (byte {raw[exc.start]:#04x} at offset {exc.start}); "
            "expected a UTF-8 text file (re-encode it, e.g. with iconv -t UTF-8)"
        ) from exc
    if not text.strip():
        raise DataError(f"{where}: empty or whitespace-only ({len(raw)} bytes); expected some text")
    return text
