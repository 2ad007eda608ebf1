"""An :class:`~rnnkit.inspect.Inspection` as one self-contained HTML page.

The page is ``template.html`` (package data: styles and script inline, no network, no external
fonts) with the data embedded as one JSON object. Its size is about 7 bytes per activation
value: L * T * U numbers (2 layers x 256 units x 1000 characters: about 3.5 MB).
The URL hash selects what is shown: ``page.html#layer=1&unit=42&view=unit`` (``view``:
``unit``, ``attribution`` or ``attention``).
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.errors import ArgumentTypeError, invalid
from rnnkit.inspect.analysis import Inspection
from rnnkit.validation import check_output_file, is_integer

RANKED = 8  # units listed by variance and per feature
DIGITS = 3  # decimals kept in the page


def _rounded(array: np.ndarray) -> Any:
    return np.round(np.nan_to_num(array), DIGITS).tolist()


def page_data(view: Inspection, title: str, layer: int | None, unit: int | None) -> dict[str, Any]:
    """The JSON object the page's script reads (see template.html)."""
    layers, _, units = view.activation.shape
    if layer is None:
        layer = layers - 1
    if not is_integer(layer) or not 0 <= layer < layers:
        raise invalid("layer", layer, f"an int in 0..{layers - 1} (the model has {layers} layers)")
    layer = int(layer)
    if unit is None:
        unit = int(np.argmax(view.variance[layer]))  # the liveliest unit of that layer
    if not is_integer(unit) or not 0 <= unit < units:
        raise invalid("unit", unit, f"an int in 0..{units - 1} (layer {layer} has {units} units)")
    unit = int(unit)
    kind = {"lm": "language model", "classify": "classifier"}[view.task]
    unknown = np.flatnonzero(view.tokens.unknown).tolist()
    summary = (
        f"{view.cell.upper()} {kind}: {layers} layer(s) x {units} units, {len(view.tokens)} tokens"
        + (f", {len(unknown)} not in the vocabulary (dashed)" if unknown else "")
        + (f", {view.tokens.dropped} cut off by max_len" if view.tokens.dropped else "")
    )
    data: dict[str, Any] = {
        "title": title, "summary": summary, "task": view.task, "cell": view.cell,
        "activationName": "tanh(c)" if view.c is not None else "h",
        "tokens": view.tokens.tokens, "joiner": view.tokens.joiner, "unknown": unknown,
        "layers": layers, "units": units, "directions": view.directions,
        "start": {"layer": layer, "unit": unit},
        "act": _rounded(view.activation.transpose(0, 2, 1)),  # (L, U, T): one list per unit
        "varianceOf": _rounded(view.variance),
        "ranks": {
            "variance": view.ranked("variance", RANKED),
            "features": {  # a feature constant over the text (r = 0 everywhere) lists none
                name: [row for row in view.ranked(name, RANKED) if row[2] != 0.0]
                for name in view.features
            },
        },
        "saturation": {name: _rounded(s.transpose(1, 2, 0)) for name, s in view.saturation.items()},
        "lm": None, "classifier": None,
    }  # fmt: skip
    if view.lm is not None:
        top = [
            [[token, round(float(p), DIGITS)] for token, p in zip(tokens, probs, strict=True)]
            for tokens, probs in zip(view.lm.top_tokens, view.lm.top_probs, strict=True)
        ]
        data["lm"] = {"top": top, "next": _rounded(view.lm.next_prob)}
    if view.classifier is not None:
        c = view.classifier
        data["classifier"] = {
            "labels": c.labels, "probabilities": _rounded(c.probabilities), "predicted": c.predicted,
            "method": c.method, "attribution": np.round(c.attribution, 5).tolist(),
            "attention": None if c.attention is None else _rounded(c.attention),
            "sum": float(c.attribution.sum()), "delta": c.log_p - c.baseline_log_p,
        }  # fmt: skip
    return data


def render_html(
    view: Inspection, title: str = "rnnkit inspect", layer: int | None = None, unit: int | None = None
) -> str:
    """The page as a string; ``layer`` (default the top one) and ``unit`` (default its unit of
    largest variance) are shown first."""
    if not isinstance(view, Inspection):
        raise invalid("view", view, "an Inspection (what rnnkit.inspect.inspect returns)",
                      ArgumentTypeError)  # fmt: skip
    data = json.dumps(page_data(view, title, layer, unit), ensure_ascii=False, separators=(",", ":"))
    data = data.replace("</", "<\\/")  # no "</script>" inside the script element
    template = resources.files("rnnkit.inspect").joinpath("template.html").read_text("utf-8")
    page = template.replace("__DATA__", data, 1)  # then the title, which comes before it
    return page.replace("__TITLE__", html.escape(title), 1)


def write_html(
    view: Inspection, path: str | Path, title: str = "rnnkit inspect", layer: int | None = None,
    unit: int | None = None,
) -> Path:  # fmt: skip
    """Write :func:`render_html`'s page to ``path`` (UTF-8) and return the path; a path no
    file can be written to is refused first (:func:`rnnkit.validation.check_output_file`)."""
    page = render_html(view, title, layer, unit)
    path = check_output_file("path", path, "an HTML file to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
