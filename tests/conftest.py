"""Session-wide test setup."""

from __future__ import annotations

import signal

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory) -> None:
    """rnnkit's measurement cache (rnnkit.nn.measured) goes to a temporary dir, not ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture
def fresh_measurements(monkeypatch, tmp_path):
    """rnnkit.nn.measured with no answers yet (memory and disk) and no override; returns it."""
    from rnnkit.nn import measured

    for override in ("RNNKIT_BF16", "RNNKIT_NUMPY_STEP", "RNNKIT_NUMPY_TANH", "RNNKIT_ROW_BLOCKS"):
        monkeypatch.delenv(override, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(measured, "_ANSWERS", {})
    return measured


@pytest.fixture(autouse=True, scope="session")
def _interruptible_subprocesses() -> None:
    """Let the Ctrl-C tests' CLI subprocesses receive SIGINT.

    A shell starts a background job (``.ci/run &``) with SIGINT ignored, and that disposition
    passes through exec to every child, whose Python then never raises KeyboardInterrupt.
    A handler installed here is reset to the default on exec instead.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
