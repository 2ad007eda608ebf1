"""rnnkit: recurrent neural networks for text, on PyTorch.

Subpackages: ``rnnkit.nn`` (the recurrent engine), ``rnnkit.text`` (strings <-> ids),
``rnnkit.data`` (readers, batching, bundled corpora), ``rnnkit.models``, ``rnnkit.train``,
``rnnkit.generate`` and the ``rnnkit`` command line (``rnnkit.cli``).
"""

__version__ = "0.1.0"
