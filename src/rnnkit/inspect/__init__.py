"""See inside a trained network: what each unit, gate and token does on a text.

After Karpathy, Johnson & Fei-Fei (2015), "Visualizing and Understanding Recurrent Networks".
:func:`inspect` returns the data as numpy arrays (:class:`Inspection`); :func:`write_html`
turns it into one self-contained HTML page (``rnnkit inspect RUN --text ...``).
Import it as ``rnnkit.inspect``; it never shadows the standard library's ``inspect``.
"""

from rnnkit.inspect.analysis import (
    ClassifierView,
    InspectConfig,
    Inspection,
    LMView,
    inspect,
    load_run,
)
from rnnkit.inspect.page import render_html, write_html

__all__ = [
    "ClassifierView", "InspectConfig", "Inspection", "LMView", "inspect", "load_run", "render_html", "write_html",
]  # fmt: skip
