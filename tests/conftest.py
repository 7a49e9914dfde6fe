"""Shared test settings: no display, no network, no stray plots."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.pop("COURSE_ONLINE", None)
