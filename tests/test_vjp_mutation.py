"""Every ``vjp`` is watched by its op's oracle case: scaling a Function's ``vjp`` results by
(1 + 1e-6) must make at least one of its cases fail on the vjp path (the oracle's gradient rtol
is 1e-8), so a slightly wrong fast path cannot pass the suite.

Functions are found by walking ``gf.Function``'s subclasses; cases by running every oracle
case's forward once and collecting the Function classes in its graph. A Function with ``vjp``
that no case runs fails here, unless ``EXEMPT`` gives a reason and another check.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from op_cases import ALL_CASES
from oracle import check_vjp

import gradflow as gf
import gradflow.nn  # noqa: F401  (its Functions, if any, are registered on import)

SCALE = 1 + 1e-6

# Function name -> (why no oracle case can run it, a check that fails when its vjp is off).
EXEMPT: dict[str, tuple[str, Callable[[], None]]] = {}


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _label(cls: type) -> str:
    return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"


@functools.cache
def cases_by_function() -> dict[type, list[tuple]]:
    """Function class -> the oracle cases whose graph contains a node of it."""
    found: dict[type, list[tuple]] = {}
    for case in ALL_CASES:
        _, gf_fn, _, inputs, consts = case
        xs = [gf.tensor(a, dtype=a.dtype, requires_grad=a.dtype.kind == "f") for a in inputs]
        out = gf_fn(*xs, *consts)
        stack, seen = [out.grad_fn], set()
        while stack:
            node = stack.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            stack.extend(e[0] for e in node.next_functions if isinstance(e, tuple))
        for fn in {node.fn for node in seen}:
            found.setdefault(fn, []).append(case)
    return found


def functions_with_vjp() -> list[type]:
    """gradflow's Functions that define (or inherit) ``vjp``; a base class that no graph
    contains is left to its subclasses, each of which is mutated on its own."""
    used = cases_by_function()
    out = {cls for cls in _subclasses(gf.Function)
           if cls.__module__.startswith("gradflow.") and cls.has_vjp
           and (cls in used or not cls.__subclasses__())}
    return sorted(out, key=_label)


FUNCTIONS = functions_with_vjp()


@contextmanager
def scaled_vjp(cls: type):
    """Patch ``cls.vjp`` (on that class only) to scale every gradient it returns by SCALE."""
    own = cls.__dict__.get("vjp")
    inner = cls.vjp

    def vjp(ctx, *grads):
        result = inner(ctx, *grads)
        if isinstance(result, tuple):
            return tuple(None if r is None else r * SCALE for r in result)
        return None if result is None else result * SCALE

    cls.vjp = staticmethod(vjp)
    try:
        yield
    finally:
        if own is None:
            del cls.vjp
        else:
            cls.vjp = own


def _vjp_case(case: tuple) -> None:
    name, gf_fn, jax_fn, inputs, consts = case
    check_vjp(gf_fn, jax_fn, inputs, consts=consts, key=name)


def _fails(check: Callable[[], None]) -> bool:
    try:
        check()
    except AssertionError:
        return True
    return False


def test_discovery_sees_the_fused_ops():
    names = {cls.__name__ for cls in FUNCTIONS}
    assert {"Linear", "MatMul"} <= names, names


@pytest.mark.parametrize("cls", FUNCTIONS, ids=[_label(c) for c in FUNCTIONS])
def test_scaled_vjp_fails_its_oracle_case(cls):
    if cls.__name__ in EXEMPT:
        reason, check = EXEMPT[cls.__name__]
        check()
        with scaled_vjp(cls):
            assert _fails(check), f"{_label(cls)} ({reason}): its check misses a scaled vjp"
        return
    cases = cases_by_function().get(cls, [])
    if not cases:
        pytest.fail(f"{_label(cls)} defines vjp but no oracle case runs it: add a case to "
                    "tests/op_cases.py (or an entry with a reason and a check to EXEMPT)")
    broken, sound = [], []
    for case in cases:  # the first sound case that notices is enough
        if _fails(lambda case=case: _vjp_case(case)):
            broken.append(case[0])
            continue
        sound.append(case[0])
        with scaled_vjp(cls):
            if _fails(lambda case=case: _vjp_case(case)):
                return
    assert sound, (f"{_label(cls)}: every case that runs it fails even unmodified ({broken}); "
                   "see tests/test_ops_jax.py")
    pytest.fail(f"{_label(cls)}.vjp scaled by {SCALE} still passes its cases {sound}: add a "
                "case to tests/op_cases.py where its gradient is nonzero and reaches a "
                "differentiated input")


@pytest.mark.parametrize("own", [True, False], ids=["own_vjp", "inherited_vjp"])
def test_scaled_vjp_restores_the_class(own):
    cls = next((c for c in FUNCTIONS if ("vjp" in c.__dict__) == own), None)
    assert cls is not None, f"no Function {'defines' if own else 'inherits'} vjp to patch"
    before = cls.__dict__.get("vjp")
    with scaled_vjp(cls):
        assert cls.__dict__["vjp"] is not before
    assert cls.__dict__.get("vjp") is before
