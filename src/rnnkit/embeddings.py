"""Pretrained word vectors: read GloVe / word2vec files, align them to a vocabulary, neighbours.

    vectors = load_vectors("glove.6B.50d.txt.gz", vocab=vocab.tokens)   # keeps only these words
    matrix, coverage = build_embedding_matrix(vectors, vocab.tokens, pad_id=0, seed=0)
    print(coverage.summary())               # embeddings: 9,512 of 9,999 tokens found (95.1%) ...
    layer = embedding_layer(matrix, freeze=False, padding_idx=0)
    vectors.most_similar("rome", top=3)     # [("naples", 0.79), ("venice", 0.76), ("italy", 0.75)]

Formats: GloVe text (``word v1 ... vD`` per line), word2vec text (a first line ``N D``, then as
GloVe; fastText ``.vec`` too) and word2vec binary (``N D\\n``, then per word ``word `` + D
little-endian float32 + an optional ``\\n``). ``.gz`` is decompressed on the fly. Files are
streamed: with ``vocab`` only the kept rows are ever held, 4096 lines of text at a time.
In text files single spaces separate the word and the numbers, as GloVe, word2vec and
fastText write them and gensim and torchtext read them (a word may hold other whitespace,
e.g. the non-breaking spaces of GloVe 840B); a line of tab-separated values, or a word
without numbers, is a DataError naming the file and line. A word2vec header ``N D`` must
agree with the vectors that follow, and a word listed twice is refused (see
:func:`load_vectors`).
"""

from __future__ import annotations

import difflib
import gzip
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from rnnkit.data.readers import file_errors, gzipped, open_text
from rnnkit.errors import ArgumentTypeError, DataError, invalid
from rnnkit.validation import (
    check_choice,
    check_input_file,
    check_int,
    check_seed,
    check_strings,
    is_integer,
)

if TYPE_CHECKING:
    import torch

VECTOR_FORMATS = ("glove", "word2vec", "word2vec-binary")
logger = logging.getLogger("rnnkit.embeddings")
DUPLICATES = ("error", "first")  # what load_vectors does with a word the file lists twice
_CHUNK = 4096  # text lines parsed into floats at once (bounds the memory of strings held)


@dataclass(eq=False)
class WordVectors:
    """Words and their vectors: ``vectors[index[w]]`` is the vector of ``w``.

    vectors: (N, D) float32, row i belongs to ``words[i]``. Words are distinct strings and
    the vectors finite numbers (InvalidArgumentError otherwise; a bare str is not a word list).
    """

    words: list[str]
    vectors: np.ndarray
    index: dict[str, int] = field(init=False, repr=False)
    _unit: np.ndarray | None = field(default=None, init=False, repr=False)  # rows / their norm

    def __post_init__(self) -> None:
        if isinstance(self.words, str) or not all(isinstance(w, str) for w in self.words):
            raise invalid("words", self.words, "a list of str words", ArgumentTypeError)
        self.words = list(self.words)
        self.vectors = _float32_matrix(self.vectors, "vectors")
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.words):
            raise invalid("vectors", self.vectors.shape, f"shape ({len(self.words)}, D)")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):  # the index would keep the last row of a word
            twice = next(w for w, n in Counter(self.words).items() if n > 1)
            raise invalid("words", twice, "each word once (this one has two rows)")

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and (word in self.index or word.lower() in self.index)

    def row(self, word: str) -> int:
        """Row of ``word`` (exact, else lowercase); an unknown word is an InvalidArgumentError
        (an ArgumentTypeError when it is not a str)."""
        if not isinstance(word, str):
            raise invalid("word", word, "a str", ArgumentTypeError)
        found = self.index.get(word, self.index.get(word.lower()))
        if found is None:
            close = difflib.get_close_matches(word, self.words, n=5)
            hint = f"; close: {', '.join(close)}" if close else ""
            raise invalid("word", word, f"a word of the vectors ({len(self)} words){hint}")
        return found

    def __getitem__(self, word: str) -> np.ndarray:
        """The vector of ``word``: (D,) float32."""
        return self.vectors[self.row(word)]

    def similarity(self, word1: str, word2: str) -> float:
        """Cosine similarity of two words' vectors, in [-1, 1]."""
        return cosine_similarity(self[word1], self[word2])

    def most_similar(self, word: str, top: int = 10) -> list[tuple[str, float]]:
        """The ``top`` words nearest to ``word`` by cosine, best first, ``word`` itself excluded.

        One matmul against the unit-normalised matrix: (N, D) @ (D,) -> (N,) cosines.
        """
        top = check_int("top", top, 1)
        i = self.row(word)
        if self._unit is None:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)  # (N, 1)
            self._unit = self.vectors / np.maximum(norms, 1e-12)
        cos = self._unit @ self._unit[i]  # (N,)
        cos[i] = -np.inf
        top = min(top, len(self) - 1)
        best = np.argpartition(-cos, top - 1)[:top] if top else np.array([], dtype=int)
        best = best[np.lexsort((best, -cos[best]))]  # by cosine, ties by row
        return [(self.words[j], float(cos[j])) for j in best]


def _float32_matrix(values: object, name: str) -> np.ndarray:
    """``values`` as a contiguous float32 array of finite numbers; else InvalidArgumentError."""
    try:
        with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf
            array = np.ascontiguousarray(values, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise invalid(name, type(values).__name__, f"an array of numbers ({exc})") from None
    if not np.isfinite(array).all():
        raise invalid(name, "an array holding NaN or infinity", "finite float32 numbers")
    return array


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """cos(a, b) = a·b / (|a| |b|) for two (D,) vectors of finite numbers; 0.0 when either is
    all zeros."""
    a, b = _vector("a", a), _vector("b", b)
    for name, vector in (("a", a), ("b", b)):
        if not np.isfinite(vector).all():
            raise invalid(name, "a vector holding NaN or infinity", "finite numbers")
    if a.ndim != 1:
        raise invalid("a", a.shape, "a 1-D vector (D,)")
    if b.shape != a.shape:
        raise invalid("b", b.shape, f"the shape of a, {a.shape}")
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm > 0 else 0.0


def _vector(name: str, given: object) -> np.ndarray:
    """``given`` as float64 numbers; None (numpy would read it as nan), a str or ragged lists
    are an ArgumentTypeError naming ``name``."""
    try:
        if given is None:
            raise TypeError
        return np.asarray(given, dtype=np.float64)
    except (TypeError, ValueError):
        raise invalid(name, given, "a vector of numbers (D,)", ArgumentTypeError) from None


def load_vectors(
    path: str | Path,
    format: str | None = None,
    vocab: Iterable[str] | None = None,
    limit: int | None = None,
    lowercase: bool = False,
    duplicates: str = "error",
) -> WordVectors:
    """Read word vectors from a GloVe, word2vec text or word2vec binary file (``.gz`` too).

    format: one of VECTOR_FORMATS; None infers it: ``.bin`` -> "word2vec-binary", a first line
        of two integers ``N D`` -> "word2vec", else "glove".
    vocab: keep only these words (a file word is kept when it equals a vocab word or a vocab
        word's lowercase form, matching ``build_embedding_matrix``'s lookup).
    limit: read only the first ``limit`` vectors of the file (the most frequent, by convention).
    lowercase: lowercase the file's words; of words that then collide the first one is kept.
    duplicates: what to do with a word the file lists twice (among the words kept): "error"
        (the default) raises a DataError naming the word and both lines, since which of its
        two vectors is meant cannot be known; "first" keeps the first, as gensim does (it logs
        a warning). Some published files hold such words (a few junk strings in GloVe
        840B), which ``vocab`` or ``limit`` usually leave out.
    Returns WordVectors with vectors: (N, D) float32 in file order.

    A word2vec header ``N D`` must agree with the file: a text file of more or fewer than N
    vector lines, or a binary file with bytes after its N vectors, is a DataError naming the
    file, the header's count and what was read (unless ``limit`` stops the read first).
    """
    check_int("limit", limit, 1, optional=True)
    check_choice("duplicates", duplicates, DUPLICATES)
    path = check_input_file("vectors", path, f"a word-vectors file {VECTOR_FORMATS}")
    if vocab is not None:
        vocab = check_strings("vocab", vocab, "an iterable of str words (a list, a set, a "
                              "Vocabulary)", "a str word")  # fmt: skip
    keep = None if vocab is None else {w for v in vocab for w in (v, v.lower())}
    if format is None:
        format = _infer_format(path)
    if format not in VECTOR_FORMATS:
        raise invalid("format", format, f"one of {VECTOR_FORMATS} or None")
    seen: set[str] = set()
    first: dict[str, int] = {}  # a kept file word -> its line (text) or vector number (binary)
    unit = "vector" if format == "word2vec-binary" else "line"

    def take(word: str, where: int) -> str | None:
        """The name to keep a file word's vector under, or None to skip (and not parse) it;
        ``where`` is its line (text) or vector number (binary), for messages."""
        name = word.lower() if lowercase else word
        if keep is not None and name not in keep:
            return None
        if word in first:
            place = f"{path}:{where}" if unit == "line" else f"{path}: vector {where}"
            if duplicates == "error":
                raise DataError(f"{place}: word {word!r} again (first at {unit} {first[word]}); "
                                "expected each word once (duplicates='first' keeps the first)")  # fmt: skip
            logger.warning("%s: word %r again (first at %s %d); the first is kept", place,
                           word, unit, first[word])  # fmt: skip
            return None
        first[word] = where
        if name in seen:  # words equal once lowercased: the first is kept
            return None
        seen.add(name)
        return name

    words: list[str] = []
    blocks: list[np.ndarray] = []
    reader = _read_binary if format == "word2vec-binary" else _read_text
    with file_errors(path):
        for chunk_words, block in reader(path, format == "word2vec", limit, take):
            words += chunk_words
            blocks.append(block)
    vectors = np.concatenate(blocks)
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))  # word2vec binary: no line numbers
    if bad.size:
        raise DataError(f"{path}: the vector of {words[bad[0]]!r} holds NaN or infinity; "
                        "expected finite numbers")  # fmt: skip
    return WordVectors(words, vectors)


def _infer_format(path: Path) -> str:
    if path.name.endswith((".bin", ".bin.gz")):
        return "word2vec-binary"
    with file_errors(path), open_text(path) as f:
        first = f.readline().split()
    return "word2vec" if len(first) == 2 and all(x.isdigit() for x in first) else "glove"


# A reader yields (kept words, (n, D) float32 block) per chunk of at most _CHUNK kept vectors,
# at least one chunk (an empty file is a DataError); it stops after ``limit`` vectors of the file
# and keeps those for which ``take(word, line or vector number)`` gives a name.
_Chunks = Iterator[tuple[list[str], np.ndarray]]
_Take = Callable[[str, int], "str | None"]


def _read_text(path: Path, has_header: bool, limit: int | None, take: _Take) -> _Chunks:
    """GloVe / word2vec text; the kept lines' numbers are parsed _CHUNK lines at a time."""
    with open_text(path) as f:
        lineno, dim, origin = 0, 0, ""
        if has_header:
            header = f.readline().split()
            lineno = 1
            if len(header) != 2 or not all(x.isdigit() for x in header):
                raise DataError(f"{path}:1: header {' '.join(header)!r}; expected 'N D' (2 ints)")
            dim, origin = int(header[1]), "the header on line 1"
            if not dim:
                raise DataError(
                    f"{path}:1: header {' '.join(header)!r}; expected 'N D' with D >= 1"
                )
        words: list[str] = []
        values: list[str] = []  # the kept lines' numbers, D per line
        lines: list[int] = []  # the kept lines' numbers in the file, for messages
        total = 0
        for line in f:
            lineno += 1
            parts = line.rstrip().split(" ")
            if parts == [""]:
                continue  # a blank line
            if len(parts) == 1:
                raise _no_numbers(path, lineno, line)
            if not dim:
                dim, origin = len(parts) - 1, f"line {lineno}"
            if len(parts) - 1 != dim:
                raise DataError(
                    f"{path}:{lineno}: {len(parts) - 1} values after the word; expected {dim}"
                    f" like {origin} (one 'word v1 ... v{dim}' per line)"
                )
            total += 1
            word = take(parts[0], lineno)
            if word is not None:
                words.append(word)
                values += parts[1:]
                lines.append(lineno)
                if len(words) == _CHUNK:
                    yield words, _floats(path, lines, values, dim)
                    words, values, lines = [], [], []
            if total == limit:
                break
        if total == 0:
            raise DataError(f"{path}: no vectors; expected lines 'word v1 ... vD'")
        if has_header and total != int(header[0]) and total != limit:
            raise DataError(
                f"{path}:1: header {' '.join(header)!r} announces N={int(header[0]):,} vectors; "
                f"the file has {total:,} vector lines; expected N lines"
            )
        yield words, _floats(path, lines, values, dim)


def _no_numbers(path: Path, lineno: int, line: str) -> DataError:
    """The error for a line with a word and no numbers after it (no space separates them)."""
    shown = line.rstrip("\r\n")
    shown = repr(shown if len(shown) <= 60 else shown[:57] + "...")
    tabs = " (it is separated by tabs; word-vector files use single spaces)" if "\t" in line else ""
    return DataError(
        f"{path}:{lineno}: line {shown} has no numbers after the word{tabs}; expected "
        "'word v1 ... vD', the word and D numbers separated by single spaces"
    )


def _floats(path: Path, lines: list[int], values: list[str], dim: int) -> np.ndarray:
    """values (n * D strings) -> (n, D) float32; a bad number is a DataError naming its line."""
    try:
        with np.errstate(over="ignore"):  # 1e39 becomes inf, refused below
            block = np.array(values, dtype=np.float32).reshape(-1, dim)
    except ValueError:
        for k, line in enumerate(lines):
            try:
                np.array(values[k * dim : (k + 1) * dim], dtype=np.float32)
            except ValueError as e:
                raise DataError(f"{path}:{line}: {e}; expected numbers") from None
        raise
    bad = np.flatnonzero(~np.isfinite(block).all(axis=1))
    if bad.size:
        shown = " ".join(values[bad[0] * dim : (bad[0] + 1) * dim][:8])
        raise DataError(
            f"{path}:{lines[bad[0]]}: values {shown!r} include NaN or infinity (or overflow "
            "float32); expected finite numbers"
        )
    return block


def _read_binary(path: Path, _: bool, limit: int | None, take: _Take) -> _Chunks:
    """word2vec binary: header line ``N D``, then per word ``word `` + D float32 (+ ``\\n``)."""
    with gzip.open(path, "rb") if gzipped(path) else open(path, "rb") as f:
        header = f.readline().split()
        if len(header) != 2 or not all(x.isdigit() for x in header) or 0 in map(int, header):
            raise DataError(
                f"{path}:1: header {header!r}; expected b'N D' (N, D >= 1) then vectors"
            )
        announced, dim = int(header[0]), int(header[1])
        count = announced if limit is None else min(announced, limit)
        buffer, pos = b"", 0
        words: list[str] = []
        raw: list[bytes] = []
        for done in range(count):
            buffer, pos, file_word, vector = _next_binary(f, path, buffer, pos, 4 * dim, done)
            word = take(file_word, done + 1)
            if word is not None:
                words.append(word)
                raw.append(vector)
            if len(words) == _CHUNK or done == count - 1:
                yield words, np.frombuffer(b"".join(raw), dtype="<f4").reshape(-1, dim)
                words, raw = [], []
        if (limit is None or limit > announced) and (buffer[pos:] + f.read(64)).strip():
            raise DataError(
                f"{path}:1: header {b' '.join(header).decode()!r} announces N={count:,} vectors;"
                " the file goes on after vector N; expected N vectors"
            )


def _next_binary(
    f: BinaryIO, path: Path, buffer: bytes, pos: int, size: int, done: int
) -> tuple[bytes, int, str, bytes]:
    """One (word, ``size`` vector bytes) record at ``buffer[pos:]``, reading more as needed."""
    while True:
        space = buffer.find(b" ", pos)
        if space >= 0 and len(buffer) - space - 1 >= size:
            break
        more = f.read(1 << 20)
        if not more:
            raise DataError(f"{path}: ends inside vector {done + 1}; expected the header's count")
        buffer, pos = buffer[pos:] + more, 0
    raw_word = buffer[pos:space].lstrip(b"\n")
    try:
        word = raw_word.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: vector {done + 1}: word {raw_word!r} is not UTF-8") from None
    return buffer, space + 1 + size, word, buffer[space + 1 : space + 1 + size]


@dataclass
class Coverage:
    """How many vocabulary tokens got a pretrained vector (the padding token not counted)."""

    found: int  # tokens with a vector (exact or lowercase match)
    missing: int  # tokens initialised at random
    lowercased: int  # of ``found``, those matched only through their lowercase form
    missing_examples: list[str]  # the first 10 missing tokens in id order (the most frequent)

    @property
    def fraction(self) -> float:
        return self.found / max(self.found + self.missing, 1)

    def summary(self) -> str:
        total = self.found + self.missing
        head = f"embeddings: {self.found:,} of {total:,} tokens found ({self.fraction:.1%}"
        missing = f"; {self.missing:,} missing, e.g. {' '.join(self.missing_examples)}"
        return head + f", {self.lowercased:,} via lowercase)" + (missing if self.missing else "")


def build_embedding_matrix(
    vectors: WordVectors,
    tokens: list[str],
    pad_id: int | None = 0,
    seed: int = 0,
    init: str = "normal_matched",
    unk_id: int | None = None,
) -> tuple[np.ndarray, Coverage]:
    """The (V, D) float32 matrix whose row i is the vector of ``tokens[i]`` (id -> token).

    Lookup: exact, then lowercase. Rows of missing tokens: init "normal_matched" draws from a
    normal with the per-dimension mean and std of the found rows (``np.random.default_rng(seed)``),
    "zeros" leaves them zero. Row ``pad_id`` (None: no padding row) is zeros and is not counted.
    Row ``unk_id`` (the unknown-word token, when it has no vector) is the found rows' mean under
    "normal_matched": a word a model never saw in training reads as the average word, not as a
    random one (a random <unk> that training never updates tilts every prediction with unseen
    words one way, by up to 8 points on MPQA depending on the seed).
    """
    if init not in ("normal_matched", "zeros"):
        raise invalid("init", init, "'normal_matched' or 'zeros'")
    if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
        raise invalid("tokens", tokens, "a list of str tokens in id order", ArgumentTypeError)
    check_seed("seed", seed)
    for name, index in (("pad_id", pad_id), ("unk_id", unk_id)):
        check_int(name, index, optional=True)
    if pad_id is not None and not 0 <= pad_id < len(tokens):
        raise invalid("pad_id", pad_id, f"None or a token id 0..{len(tokens) - 1}")
    if unk_id is not None and unk_id == pad_id:
        raise invalid("unk_id", unk_id, f"another id than pad_id={pad_id} (or None)")
    matrix = np.zeros((len(tokens), vectors.dim), dtype=np.float32)  # (V, D)
    found_ids: list[int] = []
    missing_ids: list[int] = []
    lowercased = 0
    for i, token in enumerate(tokens):
        if i == pad_id:
            continue
        row = vectors.index.get(token)
        if row is None:
            row = vectors.index.get(token.lower())
            lowercased += row is not None
        if row is None:
            missing_ids.append(i)
        else:
            matrix[i] = vectors.vectors[row]
            found_ids.append(i)
    if not found_ids:
        raise DataError(
            f"no token of the vocabulary ({len(tokens)} tokens, e.g. {tokens[:5]}) has a vector;"
            " expected vectors for the same language and casing (see lowercase=)"
        )
    if init == "normal_matched" and missing_ids:
        found = matrix[found_ids]  # (F, D)
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal((len(missing_ids), vectors.dim))  # (M, D)
        matrix[missing_ids] = found.mean(axis=0) + noise * found.std(axis=0)
        if unk_id in missing_ids:
            matrix[unk_id] = found.mean(axis=0)
    coverage = Coverage(
        len(found_ids), len(missing_ids), lowercased, [tokens[i] for i in missing_ids[:10]]
    )
    return matrix, coverage


def embedding_layer(
    matrix: np.ndarray, freeze: bool = True, padding_idx: int | None = 0
) -> torch.nn.Embedding:
    """An ``nn.Embedding`` initialised from ``matrix`` (V, D) of finite numbers; ``freeze``
    keeps it fixed; ``padding_idx`` (None: no padding row) is a row of it."""
    import torch  # here, so that reading vectors (``rnnkit similar``) does not load torch

    weight = _float32_matrix(matrix, "matrix")
    if weight.ndim != 2:
        raise invalid("matrix", weight.shape, "a 2-D array (V, D)")
    rows = len(weight)
    if padding_idx is not None and not (is_integer(padding_idx) and -rows <= padding_idx < rows):
        raise invalid("padding_idx", padding_idx, f"None or a row {-rows}..{rows - 1}, as torch")
    if not isinstance(freeze, bool):
        raise invalid("freeze", freeze, "True or False")
    return torch.nn.Embedding.from_pretrained(
        torch.from_numpy(weight), freeze=freeze, padding_idx=padding_idx
    )
