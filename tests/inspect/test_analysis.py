"""rnnkit.inspect.inspect: the arrays equal the model's own forward; features, statistics,
attribution and the bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.errors import CheckpointError, DataError, InvalidArgumentError
from rnnkit.export import export_classifier
from rnnkit.inspect import InspectConfig, inspect, load_run
from rnnkit.inspect.analysis import pearson
from rnnkit.inspect.tokens import features, lm_tokens
from rnnkit.tasks.loading import load_run as load_task_run
from rnnkit.text import EOS, TextVectorizer

TEXT = 'she said "to be or not" and left.\nhe sat.'


@pytest.fixture(scope="module")
def lm(lm_run: Path):
    return load_run(lm_run)


@pytest.fixture(scope="module")
def clf(classifier_run: Path):
    return load_run(classifier_run)


def test_lm_arrays_equal_the_models_fused_forward(lm) -> None:
    view = inspect(lm, TEXT)
    ids = torch.as_tensor(view.tokens.ids)[None]  # (1, T)
    with torch.no_grad():
        output, _ = lm.model.rnn(lm.model.embed(ids))  # fused kernel
        probs = lm.model(ids)[0][0].softmax(-1)  # (T, V)
    assert lm.model.rnn.last_path == "fused"
    layers, time, units = view.activation.shape
    assert (layers, time, units) == (2, len(TEXT), 16)
    np.testing.assert_allclose(view.h[-1], output[0].double().numpy(), atol=1e-5)
    top_probs, top_ids = probs.topk(5, dim=-1)
    np.testing.assert_array_equal(view.lm.top_ids, top_ids.numpy())
    np.testing.assert_allclose(view.lm.top_probs, top_probs.double().numpy(), atol=1e-5)
    following = view.tokens.ids[1:]
    np.testing.assert_allclose(view.lm.next_prob[:-1], probs[:-1].numpy()[np.arange(time - 1), following], atol=1e-6)  # fmt: skip
    assert np.isnan(view.lm.next_prob[-1])
    assert view.lm.top_tokens[0] == lm.vectorizer.vocab.lookup_tokens(top_ids[0].tolist())


def test_lstm_colours_by_tanh_c_and_gates_saturation_are_fractions(lm) -> None:
    view = inspect(lm, TEXT)
    np.testing.assert_allclose(view.activation, np.tanh(view.c), atol=1e-6)
    assert set(view.gates) == {"input", "forget", "cell", "output"}
    assert set(view.saturation) == {"input", "forget", "output"}  # the sigmoid gates
    forget = view.gates["forget"]
    left, right = view.saturation["forget"]  # each (L, U)
    np.testing.assert_allclose(left, (forget < 0.1).mean(axis=1))
    np.testing.assert_allclose(right, (forget > 0.9).mean(axis=1))
    assert ((left + right) <= 1).all()
    np.testing.assert_allclose(view.variance, view.activation.var(axis=1))


def test_characters_outside_the_vocabulary_are_flagged_not_errors(lm) -> None:
    view = inspect(lm, "he said €Z")
    assert view.tokens.tokens == list("he said €Z")  # shown as written, read as <unk>
    assert view.tokens.unknown.tolist() == [False] * 8 + [True, True]
    assert (view.tokens.ids[8:] == lm.vectorizer.vocab.unk_id).all()


def test_word_language_model_reads_eos_between_lines() -> None:
    vec = TextVectorizer("word", specials=[EOS]).adapt(["a b c"])
    tokens = lm_tokens("a b\nc zz", vec, lowercase=False)
    assert tokens.tokens == ["a", "b", "\n", "c", "zz"]
    assert tokens.ids[2] == vec.vocab.eos_id and tokens.unknown.tolist() == [False] * 4 + [True]
    assert tokens.joiner == " "


def test_features_quotes_positions_newlines_punctuation() -> None:
    got = features(list('a "b" c.\nd'))
    assert got["inside quotes"].tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    assert got["position in line"].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 0]
    assert got["after newline"].tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert got["punctuation"].tolist() == [0, 0, 1, 0, 1, 0, 0, 1, 0, 0]


def test_pearson_finds_the_unit_that_tracks_a_feature() -> None:
    feature = np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype=float)
    rng = np.random.default_rng(0)
    units = np.stack([2 * feature + 1, -feature, np.full(8, 0.3), rng.normal(size=8)], axis=-1)
    r = pearson(units[None], feature)  # (1, 4)
    np.testing.assert_allclose(r[0, :3], [1.0, -1.0, 0.0], atol=1e-12)
    assert abs(r[0, 3]) < 1
    np.testing.assert_allclose(pearson(units[None], np.ones(8)), 0.0)  # a constant feature


def test_ranked_lists_units_by_score(lm) -> None:
    view = inspect(lm, TEXT)
    ranked = view.ranked("inside quotes", 3)
    scores = np.abs(view.correlation["inside quotes"])
    assert [abs(r) for _, _, r in ranked] == sorted(scores.ravel(), reverse=True)[:3]
    layer, unit, r = ranked[0]
    assert view.correlation["inside quotes"][layer, unit] == r


def test_classifier_probabilities_attention_and_attribution(clf) -> None:
    text = "a plot was awful and the film"
    view = inspect(clf, text)
    c = view.classifier
    label, probs = clf.predict([text])[0]
    assert c.predicted == label == "neg"
    np.testing.assert_allclose(c.probabilities, [probs[n] for n in c.labels], atol=1e-5)
    assert view.directions == 2 and view.activation.shape == (1, 7, 16)
    assert view.activation is not None and view.c is None  # GRU: coloured by h
    # the attention weights are the pool's: sum_t w_t h_t equals its pooled vector
    ids = torch.as_tensor(view.tokens.ids)[None]
    with torch.no_grad():
        output, _ = clf.model.rnn(clf.model.embedding(ids), lengths=torch.tensor([7]))
        pooled = clf.model.pool(output, torch.tensor([7]))[0]
    np.testing.assert_allclose(c.attention @ view.h[-1], pooled.double().numpy(), atol=1e-5)
    assert c.attention.sum() == pytest.approx(1.0)
    # integrated gradients: complete (they add up to log p(x) - log p(0)) up to the midpoint
    # rule's O(1/S^2) error, which 4x the steps cut about 16-fold; the cue word leads
    assert c.attribution.sum() == pytest.approx(c.log_p - c.baseline_log_p, abs=3e-3)
    fine = inspect(clf, text, InspectConfig(ig_steps=128)).classifier
    assert fine.attribution.sum() == pytest.approx(fine.log_p - fine.baseline_log_p, abs=3e-4)
    assert c.log_p == pytest.approx(np.log(c.probabilities.max()), abs=1e-5)
    assert view.tokens.tokens[int(np.argmax(c.attribution))] == "awful"
    assert view.tokens.tokens[int(np.argmax(c.attention))] == "awful"
    assert "integrated gradients" in c.method


def test_classifier_text_is_cut_to_max_len(clf) -> None:
    view = inspect(clf, " ".join(["good"] * 15))  # the run's max_len is 12
    assert len(view.tokens) == 12 and view.tokens.dropped == 3


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("", InvalidArgumentError, "text='': expected a non-empty text"),
        ("  \n ", InvalidArgumentError, "expected a non-empty text"),
    ],
)
def test_empty_text_is_an_error(lm, text: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        inspect(lm, text)


def test_text_without_tokens_and_too_long_text_are_errors(lm, clf) -> None:
    with pytest.raises(DataError, match="no tokens"):
        inspect(clf, "<br /><br />")  # the glove standardisation removes HTML tags
    with pytest.raises(InvalidArgumentError, match="text='41 tokens': expected at most max_tokens=40"):  # fmt: skip
        inspect(lm, TEXT, InspectConfig(max_tokens=40))
    with pytest.raises(InvalidArgumentError, match="top_k=0"):
        InspectConfig(top_k=0)


def test_a_run_that_is_not_a_model_is_a_checkpoint_error(tmp_path: Path, lm_run: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_run(tmp_path / "missing")
    with pytest.raises(CheckpointError, match=r"config\.json: missing"):
        load_run(tmp_path)
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "config.json").write_text(json.dumps({"task": "seq2seq"}))
    with pytest.raises(CheckpointError, match="names the task 'seq2seq'; expected a language model"):
        load_run(odd)
    assert load_run(lm_run).model.config.num_layers == 2


def test_a_pinned_run_loads_and_any_other_pin_is_refused(classifier_run: Path) -> None:
    pin = (classifier_run / "best" / "manifest.sha256").read_text().split()[0]
    assert isinstance(load_run(classifier_run, expect_sha256=pin).model, torch.nn.Module)
    assert rnnkit.load(classifier_run, expect_sha256=pin).predict(["fine"]) in (["neg"], ["pos"])
    with pytest.raises(CheckpointError, match="expected the pinned expect_sha256=0000"):
        inspect(classifier_run, "a fine film", expect_sha256="0" * 64)
    with pytest.raises(CheckpointError, match="expected the pinned expect_sha256=0000"):
        rnnkit.load(classifier_run, expect_sha256="0" * 64)
    for pin_a_loaded_model in (
        lambda: inspect(load_run(classifier_run), "a fine film", expect_sha256=pin),
        lambda: export_classifier(load_run(classifier_run), "m.onnx", expect_sha256=pin),
    ):
        with pytest.raises(InvalidArgumentError, match=r"expect_sha256=.*None for a model already loaded"):
            pin_a_loaded_model()
    with pytest.raises(CheckpointError, match=r"task 'classify'; expected a language model \('lm'\)$"):
        load_task_run(classifier_run, tasks=("lm",))
    for tasks in ("lm", (), ("lm", "ner")):
        with pytest.raises(InvalidArgumentError, match=r"tasks=.*expected a non-empty sequence of 'lm'"):
            load_task_run(classifier_run, tasks=tasks)


def test_the_standard_librarys_inspect_is_not_shadowed() -> None:
    import inspect as stdlib_inspect

    import rnnkit.inspect

    assert hasattr(stdlib_inspect, "signature") and not hasattr(stdlib_inspect, "InspectConfig")
    assert rnnkit.inspect.inspect.__module__ == "rnnkit.inspect.analysis"


def test_untrained_simple_rnn_colours_by_h_and_has_no_gates() -> None:
    from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
    from rnnkit.tasks.lm_inference import LoadedLanguageModel

    torch.manual_seed(0)
    vec = TextVectorizer("char").adapt(["abc \n"])
    model = LanguageModel(LanguageModelConfig(vocab_size=vec.vocab_size, cell="rnn", num_layers=1, hidden_size=4, embedding_size=3)).eval()  # fmt: skip
    lm = LoadedLanguageModel(model, vec, {"data": {"lowercase": False, "level": "char"}})
    view = inspect(lm, "abc\ncab", InspectConfig(top_k=50))
    assert view.c is None and view.gates == {} and view.saturation == {}
    np.testing.assert_array_equal(view.activation, view.h)
    assert view.activation.shape == (1, 7, 4)
    assert view.lm.top_ids.shape == (7, vec.vocab_size)  # top_k capped at V
    np.testing.assert_allclose(view.lm.top_probs.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("ngrams", [0, 1, 3])
def test_attributions_add_up_with_and_without_an_ngram_bag(ngrams: int) -> None:
    """Completeness holds for both inputs (embeddings and the bag's mean vector), and the bag
    channel carries part of it: zeroing its rows changes the attributions."""
    from rnnkit.inspect.attribution import integrated_gradients
    from rnnkit.models.classifier import ClassifierConfig, TextClassifier

    torch.manual_seed(3)
    config = ClassifierConfig(vocab_size=40, embedding_size=6, hidden_size=8, ngrams=ngrams,
                              ngram_buckets=31, ngram_dim=5, num_classes=3)  # fmt: skip
    model = TextClassifier(config).eval()
    if ngrams:
        torch.nn.init.normal_(model.ngram_bag.vectors.weight, std=3.0)  # a bag that matters
    ids = torch.tensor([5, 17, 3, 9, 22, 5])
    attribution, log_p, baseline = integrated_gradients(model, ids, target=1, steps=256)
    assert attribution.sum() == pytest.approx(log_p - baseline, abs=2e-4)
    if ngrams:
        with torch.no_grad():
            model.ngram_bag.vectors.weight.zero_()
        without_bag, _, _ = integrated_gradients(model, ids, target=1, steps=256)
        assert np.abs(attribution - without_bag).max() > 1e-2
