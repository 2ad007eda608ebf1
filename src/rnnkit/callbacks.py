"""Training callbacks (``rnnkit.callbacks.EarlyStopping`` ...); see rnnkit.train.callbacks."""

from rnnkit.train.callbacks import Callback, CSVLogger, EarlyStopping, ProgressLogger, TensorBoard

__all__ = ["CSVLogger", "Callback", "EarlyStopping", "ProgressLogger", "TensorBoard"]
