"""rnnkit.nn: the recurrent engine (pure torch, no text).

Cells written from their equations (:mod:`rnnkit.nn.cells`) and drop-in replacements for
``torch.nn.RNN/LSTM/GRU`` (:mod:`rnnkit.nn.layers`) with lengths, recurrent dropout, layer
normalisation, user cells, and dispatch to torch's fused kernels when they serve.
"""

from rnnkit.nn import bptt
from rnnkit.nn.cells import GRUCell, LSTMCell, RNNCell, SimpleRNNCell
from rnnkit.nn.layers import GRU, LAYERS, LSTM, RNN

__all__ = ["GRU", "LAYERS", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell", "SimpleRNNCell", "bptt"]
