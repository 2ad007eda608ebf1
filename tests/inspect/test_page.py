"""rnnkit.inspect.render_html: one self-contained page whose embedded JSON is the inspection."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from rnnkit.errors import InvalidArgumentError
from rnnkit.inspect import inspect, load_run, render_html, write_html

TEXT = 'he said "to be" and </script> left.\nshe sat.'


def embedded(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    assert match, "no data element"
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def lm_view(lm_run: Path):
    return inspect(load_run(lm_run), TEXT)


def test_page_is_self_contained(lm_view) -> None:
    page = render_html(lm_view, "my <run>")
    assert page.startswith("<!DOCTYPE html>") and "<title>my &lt;run&gt;</title>" in page
    for external in ("<link", " src=", "@import", "url(", "@font-face"):
        assert external not in page
    assert re.findall(r"https?://[^\s\"']+", page) == ["http://www.w3.org/2000/svg"]  # a name
    assert page.count("</script>") == 2  # the text's "</script>" is escaped inside the JSON


def test_embedded_data_is_the_inspection(lm_view) -> None:
    data = embedded(render_html(lm_view, layer=0, unit=5))
    assert "".join(data["tokens"]) == TEXT and data["joiner"] == ""
    assert data["start"] == {"layer": 0, "unit": 5}
    assert (data["layers"], data["units"], data["directions"]) == (2, 16, 1)
    act = np.array(data["act"])  # (L, U, T)
    np.testing.assert_allclose(act, lm_view.activation.transpose(0, 2, 1), atol=5e-4)
    assert data["activationName"] == "tanh(c)" and data["classifier"] is None
    assert [row[0][0] for row in data["lm"]["top"]] == [t[0] for t in lm_view.lm.top_tokens]
    assert set(data["saturation"]) == {"input", "forget", "output"}
    assert np.array(data["saturation"]["forget"]).shape == (2, 16, 2)  # (L, U, [left, right])
    assert data["ranks"]["variance"][0][:2] == list(lm_view.ranked("variance", 1)[0][:2])


def test_default_unit_is_the_top_layers_liveliest(lm_view) -> None:
    start = embedded(render_html(lm_view))["start"]
    assert start == {"layer": 1, "unit": int(np.argmax(lm_view.variance[1]))}


@pytest.mark.parametrize(
    ("layer", "unit", "message"),
    [
        (2, None, r"layer=2: expected an int in 0\.\.1 \(the model has 2 layers\)"),
        (0, 16, r"unit=16: expected an int in 0\.\.15 \(layer 0 has 16 units\)"),
        (None, -1, r"unit=-1: expected an int in 0\.\.15"),
    ],
)
def test_layer_or_unit_out_of_range(lm_view, layer, unit, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        render_html(lm_view, layer=layer, unit=unit)


def test_classifier_page_has_attribution_and_attention(classifier_run: Path, tmp_path: Path) -> None:
    view = inspect(load_run(classifier_run), "the film was awful")
    path = write_html(view, tmp_path / "clf.html")
    data = embedded(path.read_text(encoding="utf-8"))
    c = data["classifier"]
    assert data["lm"] is None and data["joiner"] == " " and data["directions"] == 2
    assert c["labels"] == ["neg", "pos"] and c["predicted"] == view.classifier.predicted
    np.testing.assert_allclose(c["attribution"], view.classifier.attribution, atol=1e-5)
    np.testing.assert_allclose(c["attention"], view.classifier.attention, atol=1e-3)
    view_c = view.classifier  # the page prints both sides of completeness (see test_analysis)
    assert c["sum"] == pytest.approx(float(view_c.attribution.sum()), abs=1e-4)
    assert c["delta"] == pytest.approx(view_c.log_p - view_c.baseline_log_p, abs=1e-4)
    ranks = data["ranks"]["features"]  # the word tokenizer strips quotes: nothing to rank
    assert ranks["inside quotes"] == [] and len(ranks["position in line"]) == 8
