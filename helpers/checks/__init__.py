"""Self-checks for the exercises (day 1 onwards).

Each ``check_*`` function takes the learner's function (or module), runs it
next to the reference implementation on several inputs, including edge cases,
prints one verdict and returns a :class:`~helpers.checks._core.Verdict`.
Classic mistakes are recognised and named; a learner's exception, wrong shape,
wrong type or NaN becomes one readable sentence, never a traceback.

Checks are grouped by concept in submodules (``linalg``, ``probabilities``,
``mlp``, ``gradients``, ``embeddings``, ``positions``, ``inputs``, ...), and
every ``check_*`` is also importable straight from ``helpers.checks``::

    from helpers.checks import check_softmax
"""

from __future__ import annotations

import importlib
import pkgutil

from helpers.checks._core import Case, Mistake, Verdict, check_function

__all__ = ["Case", "Mistake", "Verdict", "check_function"]


def _check_modules():
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{__name__}.{info.name}")


def __getattr__(name: str):
    if name.startswith("check_"):
        for module in _check_modules():
            if hasattr(module, name):
                value = getattr(module, name)
                globals()[name] = value
                return value
        raise AttributeError(
            f"helpers.checks has no check named {name!r}; "
            "look at the exercise cell for the right name."
        )
    raise AttributeError(f"module 'helpers.checks' has no attribute {name!r}")


def all_checks() -> dict:
    """Every public ``check_*`` function, by name (used by the tests)."""
    found = {}
    for module in _check_modules():
        for attr in dir(module):
            value = getattr(module, attr)
            if (attr.startswith("check_") and callable(value)
                    and getattr(value, "__module__", None) == module.__name__):
                found[attr] = value
    return found
