"""Build the word vectors bundled in src/rnnkit/data/vectors/ from the shared GloVe file.

Run: ``python scripts/build_bundled_vectors.py [--source PATH] [--words 50000]``.

Takes the first ``--words`` rows (GloVe files are in frequency order) of
glove.6B.50d.100k.txt.gz, rounds them to float16 and writes ``vectors`` (N, 50) as
safetensors plus the words, one per line. 50,000 words x 50 dims x 2 bytes = 5.0 MB.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from rnnkit.data.vectors import VECTORS_FILE, WORDS_FILE
from rnnkit.embeddings import load_vectors

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path(os.environ.get("RNNKIT_SHARED_DATA", "/work/shared/data")) / "glove/glove.6B.50d.100k.txt.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="GloVe text file (.gz)")
    parser.add_argument("--words", type=int, default=50_000, help="rows kept, most frequent")
    args = parser.parse_args()
    vectors = load_vectors(args.source, format="glove", limit=args.words)
    if any("\n" in w or w != w.strip() for w in vectors.words):
        raise SystemExit("a word holds whitespace: the one-word-per-line file cannot hold it")
    out = ROOT / "src" / "rnnkit" / "data" / "vectors"
    save_file({"vectors": vectors.vectors.astype(np.float16)}, str(out / VECTORS_FILE))
    (out / WORDS_FILE).write_text("\n".join(vectors.words) + "\n", encoding="utf-8")
    size = (out / VECTORS_FILE).stat().st_size + (out / WORDS_FILE).stat().st_size
    print(f"wrote {len(vectors):,} x {vectors.dim} vectors to {out} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
