"""The machinery every exercise check shares (day 1).

A check runs the learner's function and the reference side by side on a list
of :class:`Case` objects. On the first case that disagrees it looks for a
known :class:`Mistake` whose output matches the learner's, and names it;
otherwise it describes the disagreement (type, shape, NaN or values). The
verdict is printed as one sentence and returned as a :class:`Verdict`.

Nothing a learner's code does (raising, returning ``None``, returning the
wrong shape, NaN) escapes as a traceback: it becomes the verdict.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)

_HELPERS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PASS, FAIL, TODO = "✅", "❌", "✏️"


@dataclass
class Verdict:
    """The outcome of a check: ``passed``, the printed ``message`` and, when a
    known mistake was recognised, its short ``mistake`` name."""

    passed: bool
    message: str
    mistake: str | None = None

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        # The message was printed when the check ran; show nothing more.
        pass


@dataclass
class Case:
    """One input for a check: positional ``args``, a ``label`` that a learner
    understands ("logits of ±1000"), optional ``kwargs``, and ``raises`` when
    the right behaviour is to raise that exception type."""

    args: tuple
    label: str
    kwargs: dict = field(default_factory=dict)
    raises: type | None = None


@dataclass
class Mistake:
    """A classic mistake: a short ``name``, the sentence that explains it and
    names the fix, and either ``impl`` (computes the mistaken output from the
    same arguments) or ``when`` (a predicate ``when(case, got, expected)``)."""

    name: str
    message: str
    impl: Callable | None = None
    when: Callable | None = None


class _Failure(Exception):
    """Raised inside the machinery to stop at the first verdict."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.message)
        self.verdict = verdict


# --------------------------------------------------------------------------
# formatting


def fmt_values(x: Any, limit: int = 6) -> str:
    """A short, rounded rendering of a tensor, array or number."""
    t = _as_tensor(x)
    if t is None:
        return repr(x)[:60]
    flat = t.detach().reshape(-1).double().tolist()
    shown = [_fmt_number(v) for v in flat[:limit]]
    more = ", ..." if len(flat) > limit else ""
    if t.dim() == 0:
        return shown[0]
    return "[" + ", ".join(shown) + more + "]"


def _fmt_number(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return str(v)
    return f"{v:.4g}"


def shape_str(shape) -> str:
    inner = ", ".join(str(s) for s in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def _type_name(x: Any) -> str:
    return "None" if x is None else type(x).__name__


# --------------------------------------------------------------------------
# calling the learner's code


def _learner_line(exc: BaseException) -> str:
    """The last line of the learner's own code in the traceback, if any."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        path = os.path.abspath(frame.filename)
        if path.startswith(_HELPERS_DIR) or "site-packages" in path:
            continue
        if frame.line:
            return frame.line.strip()
    return ""


def _clone(value: Any) -> Any:
    try:
        import torch

        if isinstance(value, torch.Tensor):
            return value.detach().clone()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if callable(value) and not isinstance(value, (list, tuple, dict)):
        return value
    try:
        return copy.deepcopy(value)
    except Exception:
        return value


def call_learner(name: str, fn: Callable, args: tuple = (), kwargs=None,
                 label: str = "", clone: bool = True) -> Any:
    """Call ``fn(*args, **kwargs)``; turn any exception into a verdict.

    Arguments are copied first unless ``clone=False`` (then the caller passes
    copies it can inspect afterwards). Returns the learner's output, or raises
    ``_Failure`` carrying a verdict that says what went wrong in one sentence.
    """
    if not callable(fn):
        raise _Failure(Verdict(False, (
            f"{FAIL} {name}: the check needs your function itself, but got a "
            f"{_type_name(fn)}; pass the function's name without calling it."
        ), "not_callable"))
    kwargs = kwargs or {}
    try:
        if not clone:
            return fn(*args, **kwargs)
        return fn(*[_clone(a) for a in args],
                  **{k: _clone(v) for k, v in kwargs.items()})
    except NotImplementedError:
        raise _Failure(Verdict(False, (
            f"{TODO} {name} is not written yet: replace the "
            "`raise NotImplementedError` line with your code, run that cell, "
            "then run this check again."
        ), "not_implemented")) from None
    except Exception as exc:  # the learner's bug, reported in one sentence
        line = _learner_line(exc)
        where = f" at `{line}`" if line else ""
        text = " ".join(str(exc).split())
        if len(text) > 160:
            text = text[:157] + "..."
        on = f" on {label}" if label else ""
        raise _Failure(Verdict(False, (
            f"{FAIL} {name} raised {type(exc).__name__}"
            f"{': ' + text if text else ''}{where}{on}; fix that error and run "
            "the check again."
        ), "exception")) from None


# --------------------------------------------------------------------------
# comparing outputs


def _as_tensor(x: Any):
    import numpy as np
    import torch

    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x.copy())
    if isinstance(x, (bool, int, float)) and not isinstance(x, bool):
        return torch.tensor(x, dtype=torch.float64)
    if isinstance(x, (np.floating, np.integer)):
        return torch.tensor(float(x), dtype=torch.float64)
    return None


@dataclass
class Difference:
    """Why two outputs differ: ``kind`` is one of type, shape, dtype, nan,
    values, length or keys, and ``text`` says it for a learner."""

    kind: str
    text: str


def compare(got: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-4,
            what: str = "the output", check_dtype: bool = True
            ) -> Difference | None:
    """Return ``None`` when ``got`` matches ``expected``, else a :class:`Difference`.

    Handles tensors, arrays, numbers, and tuples, lists or dicts of them.
    NaN matches NaN, so that a mistake's NaN output can be recognised. A
    tensor with the right values in another float dtype (float64 for float32)
    is a ``dtype`` difference unless ``check_dtype=False``.
    """
    import numpy as np
    import torch

    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return Difference("type", f"{what} should be a dict but is a "
                                      f"{_type_name(got)}")
        missing = [k for k in expected if k not in got]
        if missing:
            return Difference("keys", f"{what} has no entry {missing[0]!r}")
        for k in expected:
            d = compare(got[k], expected[k], atol, rtol, f"{what}[{k!r}]",
                        check_dtype)
            if d:
                return d
        return None
    if isinstance(expected, (tuple, list)) and not _is_number(expected):
        if not isinstance(got, (tuple, list)):
            return Difference("type", f"{what} should be a tuple of "
                                      f"{len(expected)} items but is a "
                                      f"{_type_name(got)}")
        if len(got) != len(expected):
            return Difference("length", f"{what} has {len(got)} items instead "
                                        f"of {len(expected)}")
        for i, (g, e) in enumerate(zip(got, expected)):
            part = (f"returned value number {i + 1}" if what == "the output"
                    else f"item {i} of {what}")
            d = compare(g, e, atol, rtol, part, check_dtype)
            if d:
                return d
        return None

    e = _as_tensor(expected)
    g = _as_tensor(got)
    if e is None:  # a plain Python object such as a string or a list of words
        if got == expected:
            return None
        return Difference("values", f"{what} is {got!r} instead of {expected!r}")
    if g is None:
        return Difference("type", f"{what} is a {_type_name(got)}, not a tensor")
    if tuple(g.shape) != tuple(e.shape):
        if g.numel() == 1 and e.numel() == 1:
            g = g.reshape(e.shape)
        else:
            return Difference("shape", f"{what} has shape {shape_str(g.shape)} "
                                       f"instead of {shape_str(e.shape)}")
    if e.is_floating_point() and not (g.is_floating_point() or g.is_complex()):
        return Difference("dtype", f"{what} has integer dtype {g.dtype} but "
                                   "should hold floats")
    if isinstance(expected, torch.Tensor) and isinstance(got, np.ndarray):
        return Difference("type", f"{what} is a NumPy array; return a torch "
                                  "tensor (torch.from_numpy converts one)")
    g64, e64 = g.to(torch.float64), e.to(torch.float64)
    if torch.allclose(g64, e64, atol=atol, rtol=rtol, equal_nan=True):
        if (check_dtype and isinstance(got, torch.Tensor)
                and isinstance(expected, torch.Tensor)
                and got.is_floating_point() and expected.is_floating_point()
                and got.dtype != expected.dtype):
            return Difference("dtype", f"{what} has the right values but dtype "
                                       f"{got.dtype} instead of {expected.dtype}; "
                                       "avoid .double() or .float() conversions "
                                       "inside your function")
        return None
    if (~torch.isfinite(g64)).any() and torch.isfinite(e64).all():
        return Difference("nan", f"{what} contains NaN or infinity where the "
                                 "right answer is finite")
    gap = (g64 - e64).abs().nan_to_num(nan=float("inf"))
    if e64.dim() == 0:
        return Difference("values", f"{what} is {fmt_values(g64)} but should be "
                                    f"{fmt_values(e64)}")
    flat = int(gap.reshape(-1).argmax())
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), e64.shape))
    where = "[" + ", ".join(str(i) for i in index) + "]"
    return Difference("values", f"{what} differs most at index {where}, "
                                f"{fmt_values(g64[index])} instead of "
                                f"{fmt_values(e64[index])} (first values: yours "
                                f"{fmt_values(g64)}, expected {fmt_values(e64)})")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float))


# --------------------------------------------------------------------------
# the generic check


def run_check(name: str, body: Callable[[], str]) -> Verdict:
    """Run ``body`` (which returns the success sentence or raises
    ``_Failure``), print the verdict and return it. Bugs in a check itself
    are reported politely as well, never as a traceback."""
    try:
        verdict = Verdict(True, f"{PASS} {body()}")
    except _Failure as failure:
        verdict = failure.verdict
    except Exception as exc:  # a bug in the check, not in the learner's code
        log.debug("check %s failed internally", name, exc_info=True)
        verdict = Verdict(False, (
            f"⚠️ the check for {name} could not finish ({type(exc).__name__}: "
            f"{exc}); compare your code with the exercise text, and report "
            "this if it persists."
        ), "internal")
    print(verdict.message)
    return verdict


def fail(message: str, mistake: str | None = None) -> None:
    """Stop a check with a failing verdict (``message`` is one sentence)."""
    raise _Failure(Verdict(False, f"{FAIL} {message}", mistake))


def diagnose(name: str, case: Case, got: Any, expected: Any,
             mistakes: Sequence[Mistake], difference: Difference,
             atol: float, rtol: float) -> None:
    """Name the first known mistake that explains ``got``, or describe the
    ``difference``; always ends the check with a failing verdict."""
    for mistake in mistakes:
        try:
            if mistake.impl is not None:
                with _no_grad():
                    wrong = mistake.impl(*[_clone(a) for a in case.args],
                                         **{k: _clone(v)
                                            for k, v in case.kwargs.items()})
                matched = compare(got, wrong, atol, rtol) is None
            else:
                matched = bool(mistake.when(case, got, expected))
        except Exception:  # a mistake that cannot apply to this case
            log.debug("mistake %s not applicable", mistake.name, exc_info=True)
            matched = False
        if matched:
            fail(f"{name}: {mistake.message.rstrip('.')} (seen on "
                 f"{case.label}).", mistake.name)
    hints = {
        "nan": "; look for exp() of a large number or a division by zero",
        "shape": "; print the shape after each line of your function to see "
                 "where it first goes wrong",
    }
    fail(f"{name} is wrong on {case.label}: {difference.text}"
         f"{hints.get(difference.kind, '')}.", difference.kind)


class _no_grad:
    def __enter__(self):
        import torch

        self._ctx = torch.no_grad()
        self._ctx.__enter__()

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def check_function(name: str, fn: Callable, cases: Sequence[Case],
                   reference: Callable, mistakes: Sequence[Mistake] = (),
                   atol: float = 1e-5, rtol: float = 1e-4,
                   success: str | None = None,
                   input_changed: Mistake | None = None) -> Verdict:
    """Check ``fn`` against ``reference`` on every case (day 1).

    Prints one verdict and returns it. ``success`` replaces the default
    sentence printed when every case passes. A function that changes a tensor
    it was given fails with ``modifies_input``, or with ``input_changed``
    when the topic has a more specific name for that mistake.
    """

    def body() -> str:
        for case in cases:
            if case.raises is not None:
                _expect_error(name, fn, case)
                continue
            args = [_clone(a) for a in case.args]
            kwargs = {k: _clone(v) for k, v in case.kwargs.items()}
            got = call_learner(name, fn, args, kwargs, case.label, clone=False)
            with _no_grad():
                expected = reference(*[_clone(a) for a in case.args],
                                     **{k: _clone(v) for k, v in case.kwargs.items()})
            if got is None and expected is not None:
                fail(f"{name} returned None on {case.label}; did you forget "
                     "the `return` statement?", "returned_none")
            difference = compare(got, expected, atol, rtol)
            if difference is not None:
                diagnose(name, case, got, expected, mistakes, difference,
                         atol, rtol)
            fail_if_inputs_changed(name, case, args, kwargs, input_changed)
        if success:
            return success
        labels = [c.label for c in cases]
        listed = ", ".join(labels[:-1]) + (" and " if len(labels) > 1 else "")
        return (f"{name} is correct on all {len(cases)} cases: "
                f"{listed}{labels[-1]}.")

    return run_check(name, body)


def fail_if_inputs_changed(name: str, case: Case, args, kwargs,
                           mistake: Mistake | None = None) -> None:
    """Fail when the learner's function changed a tensor it was given."""
    import torch

    pairs = list(zip(case.args, args)) + [(case.kwargs[k], kwargs[k])
                                          for k in case.kwargs]
    for position, (original, used) in enumerate(pairs):
        if (isinstance(original, torch.Tensor) and isinstance(used, torch.Tensor)
                and original.shape == used.shape
                and not torch.equal(original.detach(), used.detach())
                and not (original.isnan().any() and original.dtype.is_floating_point)):
            if mistake is not None:
                fail(f"{name}: {mistake.message.rstrip('.')} (seen on "
                     f"{case.label}).", mistake.name)
            fail(f"{name} returns the right result on {case.label} but changes "
                 f"its input number {position + 1} in place (an in-place "
                 "operation such as x /= ..., x.mul_() or x[...] = ...); "
                 "compute on a new tensor so the caller's data stays intact.",
                 "modifies_input")


def _expect_error(name: str, fn: Callable, case: Case) -> None:
    try:
        fn(*[_clone(a) for a in case.args], **case.kwargs)
    except NotImplementedError:
        call_learner(name, fn, case.args, case.kwargs, case.label)  # reports it
    except case.raises:
        return
    except Exception as exc:
        fail(f"{name} raised {type(exc).__name__} on {case.label}, but it should "
             f"raise {case.raises.__name__} with a clear message.", "wrong_error")
    else:
        fail(f"{name} returned a result on {case.label}, but it should raise "
             f"{case.raises.__name__} so the caller learns about the mistake.",
             "no_error")
