"""The fused-or-generic dispatch of the CUDA overrides, on the CPU (no CuPy, no GPU).

``_common.fused`` / ``Overrides`` build each override once: the fused kernel where its ``fits``
predicate holds, else the generic kernel bound to the backend's ``xp``, with the generic kernel's
exact signature. Here the fused kernels are fakes or NumPy stand-ins, so what is checked is the
routing, the signature checks, the TF32 switch read from the backend, and the erf and index_add
overrides' wiring (with SciPy's erf and NumPy's ``add.at`` standing in for CuPy's).
"""

from __future__ import annotations

import inspect
import types

import numpy as np
import pytest

from gradflow.kernels import generic_kernels
from gradflow.kernels.cuda import _common, overrides
from gradflow.kernels.cuda import elementwise as cuda_elementwise
from gradflow.kernels.cuda import matmul as cuda_matmul


def _generic_scale(xp, x, factor=2.0, *, tag="generic"):
    return ("generic", xp.__name__, x * factor, tag)


def _fake_backend(allow_tf32: bool = False):
    return types.SimpleNamespace(xp=np, allow_tf32=allow_tf32)


def _scale_kernel(calls):
    def fast(x, factor=2.0, *, tag="generic"):
        calls.append(("fast", factor, tag))
        return ("fast", x * factor, tag)

    def fits(x, factor=2.0, *, tag="generic"):
        calls.append(("fits", factor, tag))
        return x.dtype == np.float32

    return _common.fused(np, _generic_scale, fast, fits)


def test_fused_runs_the_fused_kernel_where_it_fits_and_the_generic_one_elsewhere():
    calls = []
    kernel = _scale_kernel(calls)
    x32, x64 = np.ones(3, np.float32), np.ones(3, np.float64)
    assert kernel(x32)[0] == "fast"
    assert calls == [("fits", 2.0, "generic"), ("fast", 2.0, "generic")]
    calls.clear()
    out = kernel(x64, 3.0, tag="t")
    assert out[:2] == ("generic", "numpy") and out[3] == "t"
    np.testing.assert_array_equal(out[2], 3 * x64)
    assert calls == [("fits", 3.0, "t")]      # the fused kernel never ran
    calls.clear()
    kernel(x=x32, factor=5.0)                  # keywords reach both, defaults fill the rest
    assert calls == [("fits", 5.0, "generic"), ("fast", 5.0, "generic")]


def test_fused_kernel_has_the_generic_signature_without_xp():
    kernel = _scale_kernel([])
    assert inspect.signature(kernel) == _common.kernel_signature(_generic_scale)
    assert list(inspect.signature(kernel).parameters) == ["x", "factor", "tag"]
    assert kernel.__name__ == "_generic_scale" and kernel.generic is _generic_scale


@pytest.mark.parametrize("role, fast, fits", [
    ("fused kernel", lambda x, factor=3.0, *, tag="generic": x, lambda x, factor=2.0, *,
     tag="generic": True),
    ("fits predicate", lambda x, factor=2.0, *, tag="generic": x, lambda x, factor=2.0: True),
    ("fits predicate", lambda x, factor=2.0, *, tag="generic": x, lambda *a, **k: True),
])
def test_fused_rejects_a_parameter_list_other_than_the_generic_kernels(role, fast, fits):
    with pytest.raises(TypeError, match=f"'_generic_scale': the {role} takes"):
        _common.fused(np, _generic_scale, fast, fits)


def test_overrides_table_names_generic_kernels_only_and_checks_replacements():
    table = _common.Overrides(_fake_backend(), {"scale": _generic_scale})
    with pytest.raises(KeyError, match="'warp' replaces no generic kernel"):
        @table.fused(fits=lambda x: True)
        def warp(x):
            return x

    with pytest.raises(TypeError, match="'scale': the override takes"):
        @table.replace
        def scale(x, factor=2.0):   # the kernel's name, but not its parameters
            return x

    @table.replace
    def scale(x, factor=2.0, *, tag="generic"):  # noqa: F811
        return "replaced"

    assert table.kernels["scale"](1) == "replaced"
    assert table.generic("scale") is _generic_scale


def test_floats_wants_one_float32_or_float64_dtype():
    f32, f64 = np.zeros(2, np.float32), np.zeros(2, np.float64)
    assert _common.floats(f32) and _common.floats(f64, None, f64)
    assert not _common.floats(f32, f64)
    assert not _common.floats(np.zeros(2, np.float16)) and not _common.floats(np.arange(3))
    assert not _common.floats(None)


# --- the real tables ------------------------------------------------------------------------
@pytest.fixture
def cuda_table(monkeypatch):
    """The CUDA overrides over NumPy, with every CUDA kernel builder made to fail: a call that
    reaches a fused kernel raises, one that falls back to the generic kernel runs."""
    from gradflow.kernels.cuda import loss, normalization, optim, softmax

    def no_cuda(*args, **kwargs):
        raise AssertionError("a fused CUDA kernel was built")

    for mod in (softmax, loss, normalization):
        monkeypatch.setattr(mod, "raw", no_cuda)
    for mod in (cuda_elementwise, loss, optim):
        monkeypatch.setattr(mod, "elementwise", no_cuda)
    return overrides(_fake_backend())


def test_every_fused_override_keeps_its_generic_kernel_and_signature(cuda_table):
    generic = generic_kernels()
    # always their own code: nothing to fall back to (gelu: the generic one needs host SciPy)
    plain = {"erf", "matmul", "linear", "gelu", "gelu_backward"}
    for name, kernel in cuda_table.items():
        assert inspect.signature(kernel) == _common.kernel_signature(generic[name]), name
        if name in plain:
            assert not hasattr(kernel, "fits"), name
        else:
            assert kernel.generic is generic[name], name


def test_fits_predicates_accept_exactly_the_layouts_the_fused_kernels_handle(cuda_table):
    k = cuda_table
    x = np.ones((4, 6), np.float32)
    assert k["softmax"].fits(x) and k["softmax"].fits(x, 1) and k["log_softmax"].fits(x, -1)
    assert not k["softmax"].fits(x, 0)                  # another axis
    assert not k["softmax"].fits(x.T)                   # not C-contiguous
    assert not k["softmax"].fits(x.astype(np.float16))  # another dtype
    assert not k["softmax"].fits(np.ones((0, 6), np.float32))
    assert k["softmax_backward"].fits(x, x) and not k["softmax_backward"].fits(x, x[:2])
    assert not k["softmax_backward"].fits(x.astype(np.float64), x)
    assert k["relu"].fits(x) and not k["relu"].fits(np.arange(3))
    assert k["relu_backward"].fits(x, x) and not k["relu_backward"].fits(x, x.astype(np.float64))
    assert k["dropout_mask"].fits(None, (2,), 0.5, "float64")
    assert not k["dropout_mask"].fits(None, (2,), 0.5, "float16")
    t = np.zeros(4, np.int64)
    assert k["softmax_cross_entropy_indices"].fits(x, t, 0.1)
    assert not k["softmax_cross_entropy_indices"].fits(x, t.astype(np.float32))
    assert not k["softmax_cross_entropy_indices"].fits(x.reshape(2, 2, 6), t[:2])
    w = np.ones(6, np.float32)
    assert k["layer_norm_forward"].fits(x, w, w, 1e-5, (1,))
    assert not k["layer_norm_forward"].fits(x, w, w, 1e-5, (0,))
    assert not k["layer_norm_forward"].fits(x, w.astype(np.float64), None, 1e-5, (1,))
    assert k["batch_norm_train"].fits(x, w[None], None, 1e-5, (0,))
    assert not k["batch_norm_train"].fits(x[:, :, None], None, None, 1e-5, (0, 2))
    rstd_bn, rstd_ln = np.ones((1, 6), np.float32), np.ones((4, 1), np.float32)
    assert k["norm_backward"].fits(x, x, rstd_bn, w[None], (0,), (0,))
    assert k["norm_backward"].fits(x, x, rstd_ln, w, (1,), (0,))
    assert not k["norm_backward"].fits(x, x, rstd_ln.astype(np.float64), w, (1,), (0,))
    assert not k["norm_backward"].fits(x, x, rstd_bn, w, (1,), (0,))   # rstd of the wrong size
    p = np.ones(3, np.float32)
    assert k["sgd_update"].fits(p, p, None, 0.1, 0.0, 0.0, False, 0.0, True)
    assert not k["sgd_update"].fits(p, p, None, 0.1, 0.9, 0.0, False, 0.0, True)   # no buffer
    assert not k["adam_update"].fits(p, p, p, p.astype(np.float64), None, 1e-3, 0.9, 0.999,
                                     1e-8, 0.0, 1, False)


def test_inputs_that_do_not_fit_reach_the_generic_kernel(cuda_table):
    k, ref = cuda_table, generic_kernels()
    x = np.random.default_rng(0).standard_normal((5, 4, 3))
    np.testing.assert_array_equal(k["softmax"](x, 0), ref["softmax"](np, x, 0))
    np.testing.assert_array_equal(k["log_softmax"](x.transpose(2, 1, 0)),
                                  ref["log_softmax"](np, x.transpose(2, 1, 0)))
    xi = np.arange(-3, 3)
    np.testing.assert_array_equal(k["relu"](xi), ref["relu"](np, xi))
    out = k["layer_norm_forward"](x, None, None, 1e-5, (0,))
    for a, b in zip(out, ref["layer_norm_forward"](np, x, None, None, 1e-5, (0,))):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(AssertionError, match="fused CUDA kernel was built"):
        k["softmax"](x, -1)   # this one fits: it goes for the (here unbuildable) fused kernel


def test_matmul_hands_the_backends_tf32_switch_to_cupy_only_when_it_changes(monkeypatch):
    handed = []
    monkeypatch.setattr(cuda_matmul, "apply_tf32", handed.append)
    monkeypatch.setattr(cuda_matmul, "_APPLIED", [None])
    backend = _fake_backend()
    k = overrides(backend)
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(k["matmul"](a, a.T), a @ a.T)
    k["matmul"](a, a.T)
    backend.allow_tf32 = True
    np.testing.assert_array_equal(k["linear"](a, a, np.ones(2)), a @ a.T + 1)
    k["matmul"](a, a.T)
    other = _fake_backend(allow_tf32=False)   # a second GPU's backend with its own switch
    overrides(other)["matmul"](a, a.T)
    assert handed == [False, True, False]


def test_erf_override_uses_cupyx_erf_in_the_input_dtype(monkeypatch):
    from scipy.special import erf

    seen = []

    def cupyx_erf(a):   # stands in for cupyx.scipy.special.erf (float16 computed in float32)
        seen.append(a.dtype)
        return erf(a.astype(np.float32) if a.dtype == np.float16 else a)

    monkeypatch.setattr(cuda_elementwise, "_special_erf", lambda: cupyx_erf)
    k = overrides(_fake_backend())
    for dtype in (np.float16, np.float32, np.float64):
        x = np.linspace(-2, 2, 9).astype(dtype)
        got = k["erf"](x)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, erf(x.astype(np.float64)), rtol=2e-3, atol=1e-3)
    assert seen == [np.float16, np.float32, np.float64]


def test_index_add_override_accumulates_repeatable_indices_and_leaves_the_rest_generic(
        monkeypatch):
    from gradflow.kernels.cuda import shape

    monkeypatch.setattr(shape, "_scatter_add", lambda: np.add.at)   # cupyx.scatter_add's twin
    k = overrides(_fake_backend())["index_add"]
    g = np.arange(1.0, 5.0)
    np.testing.assert_array_equal(k(g, (3,), (np.array([0, 2, 0, 0]),)), [8.0, 0.0, 2.0])
    np.testing.assert_array_equal(k(g, (3,), np.array([2, 2, 2, 1])), [0.0, 4.0, 6.0])
    mask = np.array([True, False, True, True, True, False])
    np.testing.assert_array_equal(k(g, (6,), mask), [1, 0, 2, 3, 4, 0])
    assert k.fits(g, (3,), (np.array([0]),)) and k.fits(g, (4, 6), (np.array([0]), mask))
    assert not k.fits(g, (6,), slice(1, 5)) and not k.fits(g, (2, 6), (1, Ellipsis))
    assert not k.fits(g, (6,), mask)   # a mask selects each element once: one assignment
    np.testing.assert_array_equal(k(g, (6,), slice(1, 5)), [0, 1, 2, 3, 4, 0])
