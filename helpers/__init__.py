"""Shared code for *Transformers in 60 Days*.

Organised by concept, not by day:

* :mod:`helpers.day`        -- ``setup_day``: seeds, plot style, device, versions
* :mod:`helpers.syllabus`   -- the sixty days, their titles and notebook paths
* :mod:`helpers.plotting`   -- projector-sized plots in one consistent style
* :mod:`helpers.data`       -- toy data sets and the bundled course data
* :mod:`helpers.sources`    -- the offline switch for real downloads
* :mod:`helpers.linalg`, :mod:`helpers.probabilities`, :mod:`helpers.mlp`,
  :mod:`helpers.autograd`, :mod:`helpers.corpus`, :mod:`helpers.embeddings`,
  :mod:`helpers.positions`, :mod:`helpers.inputs` -- reference code, week 1
* :mod:`helpers.rnn`, :mod:`helpers.seq2seq`, :mod:`helpers.attention`,
  :mod:`helpers.transformer`, :mod:`helpers.classifiers`,
  :mod:`helpers.toy_tasks`, :mod:`helpers.model_stats` -- reference code,
  weeks 2 and 3
* :mod:`helpers.checks`     -- self-checks for the exercises
* :mod:`helpers.quiz`       -- auto-graded quizzes
* :mod:`helpers.course`     -- the ``course`` command (execute notebooks,
  make the learner edition)

``import helpers`` is cheap: PyTorch, matplotlib and friends load only when a
function that needs them is first used.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "setup_day": "helpers.day",
    "DAYS": "helpers.syllabus",
}

_SUBMODULES = {
    "autograd", "checks", "corpus", "course", "data", "day", "embeddings",
    "inputs", "linalg", "mlp", "plotting", "positions", "probabilities", "quiz",
    "sources", "syllabus", "widgets",
    # weeks 2-3
    "attention", "classifiers", "deep_stacks", "model_stats", "position_experiments",
    "rnn", "seq2seq", "toy_tasks", "transformer",
}

__all__ = sorted(set(_LAZY) | _SUBMODULES)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"helpers.{name}")
    else:
        raise AttributeError(f"module 'helpers' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return __all__
