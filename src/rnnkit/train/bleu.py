"""Corpus BLEU and chrF through sacrebleu (the ``seq2seq`` extra); never computed by hand.

Both take detokenised strings: sacrebleu tokenises hypotheses and references itself (13a,
case-sensitive), so scores are comparable with published ones on the same references.
"""

from __future__ import annotations

from collections.abc import Sequence

from rnnkit.errors import MissingDependencyError, invalid


def have_sacrebleu() -> bool:
    """Whether sacrebleu can be imported."""
    try:
        import sacrebleu  # noqa: F401
    except ImportError:
        return False
    return True


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """{"bleu": ..., "chrf": ...} (0-100) of detokenised hypotheses against one reference each."""
    if len(hypotheses) != len(references):
        raise invalid(
            "references", f"{len(references)} references", f"one per hypothesis ({len(hypotheses)})"
        )
    try:
        import sacrebleu
    except ImportError:
        raise MissingDependencyError(
            "BLEU and chrF need sacrebleu: pip install 'rnnkit[seq2seq]'"
        ) from None
    refs = [list(references)]
    return {
        "bleu": sacrebleu.corpus_bleu(list(hypotheses), refs).score,
        "chrf": sacrebleu.corpus_chrf(list(hypotheses), refs).score,
    }
