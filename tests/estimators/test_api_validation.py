"""The Python API refuses bad numbers with the command line's messages (rnnkit.validation)."""

from __future__ import annotations

import math

import pytest

import rnnkit
from rnnkit.errors import InvalidArgumentError
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.language_model import LanguageModelConfig
from rnnkit.tasks.generate_config import GenerateConfig
from rnnkit.tasks.language_modeling import LMTrainerConfig


@pytest.mark.parametrize(
    ("estimator", "options", "message"),
    [
        (rnnkit.TextClassifier, {"hidden_size": -1}, "hidden_size=-1: expected an int in [1, 65536]"),
        (rnnkit.TextClassifier, {"dropout": math.nan}, "dropout=nan: expected a finite number in [0, 1)"),
        (rnnkit.TextClassifier, {"lr": math.inf}, "lr=inf: expected a finite number in (0, 10]"),
        (rnnkit.TextClassifier, {"num_layers": True}, "num_layers=True: expected an int"),
        (rnnkit.LanguageModel, {"seed": -1}, "seed=-1: expected an int in [0, 9223372036854775807]"),
        (rnnkit.LanguageModel, {"recurrent_dropout": 1.0}, "recurrent_dropout=1.0: expected a finite"),
        (rnnkit.LanguageModel, {"cell": "gru", "proj_size": 4}, "proj_size=4: expected 0 unless cell='lstm'"),
        (rnnkit.LanguageModel, {"implementation": "cudnn"}, "implementation='cudnn': expected one of"),
    ],
)  # fmt: skip
def test_estimator_arguments_checked_at_construction(estimator, options, message) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        estimator(**options)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"temperature": math.inf}, "temperature=inf: expected a finite number >= 0.0001"),
        ({"temperature": 0}, "temperature=0: expected a finite number >= 0.0001"),
        ({"top_p": 1.5}, "top_p=1.5: expected a finite number in [1e-06, 1]"),
        ({"top_k": 0}, "top_k=0: expected an int >= 1"),
        ({"length": 0}, "length=0: expected an int in [1, 1000000]"),
        ({"beam": 2, "length_penalty": math.nan}, "length_penalty=nan"),
        ({"length": 1_000_000, "num_samples": 1000}, "num_samples=1000: expected length * max"),
        ({"seed": 2**64}, "seed=18446744073709551616"),
        ({"greedy": "yes"}, "greedy='yes': expected True or False"),
    ],
)  # fmt: skip
def test_generate_options_checked_before_the_model_is_needed(options, message) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        GenerateConfig(**options)
    assert str(info.value).startswith(message)
    with pytest.raises(InvalidArgumentError) as info:  # unfitted: the numbers fail first
        rnnkit.LanguageModel().generate("to be", **options)
    assert str(info.value).startswith(message)


def test_recurrent_fields_checked_in_both_model_configs_and_task_trainer_configs() -> None:
    for cls in (ClassifierConfig, LanguageModelConfig):
        with pytest.raises(InvalidArgumentError, match=r"^num_layers=0: expected an int in \[1, 64\]"):
            cls(num_layers=0)
        with pytest.raises(InvalidArgumentError, match=r"^proj_size=128: expected an int in \[0, 127\]"):
            cls(hidden_size=128, proj_size=128)
    with pytest.raises(InvalidArgumentError, match=r"^eval_every=-1: expected an int in \[0, "):
        LMTrainerConfig(eval_every=-1)
    assert LanguageModelConfig(hidden_size=8, proj_size=4, embedding_size=4, tie_weights=True)
