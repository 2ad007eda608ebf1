"""A trained language model as text in, text out: loading, generation, scoring a file.

::

    lm = load_language_model("runs/nietzsche")          # best/ checkpoint of a run
    lm.generate("the will to ", length=300, temperature=0.8, seed=1)
    lm.generate("the ", beam=5, length=40)
    lm.evaluate_text(open("held_out.txt").read())       # {"loss": ..., "bpc": ...}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from rnnkit.errors import CheckpointError, DataError, invalid
from rnnkit.generate import beam_search, sample
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.tasks.generate_config import GenerateConfig, check_stop
from rnnkit.tasks.language_modeling import encode_corpus, lm_metrics, stream_loss
from rnnkit.text import EOS, TextVectorizer
from rnnkit.train.checkpoint import Checkpoint, build_model, checkpoint_content, load_checkpoint
from rnnkit.train.device import resolve_device
from rnnkit.validation import check_choice, check_int, path_problem, show_path

OnText = Callable[[int, str], None]  # (sample index, new text) while generating
M = TypeVar("M", bound=nn.Module)


def checkpoint_dir(path: str | Path) -> Path:
    """A run directory's ``best/`` checkpoint, or ``path`` itself when it is a checkpoint.

    Raises CheckpointError naming ``path`` and its value (shortened when very long) for an
    empty path, one that is missing, a file, or one no file system can hold (too long a name).
    """
    expected = "a run directory from rnnkit train or a checkpoint directory"
    problem = "empty path" if not str(path).strip() else path_problem(Path(path))
    if problem is None and not Path(path).is_dir():
        problem = "is a file, not a checkpoint"
    if problem:
        raise CheckpointError(f"path {show_path(path)}: {problem}; expected {expected}")
    path = Path(path)
    return path / "best" if (path / "best").is_dir() else path


OPTIONAL_SECTIONS = ("data", "trainer")  # read when present (the estimators' parameters)


def require_sections(ckpt: Checkpoint, *names: str) -> None:
    """CheckpointError unless the checkpoint's config.json has every section ``names``, and
    each of OPTIONAL_SECTIONS it holds is a JSON object too."""
    config = ckpt.config
    missing = [name for name in names if not isinstance(config.get(name), dict)]
    wrong = [name for name in OPTIONAL_SECTIONS if not isinstance(config.get(name, {}), dict)]
    expected = "expected a run config as rnnkit's Trainer writes it"
    if missing:
        raise CheckpointError(f"{ckpt.path}: config.json lacks the section(s) {', '.join(missing)}; "
                              f"{expected} (task, model, vectorizer, data, ...)")  # fmt: skip
    if wrong:
        raise CheckpointError(f"{ckpt.path}: config.json's section(s) {', '.join(wrong)} are not "
                              f"JSON objects; {expected}")  # fmt: skip


def load_task_model(
    path: str | Path, task: tuple[str, str], classes: tuple[type, type], sections: tuple[str, ...],
    device: str, expect_sha256: str | None,
) -> tuple[Checkpoint, Any]:  # fmt: skip
    """(checkpoint, model in eval mode on ``device``) of the run or checkpoint ``path`` (see
    :func:`checkpoint_dir`), verified and consistent with its config.

    ``task`` is (config "task" value, its name for messages); ``classes`` the model's
    (config dataclass, module class); ``sections`` the config.json sections the task reads
    besides "model". Anything else is a CheckpointError.
    """
    ckpt = load_checkpoint(
        checkpoint_dir(path), map_location=resolve_device(device), expect_sha256=expect_sha256
    )
    if ckpt.config.get("task") != task[0]:
        raise CheckpointError(
            f"{ckpt.path}: a {ckpt.config.get('task')!r} checkpoint; expected {task[1]} "
            f"(task {task[0]!r})"
        )
    if ckpt.vocab is None:
        raise CheckpointError(f"{ckpt.path}: no vocab.json in its manifest; expected {task[1]}'s vocabulary")
    require_sections(ckpt, "model", *sections)
    model = build_model(ckpt, *classes)
    return ckpt, model.to(resolve_device(device)).eval()


def checkpoint_vectorizer(ckpt: Checkpoint, vocab: dict[str, Any], size: int) -> TextVectorizer:
    """The vectorizer saved as ``vocab`` in ``ckpt``; its vocabulary must have ``size`` entries
    (the model's embedding rows), else a CheckpointError."""
    with checkpoint_content(ckpt.path):
        vectorizer = TextVectorizer.from_dict(vocab)
        if vectorizer.vocab_size != size:
            raise ValueError(f"a vocab of {vectorizer.vocab_size}, a model of {size}")
    return vectorizer


@dataclass
class LoadedLanguageModel:
    """A language model with its vectorizer and run config, ready to generate."""

    model: LanguageModel
    vectorizer: TextVectorizer
    config: dict[str, Any]

    @property
    def level(self) -> str:
        return self.config["data"]["level"]

    def prompt_ids(self, prompt: str | None) -> list[int]:
        """Ids of the prompt (or of the start token when empty); unknown tokens are an error."""
        vocab = self.vectorizer.vocab
        start = [vocab.token_to_id(self.config["vectorizer"]["start_token"])]
        if not prompt:
            return start
        if self.config["data"]["lowercase"]:
            prompt = prompt.lower()
        if self.level == "word":
            lines = prompt.split("\n")
            tokens = [
                t
                for i, line in enumerate(lines)
                for t in [*self.vectorizer.tokenizer.tokenize(line), *([EOS] if i < len(lines) - 1 else [])]
            ]
        else:
            tokens = self.vectorizer.tokenizer.tokenize(prompt)
        unknown = sorted(
            {t for t in tokens if t not in vocab or vocab.token_to_id(t) == vocab.unk_id}
        )
        if unknown:
            shown = ", ".join(repr(t) for t in unknown[:10])
            raise invalid(
                "prompt", prompt, f"only tokens from the model's vocabulary; unknown: {shown}"
            )
        return vocab.lookup_ids(tokens) if tokens else start  # spaces alone: as an empty prompt

    def banned_ids(self) -> list[int]:
        """<pad> is never a target; a character model never saw <unk> either."""
        vocab = self.vectorizer.vocab
        return [vocab.pad_id] + ([vocab.unk_id] if self.level == "char" else [])

    def piece(self, token_id: int, previous: str) -> str:
        """Text of one generated token; words get a space, <eos> a newline."""
        token = self.vectorizer.vocab.id_to_token(token_id)
        if self.level == "char":
            return token
        if token == EOS:
            return "\n"
        return token if previous in ("", "\n") else " " + token

    def generate(
        self,
        prompt: str = "",
        length: int = 500,
        *,
        temperature: float = GenerateConfig.temperature,
        top_k: int | None = None,
        top_p: float | None = None,
        greedy: bool = False,
        beam: int = 1,
        length_penalty: float = 1.0,
        num_samples: int = 1,
        seed: int | None = None,
        stop: Sequence[str] = (),
        on_text: OnText | None = None,
    ) -> list[str]:
        """Continue ``prompt`` by up to ``length`` tokens; return the continuations.

        Sampling (temperature, top_k, top_p) or greedy decoding runs the ``num_samples`` together
        and streams each new piece of text to ``on_text``; ``beam > 1`` returns the
        ``num_samples`` best beams. A continuation ends before the first ``stop`` string in it.
        """
        config = GenerateConfig(
            length, temperature, top_k, top_p, greedy, beam, length_penalty, num_samples, seed
        )  # every number range-checked, numpy numbers made Python's
        sampling, length, beam = config.sampling(), config.length, config.beam
        num_samples, seed = config.num_samples, config.seed
        check_stop(stop)
        ids = self.prompt_ids(prompt)
        previous = prompt[-1:] if prompt else ""
        if beam > 1:
            if num_samples > beam:
                raise invalid("num_samples", num_samples, f"at most beam={beam} with beam search")
            finished = (
                (lambda out: any(s in self._text(out, previous) for s in stop)) if stop else None
            )
            best = beam_search(
                self.model, ids, length, beam, length_penalty, finished, self.banned_ids()
            )
            texts = [_cut(self._text(h.ids, previous), stop) for h in best[:num_samples]]
            for index, text in enumerate(texts):
                if on_text:
                    on_text(index, text)
            return texts
        device = next(self.model.parameters()).device  # the noise is drawn where the model is
        generator = torch.Generator(device).manual_seed(seed) if seed is not None else None
        streams = [_Stream(stop, previous) for _ in range(num_samples)]
        for step_ids in sample(
            self.model, ids, length, sampling, num_samples, generator, self.banned_ids()
        ):
            for index, token in enumerate(step_ids.tolist()):
                stream = streams[index]
                if not stream.done:
                    new = stream.add(self.piece(token, stream.last))
                    if new and on_text:
                        on_text(index, new)
            if all(s.done for s in streams):
                break
        for index, stream in enumerate(streams):
            rest = stream.flush()
            if rest and on_text:
                on_text(index, rest)
        return [s.text for s in streams]

    def _text(self, ids: list[int], previous: str) -> str:
        text = ""
        for token in ids:
            text += self.piece(token, text[-1:] if text else previous)
        return text

    def evaluate_text(self, text: str) -> dict[str, float]:
        """Loss (nats per token) and bits per character or perplexity of a held-out text."""
        if self.config["data"]["lowercase"]:
            text = text.lower()
        ids = encode_corpus(text, self.vectorizer)
        if ids.numel() < 2:
            raise DataError(f"text: {ids.numel()} tokens; expected at least 2 to score")
        unknown = int((ids == self.vectorizer.vocab.unk_id).sum())
        nats = stream_loss(self.model, ids, self.config["data"]["seq_len"])
        return lm_metrics(nats, self.level, prefix="") | {
            "tokens": int(ids.numel()),
            "unknown_tokens": unknown,
        }


class _Stream:
    """One sample's text while it grows: stops at a stop string, holds back a possible prefix."""

    def __init__(self, stop: Sequence[str], previous: str) -> None:
        self.stop, self.text, self.sent, self.done = list(stop), "", 0, False
        self.hold = max((len(s) for s in self.stop), default=1) - 1
        self.last = previous

    def add(self, piece: str) -> str:
        """Append a piece; return the text that is now safe to show."""
        self.text += piece
        self.last = self.text[-1:] or self.last
        cut = _cut(self.text, self.stop)
        if len(cut) < len(self.text):
            self.text, self.done = cut, True
            return self.flush()
        safe = len(self.text) - self.hold
        new, self.sent = self.text[self.sent : max(safe, self.sent)], max(safe, self.sent)
        return new

    def flush(self) -> str:
        new, self.sent = self.text[self.sent :], len(self.text)
        return new


def _cut(text: str, stop: Sequence[str]) -> str:
    """``text`` up to (not including) the earliest stop string in it."""
    ends = [i for s in stop if s and (i := text.find(s)) >= 0]
    return text[: min(ends)] if ends else text


def load_language_model(
    path: str | Path, device: str = "cpu", expect_sha256: str | None = None
) -> LoadedLanguageModel:
    """Load a language model from a run directory (its best/) or a checkpoint directory.

    ``expect_sha256`` pins the checkpoint's manifest (see ``rnnkit.train.checkpoint``).
    """
    ckpt, model = load_task_model(
        path, ("lm", "a language model"), (LanguageModelConfig, LanguageModel),
        ("vectorizer", "data"), device, expect_sha256,
    )  # fmt: skip
    vectorizer = checkpoint_vectorizer(ckpt, ckpt.vocab, model.config.vocab_size)
    with checkpoint_content(ckpt.path):
        data, settings = ckpt.config["data"], ckpt.config["vectorizer"]
        check_choice("data.level", data["level"], ("char", "word"))
        check_int("data.seq_len", data["seq_len"], 1)
        if not isinstance(data["lowercase"], bool) or settings["start_token"] not in vectorizer.vocab:
            raise ValueError("data.lowercase or vectorizer.start_token does not fit the vocab")
    return LoadedLanguageModel(model, vectorizer, ckpt.config)
