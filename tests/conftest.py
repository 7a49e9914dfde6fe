"""Shared test settings: no network for the tests.

Do not set MPLBACKEND here: nbval's kernels inherit the environment, and the
notebooks need the inline backend to store their figures.
"""

import os

os.environ.pop("COURSE_ONLINE", None)
