"""The inspect page in a real browser: headless Chromium loads it from a file, we read the DOM
its script built (``--dump-dom``) and take a screenshot.

The unit, view and pinned token are chosen through the URL hash, which the page applies with
the same code as its unit picker. The screenshot is saved as a test artefact: in
``$RNNKIT_TEST_ARTIFACTS`` when set (``.ci/run`` sets ``build/test-artifacts``), else in
pytest's temporary directory. Skipped when no Chromium is installed (``apt-get install
chromium``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from rnnkit.inspect import inspect, load_run, write_html

CHROMIUM = next(
    (path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))),
    None,
)  # fmt: skip
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium on PATH: the browser test of rnnkit inspect is skipped"
    ),
]
TEXT = 'he said "to be or not" and left.\nshe sat. €'


def chromium(page: Path, hash_: str, *flags: str, profile: Path) -> str:
    """Run headless Chromium on ``page#hash_``; return its standard output."""
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", f"--user-data-dir={profile}", *flags, f"{page.as_uri()}#{hash_}",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Tokens(HTMLParser):
    """The text and inline background colour of every ``span.tok`` of a dumped DOM."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.colours: list[str] = []
        self.other_text: list[str] = []
        self._in_token = False
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "span" and "tok" in (attributes.get("class") or "").split():
            self._in_token = True
            style = attributes.get("style") or ""
            self.colours.append(style.split("background-color:")[-1].strip(" ;"))
            self.texts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self._in_token = False

    def handle_data(self, data: str) -> None:
        if self._in_token:
            self.texts[-1] += data
        else:
            self.other_text.append(data)


def expected_colour(value: float) -> str:
    """The page's colour(v): white at 0, red (214, 39, 40) at +1, blue (31, 119, 180) at -1."""
    a = min(1.0, abs(value))
    rgb = (214, 39, 40) if value >= 0 else (31, 119, 180)
    r, g, b = (int(np.floor(255 + (c - 255) * a + 0.5)) for c in rgb)
    return f"rgb({r}, {g}, {b})"


@pytest.fixture(scope="module")
def profile(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("chromium-profile")


@pytest.fixture(scope="module")
def lm_page(lm_run: Path, tmp_path_factory):
    view = inspect(load_run(lm_run), TEXT)
    return view, write_html(view, tmp_path_factory.mktemp("page") / "lm.html")


def test_page_renders_the_text_and_switching_unit_changes_the_colours(lm_page, profile) -> None:
    view, page = lm_page
    first, second = (int(u) for u in np.argsort(-view.variance[0])[:2])
    dom_a = Tokens(chromium(page, f"layer=0&unit={first}", "--dump-dom", profile=profile))
    dom_b = Tokens(chromium(page, f"layer=0&unit={second}&pin=2", "--dump-dom", profile=profile))
    assert "".join(dom_a.texts) == TEXT.replace("\n", "↵")  # every character, newline shown
    for dom, unit in ((dom_a, first), (dom_b, second)):
        values = np.round(view.activation[0, :, unit], 3)
        assert dom.colours == [expected_colour(v) for v in values]
    assert dom_a.colours != dom_b.colours
    shown = " ".join(dom_b.other_text)
    assert "Next token after it:" in shown  # the pinned token's top-5 predictions
    top = view.lm.top_tokens[2][0]
    assert f"{view.lm.top_probs[2][0]:.3f}" in shown and (top.strip() or "␣") in shown


def test_classifier_page_colours_by_attribution(classifier_run: Path, profile, tmp_path: Path) -> None:
    view = inspect(load_run(classifier_run), "a plot was awful and the film")
    page = write_html(view, tmp_path / "clf.html")
    dom = Tokens(chromium(page, "view=attribution", "--dump-dom", profile=profile))
    assert dom.texts == view.tokens.tokens
    attribution = np.round(view.classifier.attribution, 5)
    assert dom.colours == [expected_colour(v / np.abs(attribution).max()) for v in attribution]
    assert f"Predicted: {view.classifier.predicted}" in " ".join(dom.other_text)


def test_screenshot(lm_page, profile, tmp_path: Path) -> None:
    plt = pytest.importorskip("matplotlib.pyplot")
    _, page = lm_page
    folder = Path(os.environ.get("RNNKIT_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "inspect-lm.png"
    chromium(page, "layer=1&unit=3&pin=9", f"--screenshot={shot}", "--window-size=1280,900", profile=profile)  # fmt: skip
    image = plt.imread(shot)
    assert image.shape[:2] == (900, 1280)
    assert image[..., :3].std() > 0.05  # not a blank page
