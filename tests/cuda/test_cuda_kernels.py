"""CUDA kernels: every source compiles (nvcc, no GPU needed); every override matches the generic
kernel on a GPU (float32 and float64); a small network trains alike on the CPU and the GPU."""

from __future__ import annotations

import inspect
import shutil
import types

import cases
import numpy as np
import pytest

import gradflow as gf
from gradflow.backends.base import KernelTable
from gradflow.kernels import generic_kernels
from gradflow.kernels.cuda import overrides, sources

needs_gpu = pytest.mark.skipif(not gf.cuda.is_available(),
                               reason=f"needs a CUDA GPU: {gf.cuda.unavailable_reason()}")
DTYPES = [np.float32, np.float64]


# --- without a GPU --------------------------------------------------------------------------
def test_every_override_has_its_generic_kernels_signature():
    generic = generic_kernels()
    table = overrides(types.SimpleNamespace(xp=np, allow_tf32=False))
    assert {"relu", "softmax", "layer_norm_forward", "norm_backward", "batch_norm_train",
            "softmax_cross_entropy_indices", "dropout_mask", "adam_update", "matmul", "erf",
            "index_add"} <= set(table)
    for name, fn in table.items():
        want = list(inspect.signature(generic[name]).parameters.values())[1:]  # drop xp
        got = list(inspect.signature(fn).parameters.values())
        assert [(p.name, p.default) for p in got] == [(p.name, p.default) for p in want], name


def test_kernel_sources_are_module_level_strings():
    src = sources()
    assert src["raw"] and src["elementwise"]
    for name, code in src["raw"].items():
        assert 'extern "C" __global__' in code, name
    for name, spec in src["elementwise"].items():
        assert spec.in_params and spec.out_params and spec.operation, name


@pytest.mark.skipif(shutil.which("nvcc") is None,
                    reason="nvcc not found: the CUDA toolkit is needed to compile the kernels "
                           "without a GPU (the GPU tests compile them through CuPy instead)")
def test_kernel_sources_compile_for_sm90_with_nvcc():
    from cuda_compile_check import compile_nvcc

    results = compile_nvcc("90")
    failed = {k: v for k, v in results.items() if v}
    assert not failed, "\n".join(f"--- {k}\n{v[:3000]}" for k, v in failed.items())


# --- on a GPU -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gpu():
    if not gf.cuda.is_available():
        pytest.skip(f"needs a CUDA GPU: {gf.cuda.unavailable_reason()}")
    backend = gf.get_backend("cuda")
    return backend.xp, backend.k, KernelTable(backend, generic_kernels(), {})


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_activations_gpu(gpu, dtype):
    cases.check_activations(*gpu, dtype)


@needs_gpu
def test_activation_fallbacks_gpu(gpu):
    cases.check_activation_fallbacks(*gpu)


@needs_gpu
@pytest.mark.parametrize("shape", cases.ROW_SHAPES + [(2, 3, 50), (64, 10), (8192, 4096)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_gpu(gpu, dtype, shape):
    cases.check_softmax(*gpu, dtype, shape)


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_edge_rows_and_fallbacks_gpu(gpu, dtype):
    cases.check_softmax_edge_rows(*gpu, dtype)
    cases.check_softmax_fallbacks(*gpu, dtype)


@needs_gpu
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("shape", [(7, 10), (3, 1), (9, 1024), (2, 2000), (8192, 1000)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_gpu(gpu, dtype, shape, smoothing):
    cases.check_cross_entropy(*gpu, dtype, shape, smoothing)


@needs_gpu
def test_cross_entropy_int32_target_gpu(gpu):
    cases.check_cross_entropy(*gpu, np.float32, (5, 6), 0.2, np.int32)


@needs_gpu
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape_k", cases.NORM_TAILS + [((4096, 1024), 1)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_gpu(gpu, dtype, shape_k, affine):
    cases.check_layer_norm(*gpu, dtype, *shape_k, affine)


@needs_gpu
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", cases.BN_SHAPES + [(8192, 4096), (65536, 10)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_gpu(gpu, dtype, shape, affine):
    cases.check_batch_norm(*gpu, dtype, shape, affine)


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_mask_gpu(gpu, dtype):
    xp = gpu[0]
    cases.check_dropout(*gpu, dtype, lambda: xp.random.default_rng(5))


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizer_updates_gpu_bitwise(gpu, dtype):
    """Compiled with --fmad=false, the fused updates repeat the generic kernels' roundings."""
    cases.check_sgd(*gpu, dtype, exact=True)
    cases.check_adam(*gpu, dtype, exact=True)
    cases.check_rmsprop(*gpu, dtype, exact=True)


@needs_gpu
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_erf_gpu_matches_scipy_in_the_input_dtype(gpu, dtype):
    from scipy.special import erf

    xp, fused, _ = gpu
    x = np.linspace(-4, 4, 101).astype(dtype)
    got = fused.erf(xp.asarray(x))
    kw = dict(rtol=1e-3, atol=1e-3) if dtype == np.float16 else cases.tol(dtype)
    cases.close(xp, got, erf(x).astype(dtype), dtype, **kw)


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_index_add_gpu_accumulates_repeated_indices(gpu, dtype):
    xp, fused, _ = gpu
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 5, 40)
    g = rng.standard_normal((40, 3)).astype(dtype)
    want = np.zeros((5, 3), dtype)
    np.add.at(want, rows, g)
    r = xp.asarray(rows)
    for index in (r, (r,), (r, slice(None))):
        cases.close(xp, fused.index_add(xp.asarray(g), (5, 3), index), want, dtype, scaled=True)
    mask = np.arange(15).reshape(5, 3) % 4 == 0
    vals = rng.standard_normal(int(mask.sum())).astype(dtype)
    want = np.zeros((5, 3), dtype)
    want[mask] = vals
    cases.close(xp, fused.index_add(xp.asarray(vals), (5, 3), xp.asarray(mask)), want, dtype)
    cases.close(xp, fused.index_add(xp.asarray(g[:2]), (5, 3), slice(1, 3)),
                np.pad(g[:2], ((1, 2), (0, 0))), dtype)


@needs_gpu
def test_small_network_trains_alike_on_cpu_and_gpu():
    """Linear → LayerNorm → GELU → Linear → BatchNorm1d → ReLU → Linear, cross-entropy with
    label smoothing, Adam: every fused kernel family in one training loop."""
    from gradflow import nn, optim

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 20)).astype(np.float32)
    y = rng.integers(0, 5, 64)
    models = []
    for device in ("cpu", "cuda"):
        gf.manual_seed(0)
        model = nn.Sequential(nn.Linear(20, 32), nn.LayerNorm(32), nn.GELU(), nn.Linear(32, 16),
                              nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 5)).to(device)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        xt, yt = gf.tensor(x, device=device), gf.tensor(y, device=device)
        for _ in range(5):
            opt.zero_grad()
            loss = gf.functional.cross_entropy(model(xt), yt, label_smoothing=0.1)
            loss.backward()
            opt.step()
        models.append(model)
    for (name, pc), (_, pg) in zip(models[0].named_parameters(), models[1].named_parameters()):
        np.testing.assert_allclose(pg.numpy(), pc.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
