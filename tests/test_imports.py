"""`import helpers` stays fast: heavy libraries load only when used."""

import subprocess
import sys

HEAVY = ("torch", "matplotlib", "transformers", "timm", "datasets", "numpy")


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, check=True).stdout.strip()


def test_import_helpers_loads_no_heavy_library():
    loaded = _run("import sys, helpers; "
                  f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    assert loaded == ""


def test_import_helpers_takes_under_a_second():
    best = min(float(_run("import time; t = time.perf_counter(); import helpers; "
                          "print(time.perf_counter() - t)")) for _ in range(3))
    assert best < 1.0, f"import helpers took {best:.2f} s"


def test_lazy_names_resolve():
    import helpers

    assert callable(helpers.setup_day)
    assert helpers.DAYS[1].number == 1
    assert callable(helpers.syllabus.day)
    assert "setup_day" in dir(helpers)
