"""One call that prepares a notebook: seeds, plot style, device and versions."""

from __future__ import annotations

import logging
import os
import platform
import random
import warnings

from helpers.syllabus import day as _day

log = logging.getLogger(__name__)

# Library chatter that would otherwise land in stored outputs.
_QUIET_WARNINGS = [
    ".*TypedStorage is deprecated.*",
    ".*does not have many workers.*",
    ".*IProgress not found.*",
]


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch so every run repeats exactly (day 1)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


def pick_device(prefer_gpu: bool = False) -> str:
    """Return ``"cpu"`` unless ``prefer_gpu`` is set and a GPU exists (day 1).

    The course runs on the CPU by default so that every learner sees the same
    numbers as the stored outputs; pass ``prefer_gpu=True`` to train faster.
    """
    import torch

    if prefer_gpu and torch.cuda.is_available():
        return "cuda"
    if prefer_gpu and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _inline_figures() -> None:
    """Inside a Jupyter kernel, draw figures inline even when MPLBACKEND says
    otherwise, so that every plot is stored in the notebook."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to do
        return
    shell = get_ipython()
    if shell is not None and getattr(shell, "kernel", None) is not None:
        shell.run_line_magic("matplotlib", "inline")


def setup_day(number: int, seed: int = 0, prefer_gpu: bool = False) -> str:
    """Prepare a day's notebook and return the device to use (day 1).

    Seeds every random generator, applies the course plot style, silences
    known library warnings, prints the day's title with the library versions,
    and returns ``"cpu"`` (or the GPU when ``prefer_gpu=True`` and one exists).
    """
    import numpy as np
    import torch

    from helpers.plotting import use_course_style

    info = _day(number)
    _inline_figures()
    for pattern in _QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    seed_everything(seed)
    torch.set_printoptions(precision=4, sci_mode=False)
    np.set_printoptions(precision=4, suppress=True)
    use_course_style()
    device = pick_device(prefer_gpu)
    print(info.heading)
    print(
        f"python {platform.python_version()} | torch {torch.__version__} | "
        f"numpy {np.__version__} | device {device} | seed {seed}"
    )
    return device
