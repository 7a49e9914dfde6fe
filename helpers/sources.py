"""Offline first: the one switch that allows real downloads (day 1).

The course runs with no network. Every place where the real-world workflow
would download something (CIFAR-10, SST-2, ``bert-base-uncased``, a timm ViT)
uses bundled data or a course checkpoint unless the learner sets

    COURSE_ONLINE=1        (environment variable, before starting Jupyter)

or calls ``helpers.sources.allow_downloads()`` at the top of a notebook.
"""

from __future__ import annotations

import os
from pathlib import Path

SWITCH = "COURSE_ONLINE"

_ROOT = Path(__file__).resolve().parent.parent


class OfflineError(RuntimeError):
    """Raised when a download is attempted while the course is offline."""


def online() -> bool:
    """True when the learner has switched real downloads on (day 1)."""
    return os.environ.get(SWITCH, "").strip().lower() in {"1", "true", "yes", "on"}


def allow_downloads(enabled: bool = True) -> None:
    """Switch real downloads on (or off) for this Python process (day 1)."""
    os.environ[SWITCH] = "1" if enabled else "0"
    if enabled:
        os.environ.pop("HF_HUB_OFFLINE", None)
        os.environ.pop("TRANSFORMERS_OFFLINE", None)
        os.environ.pop("HF_DATASETS_OFFLINE", None)
    else:
        _set_hub_offline()


def _set_hub_offline() -> None:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[var] = "1"


def require_online(what: str) -> None:
    """Raise :class:`OfflineError` naming the switch unless downloads are on."""
    if not online():
        raise OfflineError(
            f"Downloading {what} needs the network, and the course is offline: "
            f"set {SWITCH}=1 before starting Jupyter (or call "
            "helpers.sources.allow_downloads()) to use the real source, or keep "
            "the default bundled copy."
        )


def data_dir() -> Path:
    """The folder with the bundled data and checkpoints (``data/`` in the
    project; override with the ``COURSE_DATA`` environment variable)."""
    return Path(os.environ.get("COURSE_DATA", _ROOT / "data"))


def data_path(name: str) -> Path:
    """Path of a bundled file, with a clear error when it is missing (day 1)."""
    path = data_dir() / name
    if not path.exists():
        raise FileNotFoundError(
            f"The course file data/{name} is missing: run `git checkout -- data` "
            "in the course folder (or set COURSE_DATA to the folder that has it)."
        )
    return path


if not online():  # keep Hugging Face libraries from trying the network
    _set_hub_offline()
