"""The CUDA overrides against the generic kernels, run on the CPU through an emulation of CUDA.

The real override code (checks, launch geometry, reshapes, fallbacks) runs with NumPy as ``xp``;
the raw and elementwise kernel sources are compiled with g++ against ``cuda_emulator.EMU_H`` (one
OS thread per CUDA thread, barriers for ``__syncthreads`` and warp shuffles). This checks the
kernels' logic without a GPU; ``test_cuda_kernels.py`` checks the same on a real one.
"""

from __future__ import annotations

import shutil
import types

import cases
import numpy as np
import pytest

from gradflow.backends.base import KernelTable
from gradflow.kernels import generic_kernels
from gradflow.kernels.cuda import overrides

pytestmark = pytest.mark.skipif(shutil.which("g++") is None,
                                reason="the CUDA emulation needs g++ (C++20) to build its kernels")

DTYPES = [np.float32, np.float64]


@pytest.fixture(scope="module")
def libs(tmp_path_factory):
    import cuda_emulator

    return cuda_emulator.build(str(tmp_path_factory.mktemp("emu")))


@pytest.fixture
def tables(libs, monkeypatch):
    import cuda_emulator

    cuda_emulator.patch(monkeypatch, libs)
    backend = types.SimpleNamespace(xp=np, allow_tf32=False)
    generic = generic_kernels()
    return KernelTable(backend, generic, overrides(backend)), KernelTable(backend, generic, {})


@pytest.mark.parametrize("dtype", DTYPES)
def test_activations(tables, dtype):
    cases.check_activations(np, *tables, dtype)


def test_activation_fallbacks(tables):
    cases.check_activation_fallbacks(np, *tables)


@pytest.mark.parametrize("shape", cases.ROW_SHAPES + [(2, 3, 50)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax(tables, dtype, shape):
    cases.check_softmax(np, *tables, dtype, shape)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_edge_rows_and_fallbacks(tables, dtype):
    cases.check_softmax_edge_rows(np, *tables, dtype)
    cases.check_softmax_fallbacks(np, *tables, dtype)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("shape", [(7, 10), (3, 1), (9, 1024), (2, 2000)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy(tables, dtype, shape, smoothing):
    cases.check_cross_entropy(np, *tables, dtype, shape, smoothing)


def test_cross_entropy_int32_target(tables):
    cases.check_cross_entropy(np, *tables, np.float32, (5, 6), 0.2, np.int32)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape_k", cases.NORM_TAILS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm(tables, dtype, shape_k, affine):
    cases.check_layer_norm(np, *tables, dtype, *shape_k, affine)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", cases.BN_SHAPES_SMALL)
@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm(tables, dtype, shape, affine):
    cases.check_batch_norm(np, *tables, dtype, shape, affine)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_mask_same_stream_same_mask(tables, dtype):
    cases.check_dropout(np, *tables, dtype, lambda: np.random.default_rng(5))


@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizers_bitwise(tables, dtype):
    """No FMA on the host (like ``--fmad=false``): the fused updates equal the generic ones."""
    cases.check_sgd(np, *tables, dtype, exact=True)
    cases.check_adam(np, *tables, dtype, exact=True)
    cases.check_rmsprop(np, *tables, dtype, exact=True)
