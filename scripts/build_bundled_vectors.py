"""Build the word vectors bundled in src/rnnkit/data/vectors/ from the shared GloVe file.

Run: ``python scripts/build_bundled_vectors.py [--source PATH] [--words 100000]``.

Takes the first ``--words`` rows (GloVe files are in frequency order) of
glove.6B.50d.100k.txt.gz, quantises each row to int8 with its own scale (the row's largest
magnitude / 127, stored as float16) and writes ``vectors`` (N, 50) int8 and ``scales`` (N,)
float16 as safetensors, plus the words, one per line. 100,000 words x (50 + 2) bytes = 5.2 MB.
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


def quantize(vectors: np.ndarray) -> dict[str, np.ndarray]:
    """(N, D) float32 -> ``vectors`` (N, D) int8 and ``scales`` (N,) float16, with
    vectors * scales[:, None] within scale / 2 of each value."""
    scales = (np.abs(vectors).max(axis=1) / 127).astype(np.float16)
    safe = np.where(scales > 0, scales, 1).astype(np.float32)[:, None]
    quantized = np.clip(np.rint(vectors / safe), -127, 127).astype(np.int8)
    return {"vectors": quantized, "scales": scales}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="GloVe text file (.gz)")
    parser.add_argument("--words", type=int, default=100_000, help="rows kept, most frequent")
    args = parser.parse_args()
    vectors = load_vectors(args.source, format="glove", limit=args.words)
    if any("\n" in w or w != w.strip() for w in vectors.words):
        raise SystemExit("a word holds whitespace: the one-word-per-line file cannot hold it")
    out = ROOT / "src" / "rnnkit" / "data" / "vectors"
    save_file(quantize(vectors.vectors), str(out / VECTORS_FILE))
    (out / WORDS_FILE).write_text("\n".join(vectors.words) + "\n", encoding="utf-8")
    size = (out / VECTORS_FILE).stat().st_size + (out / WORDS_FILE).stat().st_size
    print(f"wrote {len(vectors):,} x {vectors.dim} vectors to {out} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
