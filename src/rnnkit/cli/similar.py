"""``rnnkit similar VECTORS WORD``: nearest words by cosine; ``VECTORS WORD1 WORD2``: their cosine.

Usage::

    rnnkit similar glove.6B.50d.txt.gz rome --top 5     # naples, venice, italy, ...
    rnnkit similar glove.6B.50d.txt.gz like dislike     # cosine(like, dislike)
"""

from __future__ import annotations

import argparse

from rnnkit.cli.options import flag
from rnnkit.embeddings import VECTOR_FORMATS, load_vectors
from rnnkit.errors import invalid
from rnnkit.validation import check_int


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "similar",
        help="nearest words, or the cosine of two words, in a word-vectors file",
        description="With one WORD print its nearest words by cosine similarity; with two, "
        "print their cosine similarity.",
    )
    parser.add_argument(
        "vectors", metavar="VECTORS", help="GloVe or word2vec file (text or binary, .gz too)"
    )
    parser.add_argument("words", nargs="+", metavar="WORD", help="one word, or two to compare")
    flag(parser, "--top", "neighbours to print for one word", 10, type=int)
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="read only the first N vectors, the most frequent words (default: all)",
    )
    parser.add_argument(
        "--format",
        choices=VECTOR_FORMATS,
        default=None,
        help="vectors format (default: inferred from the name and first line)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if len(args.words) > 2:
        raise invalid("WORD", args.words, "one word (neighbours) or two words (their cosine)")
    check_int("top", args.top, 1)
    check_int("limit", args.limit, 1, optional=True)
    if len(args.words) == 2:
        first, second = args.words
        vectors = load_vectors(args.vectors, args.format, vocab=args.words, limit=args.limit)
        for word in args.words:
            if word not in vectors:
                raise invalid("WORD", word, f"a word of {args.vectors}")
        print(f"cosine({first}, {second}) = {vectors.similarity(first, second):.4f}")
        return 0
    vectors = load_vectors(args.vectors, args.format, limit=args.limit)
    word = args.words[0]
    neighbours = vectors.most_similar(word, top=args.top)
    width = max(len(w) for w, _ in neighbours) if neighbours else 0
    print(f"nearest to {word!r} of {len(vectors):,} words (cosine):")
    for other, cosine in neighbours:
        print(f"  {other:<{width}}  {cosine:.4f}")
    return 0
